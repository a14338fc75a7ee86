"""The Service map screen: nodes and edges with request rate, error and fault percentages and latency, by health.

Nodes are grouped by placement (region, Local Zone, Wavelength zone, Outpost, Snowball device, edge location,
device), one heading row per group, as ``spanscope map --group-by location`` does.

Select a node or an edge (Enter) to list its traces on the Traces screen, through a filter
expression (``service(id(...))`` / ``edge(id(...), id(...))``).
"""

from __future__ import annotations

import json
from typing import Any

import networkx as nx
from rich.text import Text
from spanscope.collectors.model import Trace
from spanscope.collectors.service_map import CLIENT_NODE, KIND_CLIENT, Statistics
from spanscope.collectors.service_map.location import describe_location, location_clusters
from spanscope.render import cells
from spanscope.tui.screens.base import SpanscopeScreen
from spanscope.tui.widgets.nav_table import NavTable
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static

NodeKey = tuple[str, str]

NODE_COLUMNS = ("Node", "Type", "Req/min", "Requests", "Error %", "Fault %", "Mean", "p50", "p95", "Where")
EDGE_COLUMNS = ("From", "To", "Req/min", "Requests", "Error %", "Fault %", "Mean", "p95", "Async")


def _quote(text: str) -> str:
    return json.dumps(text)


def node_filter(key: NodeKey) -> str:
    """The filter expression selecting traces through a node."""
    name, node_type = key
    if node_type:
        return f"service(id(name: {_quote(name)}, type: {_quote(node_type)}))"
    return f"service({_quote(name)})"


def edge_filter(source: NodeKey, target: NodeKey) -> str:
    """The filter expression selecting traces through an edge (client edges select the entry node)."""
    if source == CLIENT_NODE:
        return node_filter(target)

    def ref(key: NodeKey) -> str:
        return f"id(name: {_quote(key[0])}, type: {_quote(key[1])})" if key[1] else _quote(key[0])

    # the source by name only: the filter matches a source's type against the calling span, which for a
    # client subsegment carries no origin
    return f"edge({_quote(source[0])}, {ref(target)})"


class ServiceMapScreen(SpanscopeScreen):
    """Service map of the newest traces, kept live."""

    BINDINGS = [
        Binding("tab", "app.focus_next", "Nodes/edges", show=False),
        Binding("R", "reload", "Reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.node_keys: list[NodeKey | None] = []  # None: a placement heading row
        self.edge_keys: list[tuple[NodeKey, NodeKey]] = []
        self._refreshing = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text("building the service map…"), id="map-status")
        yield Static(Text("Nodes", style="bold"), classes="section-title")
        yield NavTable(id="map-nodes")
        yield Static(Text("Edges", style="bold"), classes="section-title")
        yield NavTable(id="map-edges")
        yield Footer()

    def on_mount(self) -> None:
        nodes = self.query_one("#map-nodes", NavTable)
        nodes.add_keyed_columns(NODE_COLUMNS)
        self.query_one("#map-edges", NavTable).add_keyed_columns(EDGE_COLUMNS)
        nodes.focus()
        self.refresh_map()

    @work(thread=True, exclusive=True, group="map", exit_on_error=False)
    def refresh_map(self) -> None:
        graph = self.spanscope.live_map.graph()
        self.app.call_from_thread(self._show, graph)

    def action_reload(self) -> None:
        self.refresh_map()

    def on_live(self, traces: list[Trace]) -> None:
        self.refresh_map()

    def _show(self, graph: nx.DiGraph) -> None:
        start, end = graph.graph.get("start_ns"), graph.graph.get("end_ns")
        minutes = max(1 / 60, ((end or 0) - (start or 0)) / 60e9) if start and end else None
        status = Text(
            f"{graph.graph.get('trace_count', 0):,} traces, {graph.number_of_nodes()} nodes, "
            f"{graph.number_of_edges()} edges (newest traces; Enter lists a node's or an edge's traces)"
        )
        self.query_one("#map-status", Static).update(status)

        nodes = self.query_one("#map-nodes", NavTable)
        keep = nodes.cursor_row
        nodes.clear()
        order = sorted(graph.nodes, key=lambda key: (graph.nodes[key]["kind"] != KIND_CLIENT, key))
        clusters = location_clusters(graph, order)
        grouped = any(where is not None for where in clusters)
        self.node_keys = []
        rows: list[tuple[Text, ...]] = []
        for where, members in clusters.items():
            if grouped and not (where is None and members == [CLIENT_NODE]):
                title = "unplaced" if where is None else describe_location(where)[1]
                rows.append((cells.safe(f"▾ {title}", "bold", max_length=80),) + (Text(""),) * (len(NODE_COLUMNS) - 1))
                self.node_keys.append(None)
            for key in members:
                rows.append(self._node_row(key, graph.nodes[key], minutes))
                self.node_keys.append(key)
        nodes.add_rows(rows)
        if self.node_keys:
            nodes.move_cursor(row=min(keep, len(self.node_keys) - 1))

        edges = self.query_one("#map-edges", NavTable)
        keep = edges.cursor_row
        edges.clear()
        edge_order = sorted(graph.edges(data=True), key=lambda item: (item[0], item[1]))
        self.edge_keys = [(a, b) for a, b, _data in edge_order]
        edges.add_rows([self._edge_row(a, b, data, minutes) for a, b, data in edge_order])
        if self.edge_keys:
            edges.move_cursor(row=min(keep, len(self.edge_keys) - 1))

    @staticmethod
    def _stats_cells(stats: Statistics | None, minutes: float | None) -> list[Text]:
        if stats is None:
            stats = Statistics()
        total = stats.total_count
        rate = total / minutes if minutes else 0.0
        return [
            cells.number(rate, "{:,.1f}"),
            cells.number(total),
            cells.percent(stats.error_rate),
            cells.percent(stats.fault_rate, warn=0.001, bad=0.01),
            cells.seconds(stats.mean_s),
        ]

    def _node_row(self, key: NodeKey, data: dict[str, Any], minutes: float | None) -> tuple[Text, ...]:
        stats: Statistics = data["stats"]
        style = cells.health_style(stats.error_rate, stats.fault_rate) if stats.total_count else "dim"
        marker = "● " if data["kind"] != KIND_CLIENT else "○ "
        return (
            cells.safe(marker + key[0], style, max_length=40),
            cells.safe(key[1] or data["kind"], "dim", max_length=40),
            *self._stats_cells(stats, minutes),
            cells.seconds(stats.p50_s),
            cells.seconds(stats.p95_s),
            cells.safe(data.get("location") or "", "dim", max_length=20),
        )

    def _edge_row(self, a: NodeKey, b: NodeKey, data: dict[str, Any], minutes: float | None) -> tuple[Text, ...]:
        stats: Statistics | None = data.get("stats") or data.get("link_stats")
        style = cells.health_style(stats.error_rate, stats.fault_rate) if stats and stats.total_count else "dim"
        return (
            cells.safe(a[0], style, max_length=40),
            cells.safe("→ " + b[0], style, max_length=40),
            *self._stats_cells(stats, minutes),
            cells.seconds(stats.p95_s if stats else None),
            Text("link" if data.get("asynchronous") else ("sync+link" if data.get("link_stats") else "")),
        )

    @on(DataTable.RowSelected, "#map-nodes")
    def _node_selected(self, event: DataTable.RowSelected) -> None:
        if 0 <= event.cursor_row < len(self.node_keys):
            key = self.node_keys[event.cursor_row]
            if key is None:  # a placement heading
                return
            if key == CLIENT_NODE:
                self.spanscope.show_traces("")
            else:
                self.spanscope.show_traces(node_filter(key))

    @on(DataTable.RowSelected, "#map-edges")
    def _edge_selected(self, event: DataTable.RowSelected) -> None:
        if 0 <= event.cursor_row < len(self.edge_keys):
            source, target = self.edge_keys[event.cursor_row]
            self.spanscope.show_traces(edge_filter(source, target))
