"""Critical path of one trace: which spans, and which stretches of them, the end-to-end latency waited on.

The walk starts at the trace's entry span and goes backwards from its end: the child that finished
last is on the path, then the latest child that finished before that one started, and so on; the
gaps between them are the parent's own time. Children are clamped to their parent's interval,
children entirely outside it are dropped, and asynchronous children (a consumer under a producer, or
a child linked to its parent with a span link) are not on the caller's path.

>>> from spanscope.collectors.model import Span, Trace
>>> tid = "5759e988bd862e3fe1be46a994272793"
>>> t = Trace(tid, [
...     Span(tid, "a" * 16, None, "api", "GET /", start_ns=0, end_ns=100),
...     Span(tid, "b" * 16, "a" * 16, "api", "auth", start_ns=10, end_ns=30),
...     Span(tid, "c" * 16, "a" * 16, "api", "query", start_ns=40, end_ns=90),
... ])
>>> [(s.span_id[0], s.start_ns, s.end_ns) for s in critical_path(t)]
[('a', 0, 10), ('b', 10, 30), ('a', 30, 40), ('c', 40, 90), ('a', 90, 100)]
>>> critical_time_by_span(critical_path(t))["a" * 16]
30
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from spanscope.analysis.trace_tree import Kids, children_of
from spanscope.collectors.errors import AnalysisError
from spanscope.collectors.model import Kind, Span, Trace

__all__ = [
    "CriticalSegment",
    "critical_path",
    "critical_path_nodes",
    "critical_time_by_span",
    "is_async_child",
]


@dataclass(frozen=True, slots=True)
class CriticalSegment:
    """A stretch of one span's own (self) time that lies on the critical path."""

    span_id: str
    start_ns: int
    end_ns: int

    @property
    def self_time_ns(self) -> int:
        """Length of this stretch: time credited to the span itself, not to any child."""
        return self.end_ns - self.start_ns

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


def is_async_child(parent: Span, child: Span) -> bool:
    """Whether ``child`` is asynchronous work started by ``parent`` rather than work it waits for.

    >>> from spanscope.collectors.model import Span, Kind
    >>> p = Span("t" * 32, "a" * 16, None, "api", "send", Kind.PRODUCER)
    >>> is_async_child(p, Span("t" * 32, "b" * 16, "a" * 16, "worker", "process", Kind.CONSUMER))
    True
    """
    if child.kind is Kind.CONSUMER and parent.kind is Kind.PRODUCER:
        return True
    if child.links:
        pid = parent.span_id
        for link in child.links:
            if link.span_id == pid:
                return True
    return False


def critical_path_nodes(
    trace: Trace, *, overlap_tolerance: float = 0.01, kids: Kids | None = None
) -> list[tuple[int, int, int]]:
    """The critical path as ``(node, start_ns, end_ns)`` triples in time order (node = position in
    ``trace.spans``). Zero-length stretches are left out unless the whole path has no length. ``kids``:
    the trace's children lists when the caller read them already (``trace_tree.children_lists``).
    """
    if not overlap_tolerance >= 0.0:  # also rejects NaN
        raise AnalysisError(f"overlap_tolerance must be a fraction >= 0, got {overlap_tolerance!r}")
    if not trace.roots:
        return []
    spans = trace.spans
    root = trace.roots[0]
    rs = spans[root]
    r_lo = rs.start_ns
    # an in-progress entry span has no end yet: it lasts at least until the last thing seen in the trace
    r_hi = max(rs.end_ns, r_lo, trace.end_ns if rs.in_progress else 0)
    out: list[tuple[int, int, int]] = []
    # frame: [node, lo, cursor, candidates (end desc), next candidate index, tolerance_ns]
    stack: list[tuple[int, int, list[int], list[tuple[int, int, int]], list[int], int]] = []
    children = children_of(trace, kids)
    stack.append(_frame(spans, children, root, r_lo, r_hi, overlap_tolerance))
    visited = {root}
    while stack:
        node, lo, cur, kids, pos, tol = stack[-1]
        cursor = cur[0]
        k = pos[0]
        picked: tuple[int, int, int] | None = None
        n = len(kids)
        while k < n:
            neg_end, start, child = kids[k]
            k += 1
            if -neg_end > cursor + tol or start >= cursor or child in visited:
                continue
            picked = (child, start, -neg_end)
            break
        pos[0] = k
        if picked is None:
            if cursor > lo:
                out.append((node, lo, cursor))
            stack.pop()
            continue
        child, c_start, c_end = picked
        c_end = min(c_end, cursor)
        if cursor > c_end:
            out.append((node, c_end, cursor))
        cur[0] = c_start
        visited.add(child)
        if children(child):
            stack.append(_frame(spans, children, child, c_start, c_end, overlap_tolerance))
        elif c_end > c_start:  # a leaf (most spans): its whole stretch, without a frame of its own
            out.append((child, c_start, c_end))
    if not out:
        return [(root, r_lo, r_hi)]
    out.reverse()
    return out


def _frame(
    spans: Sequence[Span], children: Callable[[int], Sequence[int]], node: int, lo: int, hi: int, fraction: float
) -> tuple[int, int, list[int], list[tuple[int, int, int]], list[int], int]:
    parent = spans[node]
    kids: list[tuple[int, int, int]] = []
    for c in children(node):
        cs = spans[c]
        start = cs.start_ns
        end = cs.end_ns
        if end < start:
            end = hi if cs.in_progress else start  # still running when its parent's stretch ended
        if start < lo:
            start = lo
        if end > hi:
            end = hi
        if end <= start or ((cs.links or cs.kind is Kind.CONSUMER) and is_async_child(parent, cs)):
            continue  # entirely outside the parent (or empty), or asynchronous
        kids.append((-end, start, c))
    if len(kids) > 1:
        kids.sort()  # latest end first; equal ends: the earlier start (longer) first
    return node, lo, [hi], kids, [0], int(fraction * (hi - lo))


def critical_path(trace: Trace, *, overlap_tolerance: float = 0.01) -> list[CriticalSegment]:
    """The critical path of ``trace`` as segments of span self time, in time order.

    ``overlap_tolerance`` is a fraction of each parent's duration by which a child may overlap the
    next one on the path and still count as sequential (0 is strict). Iterative: terminates on
    cycles, missing parents, zero timestamps and arbitrarily deep chains.
    """
    spans = trace.spans
    return [
        CriticalSegment(spans[node].span_id, start, end)
        for node, start, end in critical_path_nodes(trace, overlap_tolerance=overlap_tolerance)
    ]


def critical_time_by_span(segments: Iterable[CriticalSegment]) -> dict[str, int]:
    """Nanoseconds of critical-path time credited to each span id."""
    out: dict[str, int] = {}
    for seg in segments:
        out[seg.span_id] = out.get(seg.span_id, 0) + seg.end_ns - seg.start_ns
    return out
