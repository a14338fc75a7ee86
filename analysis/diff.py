"""Comparing two traces: their trees matched by (service, operation) path, ranked by what moved the end-to-end time.

Spans are grouped by their path from the root, ``(service, operation)`` at every level, so the three
``DynamoDB.PutItem`` calls under ``orders-api POST /orders`` are one node with a count on each side
(as Jaeger's trace comparison groups them). For each node the diff gives, per side, the count, the
summed duration, the time on the critical path, the failed spans and the worst status. A node's
*contribution* is its change in critical-path time: the contributions add up to the change of the
entry span's critical path, which is the end-to-end time whenever the entry span covers the trace.
Nodes are ranked by contribution in the direction of the end-to-end change (the nodes that made B
slower first when B is slower), then by the change of their summed duration.

>>> from spanscope.collectors.model import Span, Status, Trace
>>> def t(tid, query_ns, cache):
...     spans = [Span(tid, "a" * 16, None, "api", "GET /", start_ns=1000, end_ns=1020 + query_ns),
...              Span(tid, "b" * 16, "a" * 16, "db", "query", start_ns=1010, end_ns=1010 + query_ns)]
...     if cache:
...         spans.append(Span(tid, "c" * 16, "a" * 16, "cache", "get", start_ns=1001, end_ns=1002,
...                           status=Status.FAULT))
...     return Trace(tid, spans)
>>> d = diff_traces(t("1" * 32, 100, True), t("2" * 32, 400, False))
>>> d.delta_ns
300
>>> [(n.operation, n.change, n.contribution_ns) for n in d.nodes]
[('query', 'slower', 300), ('GET /', 'slower', 1), ('get', 'missing', -1)]
"""

from __future__ import annotations

from dataclasses import dataclass, field

from spanscope.analysis.critical_path import critical_path_nodes
from spanscope.collectors.model import Status, Trace

__all__ = ["DiffNode", "DiffSide", "TraceDiff", "diff_traces"]

_SEVERITY = {Status.OK: 0, Status.ERROR: 1, Status.THROTTLE: 2, Status.FAULT: 3}
_ROOT = -1


@dataclass(slots=True)
class DiffSide:
    """One side of a node: its spans in one trace (all zero and ``status`` None when absent there)."""

    count: int = 0
    duration_ns: int = 0
    critical_ns: int = 0
    failed: int = 0
    status: Status | None = None
    span_id: str | None = None  # the first of the node's spans in tree order

    def _add(self, span_id: str, duration_ns: int, status: Status) -> None:
        if self.count == 0:
            self.span_id = span_id
        self.count += 1
        self.duration_ns += duration_ns
        if status.failed:
            self.failed += 1
        if self.status is None or _SEVERITY[status] > _SEVERITY[self.status]:
            self.status = status


@dataclass(slots=True)
class DiffNode:
    """A (service, operation) path present in one trace or both. ``parent`` and ``index`` are positions in
    ``TraceDiff.tree`` (tree order, parents before children); ``parent`` is None for a root."""

    index: int
    parent: int | None
    depth: int
    service: str
    operation: str
    a: DiffSide = field(default_factory=DiffSide)
    b: DiffSide = field(default_factory=DiffSide)

    @property
    def contribution_ns(self) -> int:
        """Change in critical-path time (B − A): what this node added to the end-to-end difference."""
        return self.b.critical_ns - self.a.critical_ns

    @property
    def duration_change_ns(self) -> int:
        """Change in the summed duration of the node's spans (B − A)."""
        return self.b.duration_ns - self.a.duration_ns

    @property
    def change(self) -> str:
        """``added`` (only in B), ``missing`` (only in A), ``failed`` / ``recovered`` (status got worse /
        better), ``slower`` / ``faster`` (critical-path time, else summed duration), or ``same``."""
        if self.a.count == 0:
            return "added"
        if self.b.count == 0:
            return "missing"
        worse = _SEVERITY[self.b.status or Status.OK] - _SEVERITY[self.a.status or Status.OK]
        if worse > 0 or (worse == 0 and self.b.failed > self.a.failed):
            return "failed"
        if worse < 0 or self.b.failed < self.a.failed:
            return "recovered"
        moved = self.contribution_ns or self.duration_change_ns
        if moved > 0:
            return "slower"
        if moved < 0:
            return "faster"
        return "same"


@dataclass(slots=True)
class TraceDiff:
    """Two traces compared. ``nodes`` is ranked (see the module docstring); ``tree`` holds the same nodes in
    the order they were first seen (A's tree in pre-order, then what only B has): parents before children."""

    trace_a: str
    trace_b: str
    duration_a_ns: int
    duration_b_ns: int
    tree: list[DiffNode]
    nodes: list[DiffNode]

    @property
    def critical_delta_ns(self) -> int:
        """Change of the entry span's critical path: the sum of every node's contribution. It differs from
        ``delta_ns`` by asynchronous work (queues, workflows) that ends after the entry span, or by orphans."""
        return sum(n.contribution_ns for n in self.tree)

    @property
    def delta_ns(self) -> int:
        """End-to-end change: B's duration minus A's."""
        return self.duration_b_ns - self.duration_a_ns

    def path(self, node: DiffNode, *, limit: int | None = None) -> list[DiffNode]:
        """The node's ancestors and the node, root first (the nearest ``limit`` when given). Iterative."""
        out = [node]
        current = node.parent
        while current is not None and (limit is None or len(out) < limit):
            ancestor = self.tree[current]
            out.append(ancestor)
            current = ancestor.parent
        out.reverse()
        return out

    def count(self, change: str) -> int:
        """How many nodes have this ``change``."""
        return sum(1 for n in self.tree if n.change == change)


def diff_traces(a: Trace, b: Trace, *, overlap_tolerance: float = 0.01) -> TraceDiff:
    """Compare trace ``a`` (the baseline, e.g. yesterday's fast request) with trace ``b``."""
    tree: list[DiffNode] = []
    index: dict[tuple[int, str, str], int] = {}
    for side, trace in ((0, a), (1, b)):
        critical = [0] * len(trace.spans)
        for node, start_ns, end_ns in critical_path_nodes(trace, overlap_tolerance=overlap_tolerance):
            critical[node] += end_ns - start_ns
        group = [_ROOT] * len(trace.spans)
        for node, depth in trace.preorder():
            span = trace.spans[node]
            up = trace.parent(node)
            parent_group = _ROOT if up is None else group[up]
            key = (parent_group, span.service, span.name)
            found = index.get(key)
            if found is None:
                found = index[key] = len(tree)
                tree.append(
                    DiffNode(found, None if parent_group == _ROOT else parent_group, depth, span.service, span.name)
                )
            group[node] = found
            target = tree[found].a if side == 0 else tree[found].b
            target._add(span.span_id, span.duration_ns, span.status)
            target.critical_ns += critical[node]
    duration_a, duration_b = a.summary().duration_ns, b.summary().duration_ns
    sign = -1 if duration_b < duration_a else 1
    ranked = sorted(
        tree,
        key=lambda n: (
            -sign * n.contribution_ns,
            n.change not in ("added", "missing", "failed", "recovered"),
            -abs(n.duration_change_ns),
            n.index,
        ),
    )
    return TraceDiff(a.trace_id, b.trace_id, duration_a, duration_b, tree, ranked)
