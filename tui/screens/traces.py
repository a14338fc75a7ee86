"""The Traces screen: newest traces in a sortable table, filtered by X-Ray filter expressions in a worker."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from spanscope.collectors.model import Trace, TraceSummary
from spanscope.render import cells
from spanscope.tui.screens.base import SpanscopeScreen
from spanscope.tui.widgets.filter_box import FilterBox
from spanscope.tui.widgets.nav_table import NavTable
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import get_current_worker

Predicate = Callable[[Trace], bool]

# (column label, sort key)
COLUMNS: tuple[tuple[str, Callable[[TraceSummary], object]], ...] = (
    ("Time (UTC)", lambda s: s.start_ns),
    ("Entry point", lambda s: (s.root_service, s.root_name)),
    ("Duration", lambda s: s.duration_ns),
    ("Status", lambda s: (s.fault, s.throttle, s.error)),
    ("Spans", lambda s: s.span_count),
    ("Trace ID", lambda s: s.trace_id),  # before the services, so the whole id fits in 140 columns
    ("Services", lambda s: s.services),
)


class TracesScreen(SpanscopeScreen):
    """Trace summaries, newest first; Enter opens one."""

    BINDINGS = [
        Binding("slash,f", "focus_filter", "Filter"),
        Binding("s", "sort_next", "Sort"),
        Binding("r", "sort_reverse", "Reverse"),
        Binding("m", "mark", "Mark to compare", show=False),
        Binding("escape", "focus_table", "Table", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[TraceSummary] = []
        self.expression = ""
        self.predicate: Predicate | None = None
        self.sort_column = 0
        self.sort_reverse = True
        self.scanned = 0
        self.loading = False
        self._ordered: list[TraceSummary] = []
        self.marked: list[str] = []  # trace ids marked with m; the second mark opens the Diff screen

    def compose(self) -> ComposeResult:
        yield Header()
        yield FilterBox(id="filter")
        yield Static(Text("loading…"), id="traces-status")
        yield NavTable(id="traces-table")
        yield Footer()

    @property
    def table(self) -> NavTable:
        return self.query_one("#traces-table", NavTable)

    def on_mount(self) -> None:
        table = self.table
        table.add_keyed_columns(label for label, _key in COLUMNS)
        requested = self.spanscope.take_requested_filter()
        if requested is not None:
            self.query_one(FilterBox).set_expression(requested)
        else:
            self.load_newest()
        table.focus()

    def on_screen_resume(self) -> None:
        requested = self.spanscope.take_requested_filter()
        if requested is not None:
            self.query_one(FilterBox).set_expression(requested)

    # loading ---------------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="traces", exit_on_error=False)
    def load_newest(self) -> None:
        self.app.call_from_thread(self._begin, "")
        rows = self.source.newest()
        if get_current_worker().is_cancelled:
            return
        self.app.call_from_thread(self._show_page, rows, None)
        total = self.source.trace_count()
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_total, len(rows), total)

    @work(thread=True, exclusive=True, group="traces", exit_on_error=False)
    def scan(self, expression: str, predicate: Predicate) -> None:
        self.app.call_from_thread(self._begin, expression)
        worker = get_current_worker()
        for batch in self.source.scan(predicate):
            if worker.is_cancelled:
                return
            self.app.call_from_thread(self._add_matches, batch.matches, batch.scanned, batch.done)
            if batch.done:
                return

    def _begin(self, expression: str) -> None:
        self.rows = []
        self._ordered = []
        self.scanned = 0
        self.loading = True
        self.table.clear()
        self._status(f"filtering: {expression} …" if expression else "loading…")

    def _show_page(self, rows: list[TraceSummary], total: int | None) -> None:
        self.loading = False
        self.rows = rows
        self._render_rows()
        self._status(f"{len(rows):,} traces")

    def _show_total(self, shown: int, total: int) -> None:
        if total > shown and not self.expression:
            self._status(f"{shown:,} traces (the newest of {total:,})")

    def _add_matches(self, matches: list[TraceSummary], scanned: int, done: bool) -> None:
        self.scanned = scanned
        self.loading = not done
        if matches:
            self.rows.extend(matches)
            if self.sort_column == 0 and self.sort_reverse:  # scan order already: append the new rows
                self._ordered.extend(matches)
                self.table.add_rows([_cells(s) for s in matches])
            else:
                self._render_rows()
        state = "" if done else " …"
        self._status(f"{len(self.rows):,} matching traces of {scanned:,} scanned (newest first){state}")

    def _status(self, message: str) -> None:
        label = Text(message)
        if self.expression:
            label.append("   filter: ", style="dim")
            label.append(self.expression, style="bold")
        self.query_one("#traces-status", Static).update(label)

    def _render_rows(self) -> None:
        table = self.table
        key = COLUMNS[self.sort_column][1]
        rows = sorted(self.rows, key=key, reverse=self.sort_reverse)  # type: ignore[arg-type]
        selected = None
        if table.row_count and table.cursor_row < table.row_count:
            selected = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        table.clear()
        table.add_rows([_cells(s) for s in rows])
        # row keys are assigned by position: remember the trace ids in the same order
        self._ordered = rows
        if selected is not None:
            for i, s in enumerate(rows):
                if s.trace_id == selected:
                    table.move_cursor(row=i)
                    break

    # events ----------------------------------------------------------------------------------------
    @on(FilterBox.Applied)
    def _filter(self, event: FilterBox.Applied) -> None:
        self.expression = event.expression
        self.predicate = event.predicate
        if event.predicate is None:
            self.load_newest()
        else:
            self.scan(event.expression, event.predicate)
        self.table.focus()

    @on(DataTable.RowSelected, "#traces-table")
    def _open(self, event: DataTable.RowSelected) -> None:
        index = event.cursor_row
        ordered = self._ordered
        if 0 <= index < len(ordered):
            self.spanscope.open_trace(ordered[index].trace_id)

    @on(DataTable.HeaderSelected, "#traces-table")
    def _sort_by_header(self, event: DataTable.HeaderSelected) -> None:
        if event.column_index == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column = event.column_index
            self.sort_reverse = self.sort_column in (0, 2, 3, 4)
        self._render_rows()

    def action_focus_filter(self) -> None:
        self.query_one(FilterBox).input.focus()

    def action_focus_table(self) -> None:
        self.table.focus()

    def action_sort_next(self) -> None:
        self.sort_column = (self.sort_column + 1) % len(COLUMNS)
        self.sort_reverse = self.sort_column in (0, 2, 3, 4)
        self._render_rows()
        self.notify(f"sorted by {COLUMNS[self.sort_column][0]}", markup=False, timeout=1.5)

    def action_mark(self) -> None:
        """Mark the highlighted trace as A, then the next one as B: the Diff screen compares them."""
        table = self.table
        if not (0 <= table.cursor_row < len(self._ordered)):
            return
        trace_id = self._ordered[table.cursor_row].trace_id
        if trace_id in self.marked:
            self.marked.remove(trace_id)
            self.notify("mark removed", markup=False, timeout=1.5)
            return
        self.marked.append(trace_id)
        if len(self.marked) < 2:
            self.notify("marked as A: mark another trace (m) to compare them", markup=False, timeout=3)
            return
        from spanscope.tui.screens.diff import DiffScreen

        first, second = self.marked
        self.marked = []
        self.app.push_screen(DiffScreen(first, second))

    def action_sort_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self._render_rows()

    def on_live(self, traces: list[Trace]) -> None:
        if self.loading:
            return
        predicate = self.predicate
        page = self.source.page_size
        shown = traces[-page:]  # a burst shows its newest page; older ones stay in the store
        not_shown = len(traces) - len(shown) + self.live_not_loaded
        fresh: list[TraceSummary] = []
        for trace in shown:
            try:
                if predicate is None or predicate(trace):
                    fresh.append(trace.summary())
            except Exception:
                continue
        if not fresh and not not_shown:
            return
        ids = {s.trace_id for s in fresh}
        self.rows = fresh + [s for s in self.rows if s.trace_id not in ids]
        self._render_rows()
        self._status(live_status(len(self.rows), self.spanscope.store_traces, len(fresh), not_shown, page))


def live_status(rows: int, store_traces: int | None, fresh: int, not_shown: int, page: int) -> str:
    """The status after a live update: rows shown, the store's count, and what a trimmed burst left out."""
    text = f"{rows:,} traces shown"
    if store_traces is not None:
        text += f", {store_traces:,} in the store"
    text += f" (live: {fresh:,} new or updated"
    if not_shown:
        text += f"; this burst had {not_shown:,} more, not shown: only its newest {page:,} are"
    return text + ")"


def _cells(s: TraceSummary) -> tuple[Text, ...]:
    """One table row: every span-derived string cleaned and literal."""
    return (
        cells.clock(s.start_ns),
        cells.safe(f"{s.root_service}: {s.root_name}", max_length=50),
        cells.duration(s.duration_ns),
        cells.summary_status(s),
        cells.number(s.span_count),
        Text(s.trace_id, style="dim"),
        cells.safe(", ".join(s.services), max_length=60),
    )
