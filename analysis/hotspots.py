"""Latency hotspots: per (service, operation), time on the critical path, self time and latency
percentiles across traces; with a baseline window, which operations grew and which attributes are
over-represented in the slow traces (the idea of Honeycomb's BubbleUp).

Shaped as a per-trace step and an associative merge, so partitions of traces can be reduced apart:

>>> from spanscope.collectors.model import Span, Trace
>>> tid = "5759e988bd862e3fe1be46a994272793"
>>> t = Trace(tid, [
...     Span(tid, "a" * 16, None, "api", "GET /", start_ns=0, end_ns=100),
...     Span(tid, "b" * 16, "a" * 16, "db", "query", start_ns=10, end_ns=90),
... ])
>>> [(h.service, h.operation, h.critical_path_ns, h.self_ns, h.count) for h in hotspots([t, t])]
[('db', 'query', 160, 160, 2), ('api', 'GET /', 40, 40, 2)]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from spanscope.analysis.critical_path import critical_path_nodes
from spanscope.analysis.stats import percentile, percentiles
from spanscope.collectors.model import Trace

__all__ = [
    "AttributeSkew",
    "BaselineComparison",
    "Hotspot",
    "HotspotGrowth",
    "HotspotsPartial",
    "compare_with_baseline",
    "hotspots",
    "hotspots_partial",
    "merge_hotspots",
]

OpKey = tuple[str, str]
MAX_PAIRS_PER_TRACE = 64
MAX_VALUE_CHARS = 80
MAX_DISTINCT_VALUES = 50


@dataclass(slots=True)
class _OpAcc:
    critical_path_ns: int = 0
    self_ns: int = 0
    count: int = 0
    durations: list[int] = field(default_factory=list)


@dataclass(slots=True)
class HotspotsPartial:
    """Per-trace (or merged) state of :func:`hotspots`. ``merge`` is associative."""

    ops: dict[OpKey, _OpAcc] = field(default_factory=dict)
    traces: int = 0
    # (trace duration, attribute pairs) per trace, only when collect_attributes was asked for
    trace_attrs: list[tuple[int, frozenset[tuple[str, str]]]] = field(default_factory=list)

    def merge(self, other: HotspotsPartial) -> HotspotsPartial:
        ops = self.ops
        for key, acc in other.ops.items():
            mine = ops.get(key)
            if mine is None:
                ops[key] = _OpAcc(acc.critical_path_ns, acc.self_ns, acc.count, list(acc.durations))
            else:
                mine.critical_path_ns += acc.critical_path_ns
                mine.self_ns += acc.self_ns
                mine.count += acc.count
                mine.durations.extend(acc.durations)
        self.traces += other.traces
        self.trace_attrs.extend(other.trace_attrs)
        return self


@dataclass(frozen=True, slots=True)
class Hotspot:
    """One (service, operation) across traces. Times in nanoseconds."""

    service: str
    operation: str
    critical_path_ns: int
    self_ns: int
    count: int
    p50_ns: int
    p95_ns: int
    p99_ns: int


def hotspots_partial(
    trace: Trace, *, overlap_tolerance: float = 0.01, collect_attributes: bool = False
) -> HotspotsPartial:
    """The per-trace step of :func:`hotspots`."""
    part = HotspotsPartial(traces=1)
    add_trace_to(part, trace, overlap_tolerance=overlap_tolerance, collect_attributes=collect_attributes)
    return part


def add_trace_to(
    part: HotspotsPartial, trace: Trace, *, overlap_tolerance: float = 0.01, collect_attributes: bool = False
) -> None:
    """Fold one trace into ``part`` in place (the same as merging its :func:`hotspots_partial`)."""
    spans = trace.spans
    ops = part.ops
    keys: list[OpKey | None] = [None] * len(spans)
    dropped = set(trace.duplicates) if trace.duplicates else None
    children = trace.children
    for i, span in enumerate(spans):
        if dropped is not None and i in dropped:
            continue
        key = (span.service, span.name)
        keys[i] = key
        start = span.start_ns
        end = span.end_ns
        dur = end - start if end > start else 0
        covered = 0
        kids = children(i)
        if kids:
            cur_s = cur_e = start
            for c in kids:  # ordered by start: a linear union of the clamped child intervals
                cs = spans[c]
                s = cs.start_ns if cs.start_ns > start else start
                e = cs.end_ns if cs.end_ns < end else end
                if e <= s:
                    continue
                if s > cur_e:
                    covered += cur_e - cur_s
                    cur_s, cur_e = s, e
                elif e > cur_e:
                    cur_e = e
            covered += cur_e - cur_s
        acc = ops.get(key)
        if acc is None:
            acc = ops[key] = _OpAcc()
        acc.self_ns += dur - covered
        acc.count += 1
        acc.durations.append(dur)
    for node, s, e in critical_path_nodes(trace, overlap_tolerance=overlap_tolerance):
        k = keys[node]
        if k is not None:
            ops[k].critical_path_ns += e - s
    if collect_attributes:
        part.trace_attrs.append((max(0, trace.end_ns - trace.start_ns), _attribute_pairs(trace)))


def _attribute_pairs(trace: Trace) -> frozenset[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    for span in trace.spans:
        for source in (span.attributes, span.annotations):
            for key, value in source.items():
                if isinstance(value, bool | int | str) and not (
                    isinstance(value, str) and len(value) > MAX_VALUE_CHARS
                ):
                    pairs.add((key, str(value)))
        pairs.add(("service.name", span.service))
        if len(pairs) >= MAX_PAIRS_PER_TRACE:
            break
    return frozenset(pairs)


def _ranked(part: HotspotsPartial) -> list[Hotspot]:
    out = []
    for (service, operation), acc in part.ops.items():
        p50, p95, p99 = percentiles(acc.durations, (0.5, 0.95, 0.99))
        out.append(
            Hotspot(service, operation, acc.critical_path_ns, acc.self_ns, acc.count, int(p50), int(p95), int(p99))
        )
    out.sort(key=lambda h: (-h.critical_path_ns, -h.self_ns, h.service, h.operation))
    return out


def merge_hotspots(partials: Iterable[HotspotsPartial]) -> list[Hotspot]:
    """The merge step: hotspots ranked by time on the critical path, largest first."""
    total = HotspotsPartial()
    for part in partials:
        total.merge(part)
    return _ranked(total)


def hotspots(traces: Iterable[Trace], *, overlap_tolerance: float = 0.01) -> list[Hotspot]:
    """Latency hotspots across ``traces``, ranked by critical-path contribution."""
    total = HotspotsPartial()
    for trace in traces:
        total.traces += 1
        add_trace_to(total, trace, overlap_tolerance=overlap_tolerance)
    return _ranked(total)


# --- baseline comparison -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HotspotGrowth:
    """Critical-path time per trace of one operation, now and in the baseline window (ns)."""

    service: str
    operation: str
    critical_path_per_trace_ns: float
    baseline_per_trace_ns: float

    @property
    def growth_ns(self) -> float:
        return self.critical_path_per_trace_ns - self.baseline_per_trace_ns


@dataclass(frozen=True, slots=True)
class AttributeSkew:
    """An attribute value and the share of slow traces vs baseline traces that carry it."""

    key: str
    value: str
    slow_share: float
    baseline_share: float

    @property
    def lift(self) -> float:
        return self.slow_share - self.baseline_share


@dataclass(frozen=True, slots=True)
class BaselineComparison:
    growth: list[HotspotGrowth]
    attributes: list[AttributeSkew]
    slow_threshold_ns: int
    slow_traces: int
    baseline_traces: int


def compare_with_baseline(current: HotspotsPartial, baseline: HotspotsPartial, *, top: int = 20) -> BaselineComparison:
    """Which operations' critical-path time per trace grew most, and which attribute values are
    over-represented in the slow current traces (slower than the baseline's p95) compared with
    the baseline traces. Both partials need ``collect_attributes=True`` for the attribute part.

    Per-trace figures divide by ``HotspotsPartial.traces``: a partial with operations but no traces
    counted (``add_trace_to`` does not count) raises ValueError rather than report window totals.
    """
    for name, part in (("current", current), ("baseline", baseline)):
        if part.ops and part.traces < 1:
            raise ValueError(f"the {name} partial holds operations but counts no traces (set HotspotsPartial.traces)")
    n_cur = max(1, current.traces)
    n_base = max(1, baseline.traces)
    growth = []
    for key in set(current.ops) | set(baseline.ops):
        cur = current.ops.get(key)
        base = baseline.ops.get(key)
        growth.append(
            HotspotGrowth(
                key[0],
                key[1],
                (cur.critical_path_ns if cur else 0) / n_cur,
                (base.critical_path_ns if base else 0) / n_base,
            )
        )
    growth.sort(key=lambda g: (-g.growth_ns, g.service, g.operation))
    growth = [g for g in growth if g.growth_ns > 0][:top]

    threshold = int(percentile([d for d, _ in baseline.trace_attrs], 0.95)) if baseline.trace_attrs else 0
    slow = [pairs for d, pairs in current.trace_attrs if d > threshold]
    base_sets = [pairs for _, pairs in baseline.trace_attrs]
    attributes: list[AttributeSkew] = []
    if slow and base_sets:
        slow_counts = _count_pairs(slow)
        base_counts = _count_pairs(base_sets)
        distinct: dict[str, int] = {}
        for attr, _value in set(slow_counts) | set(base_counts):
            distinct[attr] = distinct.get(attr, 0) + 1
        for (attr, value), n in slow_counts.items():
            if distinct[attr] > MAX_DISTINCT_VALUES:
                continue  # ids and timestamps: every value is rare, none explains anything
            skew = AttributeSkew(attr, value, n / len(slow), base_counts.get((attr, value), 0) / len(base_sets))
            if skew.lift > 0:
                attributes.append(skew)
        attributes.sort(key=lambda a: (-a.lift, a.key, a.value))
    return BaselineComparison(growth, attributes[:top], threshold, len(slow), len(base_sets))


def _count_pairs(sets: list[frozenset[tuple[str, str]]]) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for pairs in sets:
        for pair in pairs:
            counts[pair] = counts.get(pair, 0) + 1
    return counts
