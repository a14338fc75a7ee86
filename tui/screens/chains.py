"""The Failure chains screen: where failures start and how they travel; select a chain to list its traces."""

from __future__ import annotations

from rich.text import Text
from spanscope.analysis.failures import FailureChain
from spanscope.collectors.model import TraceSummary
from spanscope.render import cells
from spanscope.tui.data import failure_chains_of
from spanscope.tui.screens.base import SpanscopeScreen
from spanscope.tui.widgets.nav_table import NavTable
from textual import on, work
from textual.app import ComposeResult
from textual.widgets import DataTable, Footer, Header, Static

CHAIN_COLUMNS = ("Count", "Origin", "Path", "Stopped by")
TRACE_COLUMNS = ("Time (UTC)", "Entry point", "Duration", "Status", "Trace ID")


def chain_path(chain: FailureChain) -> str:
    return " → ".join(f"{hop.service}: {hop.operation}" + (f" ({hop.via})" if hop.via else "") for hop in chain.path)


class ChainsScreen(SpanscopeScreen):
    """Failure chains over the newest traces, most frequent first; the highlighted chain's traces are listed
    under it, Enter moves into that list."""

    def __init__(self) -> None:
        super().__init__()
        self.chains: list[FailureChain] = []
        self.trace_rows: list[TraceSummary] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text("finding failure chains…"), id="chains-status")
        yield NavTable(id="chains-table")
        yield Static(Text("Traces of the selected chain", style="bold"), classes="section-title")
        yield NavTable(id="chain-traces")
        yield Footer()

    def on_mount(self) -> None:
        chains = self.query_one("#chains-table", NavTable)
        chains.add_keyed_columns(CHAIN_COLUMNS)
        self.query_one("#chain-traces", NavTable).add_keyed_columns(TRACE_COLUMNS)
        chains.focus()
        self.compute()

    @work(thread=True, exclusive=True, group="chains", exit_on_error=False)
    def compute(self) -> None:
        count, chains = failure_chains_of(self.source)
        self.app.call_from_thread(self._show, count, chains)

    def _show(self, count: int, chains: list[FailureChain]) -> None:
        self.chains = chains
        table = self.query_one("#chains-table", NavTable)
        table.clear()
        table.add_rows(
            [
                (
                    cells.number(c.count, style="bold red"),
                    cells.safe(f"{c.origin[0]}: {c.origin[1]}", "red", max_length=50),
                    cells.safe(chain_path(c), max_length=120),
                    cells.safe(
                        f"{c.stopped_by[0]}: {c.stopped_by[1]}" if c.stopped_by else "-", "green", max_length=50
                    ),
                )
                for c in chains
            ]
        )
        message = f"{len(chains):,} failure chains over the newest {count:,} traces"
        if not chains:
            message += " (no failures)"
        self.query_one("#chains-status", Static).update(Text(message))

    @on(DataTable.RowHighlighted, "#chains-table")
    def _chain_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """A highlighted chain lists its traces at once (the cursor stays on the chains)."""
        if 0 <= event.cursor_row < len(self.chains):
            self.load_traces(list(self.chains[event.cursor_row].trace_ids), focus=False)

    @on(DataTable.RowSelected, "#chains-table")
    def _chain_selected(self, event: DataTable.RowSelected) -> None:
        if 0 <= event.cursor_row < len(self.chains):
            self.load_traces(list(self.chains[event.cursor_row].trace_ids), focus=True)

    @work(thread=True, exclusive=True, group="chain-traces", exit_on_error=False)
    def load_traces(self, trace_ids: list[str], *, focus: bool) -> None:
        rows = self.source.summaries_of(trace_ids)
        self.app.call_from_thread(self._show_traces, rows, focus)

    def _show_traces(self, rows: list[TraceSummary], focus: bool) -> None:
        self.trace_rows = rows
        table = self.query_one("#chain-traces", NavTable)
        table.clear()
        table.add_rows(
            [
                (
                    cells.clock(s.start_ns),
                    cells.safe(f"{s.root_service}: {s.root_name}", max_length=60),
                    cells.duration(s.duration_ns),
                    cells.summary_status(s),
                    Text(s.trace_id, style="dim"),
                )
                for s in rows
            ]
        )
        if rows and focus:
            table.focus()

    @on(DataTable.RowSelected, "#chain-traces")
    def _trace_selected(self, event: DataTable.RowSelected) -> None:
        if 0 <= event.cursor_row < len(self.trace_rows):
            self.spanscope.open_trace(self.trace_rows[event.cursor_row].trace_id)
