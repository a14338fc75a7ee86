"""The Hotspots screen: operations ranked by time on the critical path over the newest traces."""

from __future__ import annotations

from rich.text import Text
from spanscope.analysis.hotspots import Hotspot
from spanscope.render import cells
from spanscope.tui.data import hotspots_of
from spanscope.tui.screens.base import SpanscopeScreen
from spanscope.tui.widgets.nav_table import NavTable
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static

COLUMNS = ("Service", "Operation", "Critical path", "Self", "Count", "p50", "p95", "p99")


class HotspotsScreen(SpanscopeScreen):
    """Where the end-to-end latency goes; Enter lists the traces of an operation's service."""

    BINDINGS = [Binding("R", "reload", "Reload")]

    def __init__(self) -> None:
        super().__init__()
        self.items: list[Hotspot] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text("computing hotspots…"), id="hotspots-status")
        yield NavTable(id="hotspots-table")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(NavTable)
        table.add_keyed_columns(COLUMNS)
        table.focus()
        self.compute()

    def action_reload(self) -> None:
        self.compute()

    @work(thread=True, exclusive=True, group="hotspots", exit_on_error=False)
    def compute(self) -> None:
        count, items = hotspots_of(self.source)
        self.app.call_from_thread(self._show, count, items)

    def _show(self, count: int, items: list[Hotspot]) -> None:
        self.items = items
        total = sum(h.critical_path_ns for h in items) or 1
        table = self.query_one(NavTable)
        table.clear()
        table.add_rows(
            [
                (
                    cells.safe(h.service, max_length=40),
                    cells.safe(h.operation, max_length=60),
                    Text(f"{h.critical_path_ns / 1e9:,.3f}s {h.critical_path_ns / total * 100:5.1f}%", justify="right"),
                    cells.duration(h.self_ns),
                    cells.number(h.count),
                    cells.duration(h.p50_ns),
                    cells.duration(h.p95_ns),
                    cells.duration(h.p99_ns),
                )
                for h in items
            ]
        )
        self.query_one("#hotspots-status", Static).update(
            Text(f"{len(items):,} operations over the newest {count:,} traces, most critical-path time first")
        )

    @on(DataTable.RowSelected, "#hotspots-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        if 0 <= event.cursor_row < len(self.items):
            hotspot = self.items[event.cursor_row]
            self.spanscope.show_traces(f"service({_quote(hotspot.service)})")


def _quote(text: str) -> str:
    import json

    return json.dumps(text)
