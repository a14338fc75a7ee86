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

from spanscope.analysis.cold_starts import INITIALIZATION, cold_children, initialization_ns, split_initialization
from spanscope.analysis.critical_path import critical_path_nodes
from spanscope.analysis.stats import PercentileMode, Quantiles, percentile
from spanscope.analysis.trace_tree import Kids, children_of
from spanscope.collectors import conventions as cv
from spanscope.collectors.model import Trace

__all__ = [
    "AttributeSkew",
    "BaselineComparison",
    "Hotspot",
    "HotspotGrowth",
    "HotspotsPartial",
    "add_own_path",
    "add_path_credit",
    "add_trace_to",
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
    durations: Quantiles = field(default_factory=Quantiles)


@dataclass(slots=True)
class HotspotsPartial:
    """Per-trace (or merged) state of :func:`hotspots`. ``merge`` is associative. ``percentiles`` chooses
    exact percentiles, DDSketch estimates, or ``auto`` (see ``spanscope.analysis.stats.Quantiles``)."""

    ops: dict[OpKey, _OpAcc] = field(default_factory=dict)
    traces: int = 0
    # (trace duration, attribute pairs) per trace, only when collect_attributes was asked for
    trace_attrs: list[tuple[int, frozenset[tuple[str, str]]]] = field(default_factory=list)
    percentiles: PercentileMode = "auto"

    def merge(self, other: HotspotsPartial) -> HotspotsPartial:
        ops = self.ops
        for key, acc in other.ops.items():
            mine = ops.get(key)
            if mine is None:
                ops[key] = _OpAcc(
                    acc.critical_path_ns, acc.self_ns, acc.count, Quantiles(self.percentiles).merge(acc.durations)
                )
            else:
                mine.critical_path_ns += acc.critical_path_ns
                mine.self_ns += acc.self_ns
                mine.count += acc.count
                mine.durations.merge(acc.durations)
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
    part: HotspotsPartial,
    trace: Trace,
    *,
    overlap_tolerance: float = 0.01,
    collect_attributes: bool = False,
    credit_path: bool = True,
    kids: Kids | None = None,
    maybe_cold: bool = True,
) -> bool:
    """Fold one trace into ``part`` in place (the same as merging its :func:`hotspots_partial`).

    A recorded cold start's ``Initialization`` (the gap before the function's span that its init
    explains) is counted under the function as ``(function, "Initialization")``, never as the caller's
    self or critical-path time. ``credit_path=False`` leaves the critical path out (a linked trace whose
    time is credited through its workflow's end-to-end path). Returns whether some span outlives its
    parent: asynchronous work whose end-to-end path goes on after the caller returned. ``kids``: the
    trace's children lists when the caller read them already (``trace_tree.children_lists``).
    ``maybe_cold=False``: the caller knows no span carries ``faas.coldstart`` (``trace_tree.scan_trace``).
    """
    spans = trace.spans
    ops = part.ops
    keys: list[OpKey | None] = [None] * len(spans)
    dropped = set(trace.duplicates) if trace.duplicates else None
    children = children_of(trace, kids)
    outlives = False
    cold_nodes: list[int] = []
    cold_key = cv.FAAS_COLDSTART if maybe_cold else None
    for i, span in enumerate(spans):
        if dropped is not None and i in dropped:
            continue
        key = (span.service, span.name)
        keys[i] = key
        start = span.start_ns
        end = span.end_ns
        dur = end - start if end > start else 0
        covered = 0
        own_kids = children(i)
        if own_kids:
            cur_s = cur_e = start
            for c in own_kids:  # ordered by start: a linear union of the clamped child intervals
                cs = spans[c]
                e = cs.end_ns
                if e > end:
                    outlives = True
                    e = end
                s = cs.start_ns if cs.start_ns > start else start
                if e <= s:
                    continue
                if s > cur_e:
                    covered += cur_e - cur_s
                    cur_s, cur_e = s, e
                elif e > cur_e:
                    cur_e = e
            covered += cur_e - cur_s
        if cold_key is not None and cold_key in span.attributes:
            cold_nodes.append(i)
        acc = ops.get(key)
        if acc is None:
            acc = ops[key] = _OpAcc(durations=Quantiles(part.percentiles))
        acc.self_ns += dur - covered
        acc.count += 1
        acc.durations.add(dur)
    cold = cold_children(trace, cold_nodes) if cold_nodes else None
    if cold:
        _move_initialization(part, trace, keys, cold)
    if credit_path:
        _credit_path(part, trace, keys, cold, overlap_tolerance, kids)
    if collect_attributes:
        part.trace_attrs.append((max(0, trace.end_ns - trace.start_ns), _attribute_pairs(trace)))
    return outlives


def _credit_path(
    part: HotspotsPartial,
    trace: Trace,
    keys: list[OpKey | None],
    cold: dict[tuple[int, int], int] | None,
    overlap_tolerance: float,
    kids: Kids | None = None,
) -> None:
    spans = trace.spans
    nodes = critical_path_nodes(trace, overlap_tolerance=overlap_tolerance, kids=kids)
    if cold:
        for node, s, e, init in split_initialization(trace, nodes, cold):
            k = (spans[node].service, INITIALIZATION) if init else keys[node]
            if k is not None:
                _acc(part, k).critical_path_ns += e - s
    else:
        ops = part.ops
        for node, s, e in nodes:
            k = keys[node]
            if k is not None:
                acc = ops.get(k)  # folded just before (the common case): no call
                (acc if acc is not None else _acc(part, k)).critical_path_ns += e - s


def add_own_path(part: HotspotsPartial, trace: Trace, *, overlap_tolerance: float = 0.01) -> None:
    """Only the critical-path credit of one trace (for a trace folded earlier with ``credit_path=False``)."""
    dropped = set(trace.duplicates)
    keys: list[OpKey | None] = [None if i in dropped else (s.service, s.name) for i, s in enumerate(trace.spans)]
    _credit_path(part, trace, keys, cold_children(trace), overlap_tolerance)


def _acc(part: HotspotsPartial, key: OpKey) -> _OpAcc:
    acc = part.ops.get(key)
    if acc is None:
        acc = part.ops[key] = _OpAcc(durations=Quantiles(part.percentiles))
    return acc


def _move_initialization(
    part: HotspotsPartial, trace: Trace, keys: list[OpKey | None], cold: dict[tuple[int, int], int]
) -> None:
    """The caller's self time just before a cold-started callee, up to its init duration, becomes the
    callee's ``Initialization``."""
    spans = trace.spans
    for (p, c_start), c in cold.items():
        pk = keys[p]
        if pk is None:
            continue
        prev_end = spans[p].start_ns
        for k in trace.children(p):
            e = spans[k].end_ns
            if k != c and prev_end < e <= c_start:
                prev_end = e
        piece = min(initialization_ns(spans[c]), c_start - prev_end)
        if piece <= 0:
            continue
        part.ops[pk].self_ns -= piece
        init = _acc(part, (spans[c].service, INITIALIZATION))
        init.self_ns += piece
        init.count += 1
        init.durations.add(piece)


def add_path_credit(part: HotspotsPartial, credits: dict[OpKey, int]) -> None:
    """Add (or, negative, take back) critical-path nanoseconds per operation: the time linked or
    asynchronous work spends on a workflow's end-to-end path after its entry returned."""
    for key, ns in credits.items():
        if ns:
            _acc(part, key).critical_path_ns += ns


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
        p50, p95, p99 = acc.durations.quantiles((0.5, 0.95, 0.99))
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
