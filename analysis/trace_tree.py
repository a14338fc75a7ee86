"""Per-trace tree lookups read once and shared by the analyzers of one trace (the children of every node).

``Trace.children(i)`` slices the trace's flat arrays on every call; the report asks for the children of
every node in several analyzers (hotspots' self time, the critical path, stragglers), so it reads them
once per trace and hands the lists to each.

>>> from spanscope.collectors.model import Span, Trace
>>> tid = "5759e988bd862e3fe1be46a994272793"
>>> t = Trace(tid, [Span(tid, "a" * 16, None, "api", "GET /", start_ns=0, end_ns=10),
...                 Span(tid, "b" * 16, "a" * 16, "db", "query", start_ns=2, end_ns=5)])
>>> [list(k) for k in children_lists(t)]
[[1], []]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from spanscope.collectors.model import Trace

__all__ = ["Kids", "children_lists", "children_of"]

Kids = Sequence[Sequence[int]]


def children_lists(trace: Trace) -> list[Sequence[int]]:
    """The children of every node of ``trace`` (each ordered by start time, as ``Trace.children``)."""
    children = trace.children
    return [children(i) for i in range(len(trace.spans))]


def children_of(trace: Trace, kids: Kids | None) -> Callable[[int], Sequence[int]]:
    """The children lookup to use: the lists read once (``kids``) when given, else the trace's own."""
    return kids.__getitem__ if kids is not None else trace.children
