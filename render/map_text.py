"""Renders a service map as plain terminal text: nodes with traffic, failure rates and latency, edges beneath.

Every name, type and placement that comes from spans goes through ``safe_text.clean``.
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
from spanscope.collectors.service_map.build import CLIENT_NODE, NodeKey
from spanscope.collectors.service_map.compare import MapChange
from spanscope.collectors.service_map.location import describe_location, location_clusters
from spanscope.collectors.service_map.render_json import node_order
from spanscope.collectors.service_map.stats import Statistics
from spanscope.render.safe_text import clean
from spanscope.render.units import format_seconds

_MAX_NAME = 60


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def node_label(key: NodeKey) -> str:
    """``name [type]`` made safe for a terminal."""
    name = clean(key[0], max_length=_MAX_NAME) or "?"
    return f"{name} [{clean(key[1], max_length=_MAX_NAME) or 'service'}]"


def stats_line(stats: Statistics, *, noun: str = "req") -> str:
    """Requests, error/throttle/fault shares and latency percentiles on one line."""
    n = stats.total_count
    return (
        f"{n} {noun}  err {_pct(stats.error_other, n)}  throttle {_pct(stats.throttle_count, n)}"
        f"  fault {_pct(stats.fault_count, n)}  p50 {format_seconds(stats.p50_s)}"
        f"  p90 {format_seconds(stats.p90_s)}  p99 {format_seconds(stats.p99_s)}"
        f"  avg {format_seconds(stats.mean_s)}"
    )


def _node_lines(graph: nx.DiGraph, key: NodeKey, indent: str) -> list[str]:
    data = graph.nodes[key]
    flags = []
    if data["root"]:
        flags.append("root")
    if data["kind"] == "inferred":
        flags.append("inferred")
    head = f"{indent}{node_label(key)}" + (f"  ({', '.join(flags)})" if flags else "")
    if key == CLIENT_NODE:
        return [head]
    lines = [head, f"{indent}    {stats_line(data['stats'])}"]
    if len(data["locations"]) > 1:
        spread = ", ".join(f"{clean(w, max_length=40)}: {c}" for w, c in sorted(data["locations"].items()))
        lines.append(f"{indent}    segments by location: {spread}")
    return lines


def _edge_lines(graph: nx.DiGraph, order: list[NodeKey]) -> list[str]:
    lines: list[str] = []
    position = {key: i for i, key in enumerate(order)}
    for caller in order:
        for callee in sorted(graph.successors(caller), key=position.__getitem__):
            data = graph.edges[caller, callee]
            pair = f"{node_label(caller)} -> {node_label(callee)}"
            if data["stats"] is not None:
                lines.append(f"  {pair}")
                lines.append(f"      {stats_line(data['stats'])}")
            if data["link_stats"] is not None:
                lines.append(f"  {node_label(caller)} ~> {node_label(callee)}  (async link)")
                lines.append(f"      {stats_line(data['link_stats'], noun='msg')}")
                age = data["event_age"]
                lines.append(
                    f"      event age p50 {format_seconds(age.p50_s)}  p90 {format_seconds(age.p90_s)}"
                    f"  p99 {format_seconds(age.p99_s)}"
                )
    return lines


def _change_line(change: MapChange) -> str:
    if change.node is not None:
        subject = node_label(change.node)
    else:
        assert change.edge is not None
        subject = f"{node_label(change.edge[0])} -> {node_label(change.edge[1])}"
    if change.structural:
        what = change.change.replace("_", " ")
        n = change.current_requests or change.baseline_requests
        return f"  {what}: {subject}  ({n} req)"
    if change.change == "failure_rate":
        return (
            f"  failure rate {_pct_f(change.baseline)} -> {_pct_f(change.current)}: {subject}"
            f"  (z={change.z:.1f}, n={change.baseline_requests}->{change.current_requests})"
        )
    return (
        f"  p95 {format_seconds(change.baseline)} -> {format_seconds(change.current)}: {subject}"
        f"  (x{change.ratio:.2f}, z={change.z:.1f}, n={change.baseline_requests}->{change.current_requests})"
    )


def _pct_f(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def render_map_text(
    graph: nx.DiGraph, *, group_by_location: bool = False, changes: Sequence[MapChange] | None = None
) -> str:
    """The map as text: a header, NODES (optionally per location), EDGES, then CHANGES if given."""
    order = node_order(graph)
    traces = graph.graph.get("trace_count", 0)
    spans = graph.graph.get("span_count", 0)
    services = sum(1 for k in order if graph.nodes[k]["kind"] != "client")
    lines = [f"service map: {services} nodes, {graph.number_of_edges()} edges, {traces} traces, {spans} spans"]
    unresolved = graph.graph.get("unresolved_links", 0)
    if unresolved:
        lines.append(f"({unresolved} span links point outside this window)")
    lines.append("")
    lines.append("NODES")
    if group_by_location:
        for where, keys in location_clusters(graph, order).items():
            title = "unplaced" if where is None else describe_location(where)[1]
            lines.append(f"  {clean(title, max_length=80)}")
            for key in keys:
                lines.extend(_node_lines(graph, key, "    "))
    else:
        for key in order:
            lines.extend(_node_lines(graph, key, "  "))
    lines.append("")
    lines.append("EDGES")
    lines.extend(_edge_lines(graph, order) or ["  (none)"])
    if changes is not None:
        lines.append("")
        lines.append("CHANGES vs baseline (most important first)")
        lines.extend([_change_line(c) for c in changes] or ["  (no significant change)"])
    return "\n".join(lines) + "\n"
