"""The Diff screen: two traces matched by (service, operation) path, ranked by what moved the end-to-end time."""

from __future__ import annotations

from rich.text import Text
from spanscope.analysis.diff import DiffNode, DiffSide, TraceDiff, diff_traces
from spanscope.collectors.errors import SpanscopeError
from spanscope.collectors.model import xray_trace_id
from spanscope.render import cells
from spanscope.render.diff import CHANGES, node_label, outside_note, side_text, signed_duration
from spanscope.render.units import format_duration
from spanscope.tui.screens.base import SpanscopeScreen
from spanscope.tui.widgets.nav_table import NavTable
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static

CHANGE_STYLE = {
    "added": "bold cyan",
    "missing": "bold magenta",
    "failed": "bold red",
    "recovered": "green",
    "slower": "yellow",
    "faster": "green",
    "same": "dim",
}
COLUMNS = ("Contribution", "Change", "A", "B", "Path")
MAX_ROWS = 2_000  # ranked: the rest contribute least; `spanscope diff --json` has every path


class DiffScreen(SpanscopeScreen):
    """Trace A (the baseline) against trace B. Enter opens the row's span's trace; x swaps A and B."""

    BINDINGS = [
        Binding("escape,backspace", "back", "Back"),
        Binding("x", "swap", "Swap A/B"),
    ]

    def __init__(self, trace_a: str, trace_b: str) -> None:
        super().__init__()
        self.trace_a = trace_a
        self.trace_b = trace_b
        self.result: TraceDiff | None = None
        self._rows: list[DiffNode] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text(f"comparing {self.trace_a} with {self.trace_b} …"), id="diff-header")
        yield NavTable(id="diff-table")
        yield Footer()

    @property
    def table(self) -> NavTable:
        return self.query_one("#diff-table", NavTable)

    def on_mount(self) -> None:
        super().on_mount()
        self.table.add_keyed_columns(COLUMNS)
        self.load()
        self.table.focus()

    @work(thread=True, exclusive=True, group="diff", exit_on_error=False)
    def load(self) -> None:
        try:
            a = self.source.trace(self.trace_a)
            b = self.source.trace(self.trace_b)
        except SpanscopeError as exc:
            self.app.call_from_thread(self._failed, str(exc))
            return
        result = diff_traces(a, b)
        self.app.call_from_thread(self._show, result)

    def _failed(self, message: str) -> None:
        self.query_one("#diff-header", Static).update(cells.safe(message, "bold red", max_length=300))

    def _show(self, result: TraceDiff) -> None:
        self.result = result
        header = Text()
        header.append(f"A {xray_trace_id(result.trace_a)}  ", style="bold")
        header.append(f"{format_duration(result.duration_a_ns)}\n")
        header.append(f"B {xray_trace_id(result.trace_b)}  ", style="bold")
        header.append(f"{format_duration(result.duration_b_ns)}\n")
        delta = result.delta_ns
        header.append("end-to-end ")
        header.append(signed_duration(delta), style="bold red" if delta > 0 else "bold green" if delta < 0 else "")
        header.append("   " + ", ".join(f"{result.count(c)} {c}" for c in CHANGES), style="dim")
        note = outside_note(result)
        if note:
            header.append(f"\n{note}", style="dim")
        self.query_one("#diff-header", Static).update(header)
        table = self.table
        table.clear()
        self._rows = result.nodes[:MAX_ROWS]
        table.add_rows([_cells(result, node) for node in self._rows])

    @on(DataTable.RowSelected, "#diff-table")
    def _open(self, event: DataTable.RowSelected) -> None:
        if 0 <= event.cursor_row < len(self._rows):
            node = self._rows[event.cursor_row]
            self.spanscope.open_trace(self.trace_a if node.b.count == 0 else self.trace_b)

    def action_swap(self) -> None:
        self.trace_a, self.trace_b = self.trace_b, self.trace_a
        self.load()

    def action_back(self) -> None:
        self.app.pop_screen()


def _side(side: DiffSide) -> Text:
    style = cells.STATUS_STYLE[side.status] if side.status is not None and side.status.failed else ""
    return Text(side_text(side), style=style, no_wrap=True)


def _cells(result: TraceDiff, node: DiffNode) -> tuple[Text, ...]:
    contribution = node.contribution_ns
    return (
        Text(
            signed_duration(contribution),
            style="red" if contribution > 0 else "green" if contribution < 0 else "",
            justify="right",
        ),
        Text(node.change, style=CHANGE_STYLE[node.change]),
        _side(node.a),
        _side(node.b),
        cells.safe(node_label(result, node), max_length=100),
    )
