"""Draws a service map as SVG: a layered left-to-right layout, placement bands, health colours, edge widths.

Why hand-written SVG over NetworkX rather than Graphviz: the map already is a NetworkX graph, a
layered layout of a call graph needs nothing more than a breadth-first layering and one barycentre
pass (done here in ~60 lines, deterministic, no system binary and no extra wheel), and writing the
elements ourselves keeps every span-derived string under one escaping function
(``svg_markup.text``), which a DOT → SVG round trip through Graphviz would take out of our hands.
Graphviz would route edges more prettily, at the cost of a system dependency (``dot``) in CI and
in every user's install of the report.

Layout: columns are call depth from the map's entry points (``client`` first); rows are grouped in
horizontal bands, one per placement (region, Outpost, edge location, device) when grouping; a column
holds at most ``MAX_ROWS`` nodes of a band and spills into a second column, so 50 nodes stay
readable. Within a column, nodes are ordered by the mean row of their callers (fewer crossings).

Drawing (the same in the HTML report and in ``spanscope map --format svg``):

- node fill by health, as X-Ray's trace map: red when faults (5xx) are at least 5 % of its requests,
  orange for errors (4xx), purple for throttles (429), green otherwise, grey without requests; a strip
  along the bottom shows the four shares;
- service nodes are solid boxes, inferred nodes (called, not instrumented) dashed boxes, queues and
  streams (SQS, SNS, Kinesis, EventBridge) pills, the client a circle;
- edge width grows with the log of the calls; asynchronous (link) edges are dashed; an edge is red
  or orange by the same thresholds as nodes;
- every node and edge carries its numbers in ``data-*`` attributes and a ``<title>`` tooltip.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import networkx as nx
from spanscope.collectors.service_map.build import CLIENT_NODE, KIND_INFERRED, EdgeKey, NodeKey
from spanscope.collectors.service_map.location import describe_location, location_clusters
from spanscope.collectors.service_map.render_json import node_order
from spanscope.collectors.service_map.stats import Statistics
from spanscope.render.svg_markup import attrs, num, text
from spanscope.render.units import format_seconds

NODE_W, NODE_H = 190, 52
COL_W, ROW_H = 262, 68
MARGIN = 20
BAND_HEAD = 24
MAX_ROWS = 12
MAX_NODES = 150
THRESHOLD = 0.05

QUEUE_TYPES = frozenset({"AWS::SQS::Queue", "AWS::SNS::Topic", "AWS::Kinesis::Stream", "AWS::Events::EventBus"})

#: Health colours: (fill, strip) per state.
COLOURS = {
    "ok": ("#e3f4e1", "#3c9a3c"),
    "error": ("#fde7c4", "#ef8f00"),
    "throttle": ("#ece0f7", "#8e44ad"),
    "fault": ("#f9d3d0", "#d32f2f"),
    "idle": ("#eef0f3", "#9aa3ad"),
}
EDGE_COLOURS = {"ok": "#7a869a", "error": "#ef8f00", "throttle": "#8e44ad", "fault": "#d32f2f", "idle": "#b0b7c0"}


def health(stats: Statistics | None) -> str:
    """The health state of a node or edge: fault, error, throttle, ok or idle (no requests).

    >>> health(Statistics(ok_count=90, fault_count=10)), health(Statistics(ok_count=99, throttle_count=1))
    ('fault', 'ok')
    """
    if stats is None or not stats.total_count:
        return "idle"
    n = stats.total_count
    if stats.fault_count / n >= THRESHOLD:
        return "fault"
    if stats.error_other / n >= THRESHOLD:
        return "error"
    if stats.throttle_count / n >= THRESHOLD:
        return "throttle"
    return "ok"


def element_ids(graph: nx.DiGraph) -> dict[NodeKey, str]:
    """Stable element ids of the nodes (``n0``, ``n1``, … in ``node_order``), shared with the report's details."""
    return {key: f"n{i}" for i, key in enumerate(node_order(graph))}


def edge_stats(data: dict[str, object]) -> Statistics | None:
    """The statistics an edge is summarised by: its synchronous calls, else its link traffic."""
    sync = data.get("stats")
    if isinstance(sync, Statistics):
        return sync
    link = data.get("link_stats")
    return link if isinstance(link, Statistics) else None


def _calls(data: dict[str, object]) -> int:
    total = 0
    for name in ("stats", "link_stats"):
        stats = data.get(name)
        if isinstance(stats, Statistics):
            total += stats.total_count
    return total


@dataclass(frozen=True, slots=True)
class Placement:
    x: float
    y: float


@dataclass(slots=True)
class MapLayout:
    positions: dict[NodeKey, Placement]
    bands: list[tuple[str | None, float, float]]  # (location, top, height)
    width: float
    height: float
    left_out: int


def _layers(graph: nx.DiGraph, order: list[NodeKey]) -> dict[NodeKey, int]:
    """Call depth of every node: breadth-first from nodes nobody calls (then from any node still unreached)."""
    rank = {key: i for i, key in enumerate(order)}
    layer: dict[NodeKey, int] = {}
    starts = [key for key in order if graph.in_degree(key) == 0]
    pending = deque(starts)
    for key in starts:
        layer[key] = 0
    remaining = iter(order)
    while True:
        while pending:
            node = pending.popleft()
            for nxt in sorted(graph.successors(node), key=rank.__getitem__):
                if nxt not in layer:
                    layer[nxt] = layer[node] + 1
                    pending.append(nxt)
        if len(layer) == len(order):
            return layer
        for key in remaining:  # a cycle nobody enters: start it at depth 0
            if key not in layer:
                layer[key] = 0
                pending.append(key)
                break


def layout_map(graph: nx.DiGraph, *, group_by_location: bool = True, max_nodes: int = MAX_NODES) -> MapLayout:
    """Positions (top-left corners) of the nodes drawn; the busiest ``max_nodes`` are kept."""
    order = node_order(graph)
    left_out = 0
    if len(order) > max_nodes:
        busiest = sorted(order, key=lambda k: (k != CLIENT_NODE, -graph.nodes[k]["stats"].total_count))[:max_nodes]
        keep = set(busiest)
        left_out = len(order) - len(keep)
        order = [k for k in order if k in keep]
        graph = graph.subgraph(order)
    if not order:
        return MapLayout({}, [], 520.0, 2 * MARGIN + 70, 0)
    layer = _layers(graph, order)
    groups = location_clusters(graph, order) if group_by_location else {None: order}
    band_of = {key: where for where, keys in groups.items() for key in keys}
    n_layers = 1 + max(layer.values(), default=0)
    # cells[layer][band] -> nodes
    cells: list[dict[str | None, list[NodeKey]]] = [{where: [] for where in groups} for _ in range(n_layers)]
    for key in order:
        cells[layer[key]][band_of[key]].append(key)
    band_rows = {where: max(1, *(min(MAX_ROWS, len(cells[i][where])) for i in range(n_layers))) for where in groups}
    columns = [max(1, *(math.ceil(len(keys) / MAX_ROWS) for keys in cells[i].values())) for i in range(n_layers)]
    col_start = [sum(columns[:i]) for i in range(n_layers)]
    band_top: dict[str | None, float] = {}
    y = float(MARGIN)
    bands: list[tuple[str | None, float, float]] = []
    for where in groups:
        head = BAND_HEAD if where is not None or len(groups) > 1 else 0
        band_top[where] = y + head
        height = head + band_rows[where] * ROW_H
        bands.append((where, y, height))
        y += height + 10
    positions: dict[NodeKey, Placement] = {}
    for i in range(n_layers):
        for where, keys in cells[i].items():

            def barycentre(key: NodeKey) -> float:
                placed = [positions[p].y for p in graph.predecessors(key) if p in positions]
                return sum(placed) / len(placed) if placed else math.inf

            ordered = sorted(keys, key=barycentre) if i else keys
            for j, key in enumerate(ordered):
                col, row = divmod(j, MAX_ROWS)
                positions[key] = Placement(
                    MARGIN + (col_start[i] + col) * COL_W, band_top[where] + row * ROW_H + (ROW_H - NODE_H) / 2
                )
    width = 2 * MARGIN + sum(columns) * COL_W - (COL_W - NODE_W)
    return MapLayout(positions, bands, max(width, 520.0), y + 70, left_out)


def _node_title(graph: nx.DiGraph, key: NodeKey) -> str:
    data = graph.nodes[key]
    stats: Statistics = data["stats"]
    lines = [f"{key[0]} ({key[1] or 'service'})", f"{stats.total_count} requests"]
    if stats.total_count:
        lines.append(
            f"ok {stats.ok_count}, errors {stats.error_other}, throttles {stats.throttle_count}, "
            f"faults {stats.fault_count}"
        )
        lines.append(
            f"p50 {format_seconds(stats.p50_s)}, p95 {format_seconds(stats.p95_s)}, p99 {format_seconds(stats.p99_s)}"
        )
    if data.get("location"):
        lines.append(describe_location(str(data["location"]))[1])
    return "\n".join(lines)


def _strip(x: float, y: float, stats: Statistics) -> list[str]:
    total = stats.total_count
    if not total:
        return []
    out = []
    offset = 0.0
    for state, count in (
        ("ok", stats.ok_count),
        ("error", stats.error_other),
        ("throttle", stats.throttle_count),
        ("fault", stats.fault_count),
    ):
        if not count:
            continue
        w = (NODE_W - 12) * count / total
        out.append(
            f'<rect class="share {state}" x="{num(x + 6 + offset)}" y="{num(y + NODE_H - 8)}" '
            f'width="{num(w)}" height="4" fill="{COLOURS[state][1]}"/>'
        )
        offset += w
    return out


def _node(graph: nx.DiGraph, key: NodeKey, at: Placement, element_id: str, link_prefix: str | None) -> str:
    data = graph.nodes[key]
    stats: Statistics = data["stats"]
    state = health(stats)
    fill, stroke = COLOURS[state]
    x, y = at.x, at.y
    if key == CLIENT_NODE:
        shape = "client"
    elif key[1] in QUEUE_TYPES:
        shape = "queue"
    elif data["kind"] == KIND_INFERRED:
        shape = "inferred"
    else:
        shape = "service"
    data_attrs = {
        "class": f"node {shape} {state}",
        "id": element_id,
        "data-name": key[0],
        "data-type": key[1],
        "data-kind": data["kind"],
        "data-requests": stats.total_count,
        "data-ok": stats.ok_count,
        "data-errors": stats.error_other,
        "data-throttles": stats.throttle_count,
        "data-faults": stats.fault_count,
    }
    parts = [f"<g{attrs(data_attrs)}>", f"<title>{text(_node_title(graph, key))}</title>"]
    if shape == "client":
        r = NODE_H / 2
        parts.append(
            f'<circle cx="{num(x + r)}" cy="{num(y + r)}" r="{num(r)}" fill="#ffffff" stroke="#5b6675" '
            'stroke-width="1.5"/>'
        )
        parts.append(f'<text x="{num(x + r)}" y="{num(y + r + 4)}" text-anchor="middle" class="label">client</text>')
        parts.append("</g>")
        return "".join(parts)
    rx = NODE_H / 2 if shape == "queue" else 7
    dash = ' stroke-dasharray="5 3"' if shape == "inferred" else ""
    width = "2.2" if shape == "queue" else "1.5"
    parts.append(
        f'<rect x="{num(x)}" y="{num(y)}" width="{NODE_W}" height="{NODE_H}" rx="{num(rx)}" fill="{fill}" '
        f'stroke="{stroke}" stroke-width="{width}"{dash}/>'
    )
    pad = 14 if shape == "queue" else 8
    name = text(key[0], max_length=24)
    kind_label = text(key[1] or ("service" if shape == "service" else ""), max_length=31)
    summary = f"{stats.total_count} req"
    if stats.total_count:
        summary += f" · p95 {format_seconds(stats.p95_s)}"
        failed = stats.failed_count / stats.total_count
        if failed:
            summary += f" · {100 * failed:.1f}% fail"
    parts.append(f'<text x="{num(x + pad)}" y="{num(y + 15)}" class="label name">{name}</text>')
    parts.append(f'<text x="{num(x + pad)}" y="{num(y + 28)}" class="label type">{kind_label}</text>')
    parts.append(f'<text x="{num(x + pad)}" y="{num(y + 40)}" class="label stats">{text(summary)}</text>')
    parts.extend(_strip(x, y, stats))
    parts.append("</g>")
    body = "".join(parts)
    if link_prefix is not None:
        return f'<a href="#{link_prefix}{element_id}">{body}</a>'
    return body


def _edge_path(
    a: Placement, b: Placement, same_or_back: bool, self_loop: bool, source_w: float
) -> tuple[str, float, float]:
    if self_loop:
        x, y = a.x + NODE_W - 24, a.y
        return (
            f"M{num(x)},{num(y)} C{num(x)},{num(y - 30)} {num(x + 40)},{num(y - 30)} {num(x + 24)},{num(y)}",
            x + 12,
            y - 24,
        )
    if a.x == b.x:  # same column: an arc out to the right, clear of the boxes
        sx, sy = a.x + source_w, a.y + NODE_H / 2
        tx, ty = b.x + NODE_W + 2, b.y + NODE_H / 2
        reach = sx + 28 + min(60.0, abs(ty - sy) / 4)
        return (
            f"M{num(sx)},{num(sy)} C{num(reach)},{num(sy)} {num(reach)},{num(ty)} {num(tx)},{num(ty)}",
            reach - 6,
            (sy + ty) / 2,
        )
    if same_or_back:
        sx, sy = a.x + NODE_W / 2, a.y + NODE_H
        tx, ty = b.x + NODE_W / 2, b.y + NODE_H
        dip = max(sy, ty) + 34
        return (
            f"M{num(sx)},{num(sy)} C{num(sx)},{num(dip)} {num(tx)},{num(dip)} {num(tx)},{num(ty + 2)}",
            (sx + tx) / 2,
            dip - 6,
        )
    sx, sy = a.x + source_w, a.y + NODE_H / 2
    tx, ty = b.x - 2, b.y + NODE_H / 2
    bend = max(30.0, (tx - sx) / 2)
    return (
        f"M{num(sx)},{num(sy)} C{num(sx + bend)},{num(sy)} {num(tx - bend)},{num(ty)} {num(tx)},{num(ty)}",
        (sx + tx) / 2,
        (sy + ty) / 2 - 4,
    )


def _edge(graph: nx.DiGraph, key: EdgeKey, layout: MapLayout, width: float, labelled: bool) -> str:
    caller, callee = key
    data = graph.edges[caller, callee]
    stats = edge_stats(data)
    state = health(stats)
    a, b = layout.positions[caller], layout.positions[callee]
    source_w = NODE_H if caller == CLIENT_NODE else NODE_W
    path, lx, ly = _edge_path(a, b, b.x <= a.x, caller == callee, source_w)
    calls = _calls(data)
    asynchronous = bool(data["asynchronous"])
    title = f"{caller[0]} → {callee[0]}: {calls} {'messages' if asynchronous else 'calls'}"
    if stats is not None and stats.total_count:
        title += (
            f", faults {stats.fault_count}, errors {stats.error_count}; p50 {format_seconds(stats.p50_s)}, "
            f"p95 {format_seconds(stats.p95_s)}, p99 {format_seconds(stats.p99_s)}"
        )
    data_attrs = {
        "class": f"edge {state}{' async' if asynchronous else ''}",
        "data-source": caller[0],
        "data-target": callee[0],
        "data-requests": stats.total_count if stats is not None else 0,
        "data-faults": stats.fault_count if stats is not None else 0,
        "data-calls": calls,
    }
    dash = ' stroke-dasharray="7 5"' if asynchronous else ""
    marker = f"arrow-{state}"
    out = [
        f"<g{attrs(data_attrs)}><title>{text(title)}</title>",
        f'<path d="{path}" fill="none" stroke="{EDGE_COLOURS[state]}" stroke-width="{num(width)}"{dash} '
        f'stroke-opacity="0.8" marker-end="url(#{marker})"/>',
    ]
    if labelled:
        out.append(f'<text x="{num(lx)}" y="{num(ly)}" text-anchor="middle" class="edge-label">{calls}</text>')
    out.append("</g>")
    return "".join(out)


def _legend(x: float, y: float) -> str:
    items = []
    for i, (state, label) in enumerate(
        (("ok", "healthy"), ("error", "errors ≥5%"), ("throttle", "throttled ≥5%"), ("fault", "faults ≥5%"))
    ):
        fill, stroke = COLOURS[state]
        cx = x + i * 118
        items.append(
            f'<rect x="{num(cx)}" y="{num(y)}" width="16" height="12" rx="3" fill="{fill}" stroke="{stroke}"/>'
            f'<text x="{num(cx + 21)}" y="{num(y + 10)}" class="legend">{label}</text>'
        )
    sx = x + 4 * 118
    items.append(
        f'<rect x="{num(sx)}" y="{num(y)}" width="22" height="12" rx="3" fill="#fff" stroke="#555"/>'
        f'<text x="{num(sx + 27)}" y="{num(y + 10)}" class="legend">service</text>'
        f'<rect x="{num(sx + 82)}" y="{num(y)}" width="22" height="12" rx="3" fill="#fff" stroke="#555" '
        f'stroke-dasharray="4 2"/><text x="{num(sx + 109)}" y="{num(y + 10)}" class="legend">inferred</text>'
        f'<rect x="{num(sx + 170)}" y="{num(y)}" width="22" height="12" rx="6" fill="#fff" stroke="#555" '
        f'stroke-width="2"/><text x="{num(sx + 197)}" y="{num(y + 10)}" class="legend">queue / stream</text>'
        f'<path d="M{num(sx + 300)},{num(y + 6)} h26" stroke="#555" stroke-dasharray="5 3" stroke-width="2"/>'
        f'<text x="{num(sx + 331)}" y="{num(y + 10)}" class="legend">asynchronous</text>'
    )
    return f'<g class="legend">{"".join(items)}</g>'


STYLE = (
    ".label{font:12px system-ui,sans-serif;fill:#1d232b}.label.name{font-weight:600}"
    ".label.type{fill:#5b6675;font-size:10px}.label.stats{font-size:10px;fill:#39424d}"
    ".edge-label{font:10px system-ui,sans-serif;fill:#39424d;paint-order:stroke;stroke:#fff;stroke-width:3px}"
    ".band-label{font:600 11px system-ui,sans-serif;fill:#5b6675}.legend{font:11px system-ui,sans-serif;fill:#39424d}"
)


def render_map_svg(
    graph: nx.DiGraph,
    *,
    group_by_location: bool = True,
    standalone: bool = True,
    link_prefix: str | None = None,
    max_nodes: int = MAX_NODES,
    min_scale: float | None = None,
) -> str:
    """The map as one ``<svg>`` element (an XML document of its own when ``standalone``).

    ``link_prefix``: wrap each node in a link to ``#<prefix><node id>`` (the report's detail cards).
    ``min_scale``: let a page shrink the drawing to its width, but not below this share of its size
    (it scrolls beyond that, so labels stay readable).
    """
    layout = layout_map(graph, group_by_location=group_by_location, max_nodes=max_nodes)
    ids = element_ids(graph)
    shown = layout.positions
    edges = [(a, b) for a, b in graph.edges if a in shown and b in shown]
    edges.sort(key=lambda e: (ids[e[0]], ids[e[1]]))
    most = max((_calls(graph.edges[e]) for e in edges), default=0)
    out = []
    if standalone:
        out.append('<?xml version="1.0" encoding="UTF-8"?>\n')
    w, h = layout.width, layout.height
    out.append(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="service-map" width="{num(w)}" height="{num(h)}" '
        f'viewBox="0 0 {num(w)} {num(h)}" role="img" aria-label="service map"'
        + (f' style="max-width:100%;height:auto;min-width:{num(w * min_scale)}px"' if min_scale else "")
        + ">"
    )
    out.append(f"<title>service map: {len(shown)} nodes, {len(edges)} edges</title>")
    out.append(f"<style>{STYLE}</style><defs>")
    for state, colour in EDGE_COLOURS.items():
        out.append(
            f'<marker id="arrow-{state}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
            f'markerUnits="userSpaceOnUse" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
        )
    out.append("</defs>")
    out.append(f'<rect width="{num(w)}" height="{num(h)}" fill="#ffffff"/>')
    for where, top, height in layout.bands:
        if where is None:
            continue
        kind, label = describe_location(where)
        out.append(
            f'<g class="band {kind}"><rect x="{MARGIN / 2}" y="{num(top)}" width="{num(w - MARGIN)}" '
            f'height="{num(height)}" rx="10" fill="#f6f8fb" stroke="#d5dbe3"/>'
            f'<text x="{MARGIN}" y="{num(top + 16)}" class="band-label">{text(label, max_length=80)}</text></g>'
        )
    labelled = len(edges) <= 150
    spread = 6.0 if len(edges) <= 60 else 3.0  # dense maps get thinner edges
    for key in edges:
        calls = _calls(graph.edges[key])
        width = 1.0 + spread * (math.log1p(calls) / math.log1p(most) if most else 0.0)
        out.append(_edge(graph, key, layout, width, labelled))
    for key, at in shown.items():
        out.append(_node(graph, key, at, ids[key], link_prefix))
    out.append(_legend(MARGIN, h - 40))
    if layout.left_out:
        out.append(
            f'<text x="{MARGIN}" y="{num(h - 12)}" class="legend">{layout.left_out} quieter nodes left out '
            f"(the busiest {len(shown)} are drawn)</text>"
        )
    out.append("</svg>")
    return "".join(out) + ("\n" if standalone else "")
