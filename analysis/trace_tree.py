"""Per-trace facts read once and shared by the analyzers of one trace: the children of every node, and
one scan of the spans (interval, failure, attribute keys, placement, clock-skew candidates).

``Trace.children(i)`` slices the trace's flat arrays on every call; the report asks for the children of
every node in several analyzers (hotspots' self time, the critical path, stragglers), so it reads them
once per trace and hands the lists to each. :func:`scan_trace` reads them in the same pass as what the
report would otherwise read in a pass each, so that analyzers a trace cannot need are skipped.

>>> from spanscope.collectors.model import Span, Trace
>>> tid = "5759e988bd862e3fe1be46a994272793"
>>> t = Trace(tid, [Span(tid, "a" * 16, None, "api", "GET /", start_ns=1, end_ns=10),
...                 Span(tid, "b" * 16, "a" * 16, "db", "query", start_ns=2, end_ns=5, attributes={"x": 1})])
>>> [list(k) for k in children_lists(t)]
[[1], []]
>>> s = scan_trace(t)
>>> [list(k) for k in s.kids], s.start_ns, s.end_ns, s.failed, sorted(s.attribute_keys), s.placed, s.skew
([[1], []], 1, 10, False, ['x'], False, False)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from spanscope.collectors.conventions import CLOUD_REGION, DEVICE_CLOCK_OFFSET_NS, LOCATION
from spanscope.collectors.model import Kind, Status, Trace

__all__ = ["Kids", "TraceScan", "children_lists", "children_of", "scan_trace"]

Kids = Sequence[Sequence[int]]


def children_lists(trace: Trace) -> list[Sequence[int]]:
    """The children of every node of ``trace`` (each ordered by start time, as ``Trace.children``)."""
    children = trace.children
    return [children(i) for i in range(len(trace.spans))]


def children_of(trace: Trace, kids: Kids | None) -> Callable[[int], Sequence[int]]:
    """The children lookup to use: the lists read once (``kids``) when given, else the trace's own."""
    return kids.__getitem__ if kids is not None else trace.children


@dataclass(frozen=True, slots=True)
class TraceScan:
    """What one pass over a trace's spans read. ``start_ns``/``end_ns`` as ``Trace.start_ns``/``end_ns``;
    ``failed``: some span's status is not OK; ``attribute_keys``: every span attribute key present;
    ``placed``: some span has a resource or a location attribute (else the placement split has nothing
    to place); ``skew``: clock-skew adjustment may move something (a device clock offset, or a server
    child that lies outside its client parent); when False, ``adjust_clock_skew`` returns the trace as is."""

    kids: list[Sequence[int]]
    start_ns: int
    end_ns: int
    failed: bool
    attribute_keys: frozenset[str]
    placed: bool
    skew: bool


def scan_trace(trace: Trace) -> TraceScan:
    """One pass over ``trace``'s spans: the children lists and the facts of :class:`TraceScan`."""
    spans = trace.spans
    children = trace.children
    kids: list[Sequence[int]] = []
    add_kids = kids.append
    keys: set[str] = set()
    add_keys = keys.update
    start = 0
    end = spans[0].end_ns if spans else 0
    failed = placed = skew = False
    ok, client, server = Status.OK, Kind.CLIENT, Kind.SERVER
    for i, span in enumerate(spans):
        own = children(i)
        add_kids(own)
        s0 = span.start_ns
        s1 = span.end_ns
        if s0 > 0 and (not start or s0 < start):
            start = s0
        if s1 > end:
            end = s1
        if span.attributes:
            add_keys(span.attributes)
        if span.resource:
            placed = True
        if span.status is not ok:
            failed = True
        if own and not skew and span.kind is client:
            for c in own:
                cs = spans[c]
                if cs.kind is server and (cs.start_ns < s0 or cs.end_ns > s1):
                    skew = True
                    break
    if LOCATION in keys or CLOUD_REGION in keys:
        placed = True
    if DEVICE_CLOCK_OFFSET_NS in keys:
        skew = True
    return TraceScan(kids, start, end, failed, frozenset(keys), placed, skew)
