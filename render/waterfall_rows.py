"""The rows of the TUI waterfall, computed once per trace off the UI thread: order, depth, subtree spans, marks.

Pure data (no Textual): the waterfall widget shows a window of these rows, so a trace of 100,000
spans costs one pass here and a screenful of work per repaint. Labels are cleaned of control and
bidi characters here, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from spanscope.analysis import critical_path, failure_roles
from spanscope.analysis.failures import FailureRole
from spanscope.collectors.conventions import BATCH_ARRAY_INDEX
from spanscope.collectors.model import Span, Trace
from spanscope.render.safe_text import clean

MAX_LABEL = 200


@dataclass(slots=True)
class WaterfallRows:
    """A trace laid out for the waterfall (node = position in ``trace.spans``)."""

    trace: Trace
    order: list[int]  # every tree node in pre-order
    depth: list[int]  # by row of ``order``
    subtree_end: list[int]  # by row: the row just after this node's subtree
    row_of: dict[int, int]  # node -> row in ``order``
    labels: list[str]  # by node: "service: name", cleaned
    critical: dict[int, list[tuple[int, int]]]  # node -> its stretches on the critical path
    roles: dict[int, FailureRole]  # node -> failure role (only nodes that have one)
    start_ns: int
    total_ns: int

    def visible(self, collapsed: set[int]) -> list[int]:
        """Rows (indices into ``order``) shown when the nodes in ``collapsed`` hide their subtrees."""
        rows: list[int] = []
        order = self.order
        ends = self.subtree_end
        i = 0
        n = len(order)
        while i < n:
            rows.append(i)
            i = ends[i] if order[i] in collapsed else i + 1
        return rows

    def ancestors(self, node: int) -> list[int]:
        """Parents of ``node`` up to its root (iterative)."""
        out: list[int] = []
        seen = {node}
        parent = self.trace.parent(node)
        while parent is not None and parent not in seen:
            out.append(parent)
            seen.add(parent)
            parent = self.trace.parent(parent)
        return out

    def search(self, query: str) -> list[int]:
        """Nodes (in row order) matching ``query`` (case-insensitive substring).

        Looked in: the label (service and name), the span id, the status message, exception types and
        messages, and the keys and values of span attributes, annotations and resource attributes.
        A ``key=value`` query matches a span whose attribute ``key`` (any of the three maps, exact key)
        has a value containing ``value``.
        """
        needle = query.casefold().strip()
        if not needle:
            return []
        key, eq, wanted = needle.partition("=")
        keyed = bool(eq and key.strip() and " " not in key.strip())
        key, wanted = key.strip(), wanted.strip()
        spans = self.trace.spans
        hits: list[int] = []
        for node in self.order:
            span = spans[node]
            if keyed:
                if _has_attribute(span, key, wanted):
                    hits.append(node)
            elif needle in self.labels[node].casefold() or _span_text_matches(span, needle):
                hits.append(node)
        return hits


def _attribute_maps(span: Span) -> tuple[Mapping[str, object], ...]:
    return (span.attributes, span.annotations, span.resource)


def _has_attribute(span: Span, key: str, wanted: str) -> bool:
    for attrs in _attribute_maps(span):
        for k, value in attrs.items():
            if k.casefold() == key and wanted in str(value).casefold():
                return True
    return False


def _span_text_matches(span: Span, needle: str) -> bool:
    if needle in span.span_id or needle in span.status_message.casefold():
        return True
    for exc in span.exceptions:
        if needle in exc.type.casefold() or needle in exc.message.casefold():
            return True
    for attrs in _attribute_maps(span):
        for k, value in attrs.items():
            if needle in k.casefold() or needle in str(value).casefold():
                return True
    return False


def label_of(span: Span) -> str:
    """ "service: name", with a Batch array child's index ("[array 3]"), cleaned."""
    text = f"{span.service}: {span.name}"
    index = span.attributes.get(BATCH_ARRAY_INDEX, span.resource.get(BATCH_ARRAY_INDEX))
    if isinstance(index, int) and not isinstance(index, bool):
        text += f" [array {index}]"
    return clean(text, max_length=MAX_LABEL)


def layout(trace: Trace) -> WaterfallRows:
    """Lay ``trace`` out for the waterfall, with its critical path and failure roles."""
    spans = trace.spans
    order: list[int] = []
    depth: list[int] = []
    for node, d in trace.preorder():
        order.append(node)
        depth.append(d)
    row_of = {node: row for row, node in enumerate(order)}
    size = [1] * len(spans)
    for node in reversed(order):
        parent = trace.parent(node)
        if parent is not None:
            size[parent] += size[node]
    subtree_end = [row + size[node] for row, node in enumerate(order)]
    labels = [label_of(s) for s in spans]
    critical: dict[int, list[tuple[int, int]]] = {}
    try:
        for seg in critical_path(trace):
            pos = trace.position(seg.span_id)
            if pos is not None:
                critical.setdefault(pos, []).append((seg.start_ns, seg.end_ns))
    except Exception:
        pass
    roles: dict[int, FailureRole] = {}
    try:
        by_id = failure_roles(trace)
        for node in order:
            role = by_id.get(spans[node].span_id)
            if role is not None:
                roles[node] = role
    except Exception:
        pass
    start = trace.start_ns
    return WaterfallRows(
        trace=trace,
        order=order,
        depth=depth,
        subtree_end=subtree_end,
        row_of=row_of,
        labels=labels,
        critical=critical,
        roles=roles,
        start_ns=start,
        total_ns=max(1, trace.end_ns - start),
    )
