"""Stragglers in fan-out: siblings far slower than their group's median by a robust measure.

A fan-out group is the children of one parent that share a (service, operation), at least
``min_group`` of them: Batch array jobs, MapReduce map or reduce tasks, HPC ranks of one step. A
member is a straggler when its modified z-score ``0.6745 · (x − median) / MAD`` exceeds
``threshold`` (Iglewicz and Hoaglin's 3.5); when the MAD is zero, when it exceeds the median by half.
For tightly coupled (HPC) ranks every rank waits at the barrier, so their compute time
(``spanscope.hpc.compute_ns``) is measured rather than the span duration. Input size
(``spanscope.input.bytes``/``records``, ``mapreduce.records.in``) explains a straggler when its input
grew at least half as much, relative to the median, as its time did.

>>> from spanscope.collectors.model import Span, Trace
>>> tid = "5759e988bd862e3fe1be46a994272793"
>>> kids = [Span(tid, f"{i + 2:016x}", "1" * 16, "emr", "map", start_ns=0, end_ns=d)
...         for i, d in enumerate([100, 101, 99, 100, 102, 400])]
>>> t = Trace(tid, [Span(tid, "1" * 16, None, "emr", "job", start_ns=0, end_ns=400), *kids])
>>> [(s.operation, s.value_ns, s.median_ns, s.lost_ns) for s in stragglers([t])]
[('map', 400, 100.5, 298)]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from spanscope.analysis.stats import mad, median
from spanscope.analysis.trace_tree import Kids
from spanscope.collectors import conventions as cv
from spanscope.collectors.model import Span, Trace

__all__ = ["Straggler", "StragglersPartial", "merge_stragglers", "stragglers", "stragglers_partial"]

INPUT_KEYS = (cv.INPUT_BYTES, cv.INPUT_RECORDS, cv.MR_RECORDS_IN)
LABEL_KEYS = (cv.HPC_RANK, cv.BATCH_ARRAY_INDEX, cv.MR_TASK_ID)


@dataclass(frozen=True, slots=True)
class Straggler:
    """One slow member of a fan-out group. ``value_ns`` is its duration (HPC: its compute time)."""

    trace_id: str
    span_id: str
    parent_service: str
    parent_operation: str
    service: str
    operation: str
    label: str  # rank, array index or task id when known
    value_ns: int
    median_ns: float
    mad_ns: float
    score: float
    siblings: int
    lost_ns: int  # how much later the group finished because of its stragglers (shared by them)
    measure: str  # "duration" or "compute"
    input_ratio: float | None  # its input size over the group's median input size
    explained_by_input: bool | None  # None: no input size recorded

    @property
    def excess_ns(self) -> float:
        return self.value_ns - self.median_ns


@dataclass(slots=True)
class StragglersPartial:
    """Per-trace (or merged) stragglers; ``merge`` is associative (concatenation)."""

    items: list[Straggler] = field(default_factory=list)

    def merge(self, other: StragglersPartial) -> StragglersPartial:
        self.items.extend(other.items)
        return self


def _number(span: Span, keys: tuple[str, ...]) -> float | None:
    for key in keys:
        value = span.attributes.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def stragglers_partial(
    trace: Trace, *, min_group: int = 5, threshold: float = 3.5, kids: Kids | None = None
) -> StragglersPartial:
    """The per-trace step of :func:`stragglers` (``kids``: the trace's children lists, if read already)."""
    part = StragglersPartial()
    spans = trace.spans
    if len(spans) <= min_group:  # no parent can have min_group children
        return part
    lists = kids if kids is not None else [trace.children(i) for i in range(len(spans))]
    for parent in [p for p, n in enumerate(map(len, lists)) if n >= min_group]:  # the few wide parents
        children = lists[parent]
        groups: dict[tuple[str, str], list[int]] = {}
        for c in children:
            cs = spans[c]
            groups.setdefault((cs.service, cs.name), []).append(c)
        for (service, operation), members in groups.items():
            if len(members) >= min_group:
                _group(part, trace, parent, service, operation, members, threshold)
    return part


def _group(
    part: StragglersPartial,
    trace: Trace,
    parent: int,
    service: str,
    operation: str,
    members: list[int],
    threshold: float,
) -> None:
    spans = trace.spans
    compute_key = (cv.HPC_COMPUTE_NS,)
    # HPC steps when every member carries its compute time (the first one without settles it)
    compute = [_number(spans[members[0]], compute_key)]
    if compute[0] is not None:
        compute.extend(_number(spans[m], compute_key) for m in members[1:])
    hpc = all(v is not None for v in compute)
    values = [int(v) for v in compute if v is not None] if hpc else [spans[m].duration_ns for m in members]
    med = median(values)
    spread = mad(values)
    slow: list[tuple[int, float]] = []
    for idx, v in enumerate(values):
        if v <= med:
            continue
        if spread > 0:
            score = 0.6745 * (v - med) / spread
            if score > threshold:
                slow.append((idx, score))
        elif med > 0 and v > 1.5 * med:
            slow.append((idx, float("inf")))
    if not slow:
        return
    slow_set = {idx for idx, _ in slow}
    if hpc:
        # ranks wait for the slowest one: the step lasted as long as the slowest compute
        rest = max((v for i, v in enumerate(values) if i not in slow_set), default=0)
        lost = max(0, max(values[i] for i in slow_set) - rest)
    else:
        ends = [spans[m].end_ns for m in members]
        rest_end = max((e for i, e in enumerate(ends) if i not in slow_set), default=0)
        lost = max(0, max(ends[i] for i in slow_set) - rest_end)
    sizes = [_number(spans[m], INPUT_KEYS) for m in members]
    known = [s for s in sizes if s is not None]
    med_size = median(known) if len(known) == len(sizes) else 0.0
    ps = spans[parent]
    for idx, score in slow:
        span = spans[members[idx]]
        ratio: float | None = None
        explained: bool | None = None
        size = sizes[idx]
        if size is not None and med_size > 0 and med > 0:
            ratio = size / med_size
            explained = ratio >= 1 + 0.5 * (values[idx] / med - 1)
        label = ""
        for key in LABEL_KEYS:
            if key in span.attributes:
                label = str(span.attributes[key])
                break
        part.items.append(
            Straggler(
                trace.trace_id,
                span.span_id,
                ps.service,
                ps.name,
                service,
                operation,
                label,
                values[idx],
                med,
                spread,
                score,
                len(members),
                lost,
                "compute" if hpc else "duration",
                ratio,
                explained,
            )
        )


def merge_stragglers(partials: Iterable[StragglersPartial]) -> list[Straggler]:
    """The merge step: stragglers ranked by time lost, then by how far above the median they were."""
    total = StragglersPartial()
    for part in partials:
        total.merge(part)
    total.items.sort(key=lambda s: (-s.lost_ns, -s.excess_ns, s.trace_id, s.span_id))
    return total.items


def stragglers(traces: Iterable[Trace], *, min_group: int = 5, threshold: float = 3.5) -> list[Straggler]:
    """Stragglers across ``traces``, most time lost first."""
    return merge_stragglers(stragglers_partial(t, min_group=min_group, threshold=threshold) for t in traces)
