"""Renders a trace comparison (`spanscope.analysis.diff`): JSON for `diff --json`, text, and cells for the TUI."""

from __future__ import annotations

from typing import Any

from spanscope.analysis.diff import DiffNode, DiffSide, TraceDiff
from spanscope.render.units import format_duration

JSON_PATH_LIMIT = 64  # ancestors listed per node; `depth` gives the full depth
CHANGES = ("added", "missing", "failed", "recovered", "slower", "faster", "same")


def _side_json(side: DiffSide) -> dict[str, Any]:
    return {
        "count": side.count,
        "duration": side.duration_ns / 1e9,
        "critical_path": side.critical_ns / 1e9,
        "failed": side.failed,
        "status": side.status.value if side.status is not None else None,
        "span_id": side.span_id,
    }


def diff_to_json(result: TraceDiff) -> dict[str, Any]:
    """``{trace_a, trace_b, duration_a, duration_b, delta, counts, nodes: [...]}``, nodes ranked, seconds."""
    nodes = []
    for node in result.nodes:
        nodes.append(
            {
                "id": node.index,
                "parent": node.parent,
                "depth": node.depth,
                "service": node.service,
                "operation": node.operation,
                "path": [
                    {"service": n.service, "operation": n.operation} for n in result.path(node, limit=JSON_PATH_LIMIT)
                ],
                "change": node.change,
                "contribution": node.contribution_ns / 1e9,
                "duration_change": node.duration_change_ns / 1e9,
                "a": _side_json(node.a),
                "b": _side_json(node.b),
            }
        )
    return {
        "trace_a": result.trace_a,
        "trace_b": result.trace_b,
        "duration_a": result.duration_a_ns / 1e9,
        "duration_b": result.duration_b_ns / 1e9,
        "delta": result.delta_ns / 1e9,
        "critical_path_delta": result.critical_delta_ns / 1e9,
        "counts": {c: result.count(c) for c in CHANGES},
        "nodes": nodes,
    }


def signed_duration(ns: int) -> str:
    """``+12.3ms`` / ``-850µs`` / ``0``."""
    if ns == 0:
        return "0"
    return ("+" if ns > 0 else "-") + format_duration(abs(ns))


def side_text(side: DiffSide) -> str:
    """``2× 12.3ms fault`` or ``-`` when the node is absent on this side."""
    if side.count == 0:
        return "-"
    status = side.status.value if side.status is not None else "ok"
    return f"{side.count}× {format_duration(side.duration_ns)} {status}"


def node_label(result: TraceDiff, node: DiffNode) -> str:
    """``service operation``, after its parent's operation when it has one (``… POST /orders › PutItem``)."""
    own = f"{node.service} {node.operation}"
    if node.parent is None:
        return own
    parent = result.tree[node.parent]
    return f"{parent.operation} › {own}"


def outside_note(result: TraceDiff) -> str | None:
    """What of the end-to-end change the contributions do not explain (more than 1 % of it), or None."""
    outside = result.delta_ns - result.critical_delta_ns
    if abs(outside) <= abs(result.delta_ns) // 100:
        return None
    return (
        f"the entry span's critical path changed {signed_duration(result.critical_delta_ns)}; the other"
        f" {signed_duration(outside)} is work outside it: asynchronous consumers, workflows, orphan spans"
    )


def render_diff(result: TraceDiff, *, top: int = 25) -> str:
    """The comparison as plain text: the two traces, the counts, then the ranked nodes."""
    from spanscope.collectors.model import xray_trace_id
    from spanscope.render.safe_text import clean

    base = result.duration_a_ns
    pct = f" ({100 * result.delta_ns / base:+.0f}%)" if base else ""
    lines = [
        f"A {xray_trace_id(result.trace_a)}  {format_duration(result.duration_a_ns)}",
        f"B {xray_trace_id(result.trace_b)}  {format_duration(result.duration_b_ns)}",
        f"end-to-end {signed_duration(result.delta_ns)}{pct}; " + ", ".join(f"{result.count(c)} {c}" for c in CHANGES),
    ]
    note = outside_note(result)
    if note:
        lines.append(f"({note})")
    lines.append("")
    rows = [["contribution", "change", "A", "B", "path"]]
    for node in result.nodes[:top]:
        rows.append(
            [
                signed_duration(node.contribution_ns),
                node.change,
                side_text(node.a),
                side_text(node.b),
                clean(node_label(result, node), max_length=100),
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        lines.append("  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row)).rstrip())
    if len(result.nodes) > top:
        lines.append(f"({len(result.nodes) - top} more paths; --top N or --json for all)")
    return "\n".join(lines) + "\n"
