"""Renders a service map as Graphviz DOT and Mermaid flowchart text, optionally clustered by location.

Node ids are generated (``n0``, ``n1``, …); span-derived text appears only inside quoted labels, cleaned
by ``safe_text.clean`` and escaped for the target language, so it can never close a string or inject
statements. Asynchronous (link) edges are dashed. With ``changes`` from a baseline comparison,
appeared nodes and edges are drawn bold, significantly worse ones red, and disappeared ones grey and
dotted.
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
from spanscope.collectors.service_map.build import CLIENT_NODE, EdgeKey, NodeKey
from spanscope.collectors.service_map.compare import (
    EDGE_APPEARED,
    EDGE_DISAPPEARED,
    NODE_APPEARED,
    NODE_DISAPPEARED,
    MapChange,
)
from spanscope.collectors.service_map.location import describe_location, location_clusters
from spanscope.collectors.service_map.render_json import node_order
from spanscope.collectors.service_map.stats import Statistics
from spanscope.render.safe_text import clean
from spanscope.render.units import format_seconds

_MAX = 60


def _node_text(graph: nx.DiGraph, key: NodeKey) -> list[str]:
    if key == CLIENT_NODE:
        return ["client"]
    data = graph.nodes[key]
    stats: Statistics = data["stats"]
    n = stats.total_count
    lines = [clean(key[0], max_length=_MAX) or "?", clean(key[1], max_length=_MAX) or "service"]
    if n:
        lines.append(f"{n} req, err {100 * stats.error_rate:.1f}%, fault {100 * stats.fault_rate:.1f}%")
        lines.append(f"p50 {format_seconds(stats.p50_s)}, p99 {format_seconds(stats.p99_s)}")
    return lines


def _edge_text(data: dict[str, object]) -> list[str]:
    lines = []
    sync = data["stats"]
    if isinstance(sync, Statistics):
        lines.append(f"{sync.total_count} req, fail {100 * sync.failed_count / max(1, sync.total_count):.1f}%")
        lines.append(f"p50 {format_seconds(sync.p50_s)}")
    link = data["link_stats"]
    if isinstance(link, Statistics):
        lines.append(f"async {link.total_count} msg")
    return lines


def _severity(stats: Statistics) -> str | None:
    if stats.total_count and stats.fault_rate >= 0.05:
        return "fault"
    if stats.total_count and stats.error_rate >= 0.05:
        return "error"
    return None


class _Marks:
    """What a baseline comparison says about each node and edge."""

    def __init__(self, changes: Sequence[MapChange] | None) -> None:
        self.appeared: set[object] = set()
        self.worse: set[object] = set()
        self.gone_nodes: list[NodeKey] = []
        self.gone_edges: list[EdgeKey] = []
        for change in changes or ():
            subject: object = change.node if change.node is not None else change.edge
            if change.change in (NODE_APPEARED, EDGE_APPEARED):
                self.appeared.add(subject)
            elif change.change == NODE_DISAPPEARED and change.node is not None:
                self.gone_nodes.append(change.node)
            elif change.change == EDGE_DISAPPEARED and change.edge is not None:
                self.gone_edges.append(change.edge)
            elif (change.ratio or 1.0) > 1.0:
                self.worse.add(subject)


# --- DOT ------------------------------------------------------------------------------------------


def _dot_quote(lines: list[str]) -> str:
    escaped = [line.replace("\\", "\\\\").replace('"', '\\"') for line in lines]
    return '"' + "\\n".join(escaped) + '"'


def render_map_dot(
    graph: nx.DiGraph, *, group_by_location: bool = False, changes: Sequence[MapChange] | None = None
) -> str:
    """The map as a Graphviz ``digraph`` (clusters per location when ``group_by_location``)."""
    marks = _Marks(changes)
    order = node_order(graph)
    ids = {key: f"n{i}" for i, key in enumerate(order)}
    for key in marks.gone_nodes:
        ids.setdefault(key, f"n{len(ids)}")
    out = [
        "digraph spanscope_map {",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fillcolor=white, fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10];',
    ]

    def node_stmt(key: NodeKey, indent: str) -> str:
        attrs = [f"label={_dot_quote(_node_text(graph, key))}"]
        if key == CLIENT_NODE:
            attrs.append("shape=ellipse")
        elif graph.nodes[key]["kind"] == "inferred":
            attrs.append('style="rounded,filled,dashed"')
        severity = _severity(graph.nodes[key]["stats"])
        if severity == "fault":
            attrs.append('fillcolor="#f8d0d0"')
        elif severity == "error":
            attrs.append('fillcolor="#fbe5c8"')
        if key in marks.appeared:
            attrs.append("penwidth=3")
        if key in marks.worse:
            attrs.append("color=red")
        return f"{indent}{ids[key]} [{', '.join(attrs)}];"

    if group_by_location:
        for i, (where, keys) in enumerate(location_clusters(graph, order).items()):
            if where is None:
                out.extend(node_stmt(key, "  ") for key in keys)
                continue
            out.append(f"  subgraph cluster_{i} {{")
            out.append(f"    label={_dot_quote([clean(describe_location(where)[1], max_length=80)])};")
            out.append('    style="rounded"; color=gray50;')
            out.extend(node_stmt(key, "    ") for key in keys)
            out.append("  }")
    else:
        out.extend(node_stmt(key, "  ") for key in order)
    for key in marks.gone_nodes:
        label = _dot_quote([clean(key[0], max_length=_MAX), clean(key[1], max_length=_MAX), "(gone)"])
        out.append(f"  {ids[key]} [label={label}, style=dotted, color=gray60, fontcolor=gray50];")

    for caller in order:
        for callee in sorted(graph.successors(caller), key=lambda k: ids[k]):
            data = graph.edges[caller, callee]
            attrs = [f"label={_dot_quote(_edge_text(data))}"]
            if data["asynchronous"]:
                attrs.append("style=dashed")
            if (caller, callee) in marks.appeared:
                attrs.append("penwidth=3")
            if (caller, callee) in marks.worse:
                attrs.append("color=red")
            out.append(f"  {ids[caller]} -> {ids[callee]} [{', '.join(attrs)}];")
    for caller, callee in marks.gone_edges:
        for key in (caller, callee):
            if key not in ids:
                ids[key] = f"n{len(ids)}"
                label = _dot_quote([clean(key[0], max_length=_MAX), "(gone)"])
                out.append(f"  {ids[key]} [label={label}, style=dotted, color=gray60];")
        out.append(f"  {ids[caller]} -> {ids[callee]} [style=dotted, color=gray60];")
    out.append("}")
    return "\n".join(out) + "\n"


# --- Mermaid --------------------------------------------------------------------------------------

_MERMAID_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:/_-()%@+=*")


def _mermaid_quote(lines: list[str]) -> str:
    """Lines as a quoted Mermaid label: every character outside a plain set becomes ``#code;``."""
    parts = ["".join(ch if ch in _MERMAID_SAFE else f"#{ord(ch)};" for ch in line) for line in lines]
    return '"' + "<br/>".join(parts) + '"'


def render_map_mermaid(
    graph: nx.DiGraph, *, group_by_location: bool = False, changes: Sequence[MapChange] | None = None
) -> str:
    """The map as a Mermaid ``flowchart LR`` (subgraphs per location when ``group_by_location``)."""
    marks = _Marks(changes)
    order = node_order(graph)
    ids = {key: f"n{i}" for i, key in enumerate(order)}
    out = ["flowchart LR"]
    classes: dict[str, list[str]] = {}

    def node_stmt(key: NodeKey, indent: str) -> str:
        label = _mermaid_quote(_node_text(graph, key))
        node_id = ids[key]
        if key != CLIENT_NODE:
            severity = _severity(graph.nodes[key]["stats"])
            if severity:
                classes.setdefault(severity, []).append(node_id)
            if key in marks.appeared:
                classes.setdefault("appeared", []).append(node_id)
            if key in marks.worse:
                classes.setdefault("worse", []).append(node_id)
        if key == CLIENT_NODE:
            return f"{indent}{node_id}([{label}])"
        if graph.nodes[key]["kind"] == "inferred":
            return f"{indent}{node_id}[({label})]"
        return f"{indent}{node_id}[{label}]"

    if group_by_location:
        for i, (where, keys) in enumerate(location_clusters(graph, order).items()):
            if where is None:
                out.extend(node_stmt(key, "  ") for key in keys)
                continue
            out.append(f"  subgraph g{i} [{_mermaid_quote([clean(describe_location(where)[1], max_length=80)])}]")
            out.extend(node_stmt(key, "    ") for key in keys)
            out.append("  end")
    else:
        out.extend(node_stmt(key, "  ") for key in order)
    for key in marks.gone_nodes:
        ids[key] = f"n{len(ids)}"
        out.append(f"  {ids[key]}[{_mermaid_quote([clean(key[0], max_length=_MAX), '(gone)'])}]")
        classes.setdefault("gone", []).append(ids[key])

    link_index = 0
    styled: dict[str, list[int]] = {}
    for caller in order:
        for callee in sorted(graph.successors(caller), key=lambda k: ids[k]):
            data = graph.edges[caller, callee]
            arrow = "-.->" if data["asynchronous"] else "-->"
            out.append(f"  {ids[caller]} {arrow}|{_mermaid_quote(_edge_text(data))}| {ids[callee]}")
            if (caller, callee) in marks.worse:
                styled.setdefault("stroke:#d00,stroke-width:2px", []).append(link_index)
            elif (caller, callee) in marks.appeared:
                styled.setdefault("stroke-width:3px", []).append(link_index)
            link_index += 1
    for caller, callee in marks.gone_edges:
        for key in (caller, callee):
            if key not in ids:
                ids[key] = f"n{len(ids)}"
                out.append(f"  {ids[key]}[{_mermaid_quote([clean(key[0], max_length=_MAX), '(gone)'])}]")
                classes.setdefault("gone", []).append(ids[key])
        out.append(f'  {ids[caller]} -.->|"gone"| {ids[callee]}')
        styled.setdefault("stroke:#999,stroke-dasharray:2", []).append(link_index)
        link_index += 1
    definitions = {
        "fault": "fill:#f8d0d0",
        "error": "fill:#fbe5c8",
        "appeared": "stroke-width:3px",
        "worse": "stroke:#d00,stroke-width:2px",
        "gone": "stroke:#999,stroke-dasharray:2,color:#777",
    }
    for name, members in classes.items():
        out.append(f"  classDef {name} {definitions[name]}")
        out.append(f"  class {','.join(members)} {name}")
    for style, indices in styled.items():
        out.append(f"  linkStyle {','.join(map(str, indices))} {style}")
    return "\n".join(out) + "\n"
