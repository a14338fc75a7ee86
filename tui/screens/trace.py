"""The Trace screen: one trace's waterfall (critical path, failure origins, folding, search) and a span detail panel."""

from __future__ import annotations

from rich.text import Text
from spanscope.analysis.cold_starts import INITIALIZATION, cold_children, split_initialization
from spanscope.analysis.critical_path import critical_path_nodes
from spanscope.analysis.skew import adjust_clock_skew
from spanscope.analysis.workflows import MAX_WORKFLOW_TRACES, build_workflow, follow_links, one_timeline
from spanscope.collectors.errors import SpanscopeError
from spanscope.collectors.model import Trace
from spanscope.render import cells
from spanscope.render.units import format_duration, format_time
from spanscope.render.waterfall_rows import WaterfallRows, layout
from spanscope.tui.screens.base import SpanscopeScreen
from spanscope.tui.widgets.flame_graph import FlameGraph
from spanscope.tui.widgets.span_detail import SpanDetail, describe
from spanscope.tui.widgets.waterfall import Waterfall
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer, Header, Input, Static


class TraceScreen(SpanscopeScreen):
    """One trace. Escape goes back; / searches within the trace; d shows or hides the detail panel; i shows
    or hides the flame graph (icicle) under the waterfall."""

    BINDINGS = [
        Binding("escape,backspace", "back", "Back"),
        Binding("slash", "search", "Search"),
        Binding("d", "toggle_detail", "Detail"),
        Binding("i", "toggle_flame", "Flame graph"),
    ]

    def __init__(self, trace_id: str) -> None:
        super().__init__()
        self.trace_id = trace_id
        self.rows: WaterfallRows | None = None
        self.follow_links = False  # `w` in the waterfall: the trace's whole workflow on one timeline
        self.workflow_note = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text(f"trace {self.trace_id} loading…"), id="trace-header")
        yield Input(
            placeholder=(
                "search spans: name, service, id, status message, attribute key or value, or key=value; "
                "Enter finds, n/N move"
            ),
            id="trace-search",
        )
        with Horizontal(id="trace-body"):
            yield Waterfall(id="waterfall")
            yield SpanDetail(id="span-detail")
        yield FlameGraph(id="flame-graph")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#trace-search", Input).display = False
        self.query_one(SpanDetail).border_title = "span"
        flame = self.query_one(FlameGraph)
        flame.border_title = "flame graph   * critical path"
        flame.display = False
        self.load()

    def on_live(self, traces: list[Trace]) -> None:
        """Late or completed spans of this trace arrived: lay it out again, keeping the place."""
        if any(t.trace_id == self.trace_id for t in traces):
            self.load()

    @work(thread=True, exclusive=True, group="trace", exit_on_error=False)
    def load(self) -> None:
        try:
            trace, moved = adjust_clock_skew(self.source.trace(self.trace_id))
            note = f"~ {len(moved)} span(s) clock-skew adjusted" if moved else ""
            if self.follow_links:
                store = self.source.store()
                members, notes = follow_links(
                    trace,
                    lambda ids: [adjust_clock_skew(t)[0] for t in store.iter_traces(trace_ids=ids)],
                    lambda tid: store.linking_trace_ids(tid, limit=MAX_WORKFLOW_TRACES + 1),
                )
                workflow = build_workflow(members, notes=notes)
                rows = layout(one_timeline(workflow))
                critical: dict[int, list[tuple[int, int]]] = {}
                for piece in workflow.path:
                    pos = rows.trace.position(piece.span_id)
                    if pos is not None and (not piece.piece or piece.piece == INITIALIZATION):
                        critical.setdefault(pos, []).append((piece.start_ns, piece.end_ns))
                rows.critical = critical
                note = "   ".join(
                    x
                    for x in (
                        f"workflow: {len(members)} trace(s), {len(workflow.hops)} hop(s), end-to-end path covers "
                        f"{workflow.coverage:.0%} (w: this trace only)",
                        note,
                        *notes,
                    )
                    if x
                )
            else:
                rows = layout(trace)
                cold = cold_children(trace)
                if cold:  # a cold start's Initialization is the function's stretch, not its caller's
                    rows.critical = {}
                    nodes = critical_path_nodes(trace)
                    for node, start, end, _init in split_initialization(trace, nodes, cold):
                        rows.critical.setdefault(node, []).append((start, end))
        except SpanscopeError as exc:
            self.app.call_from_thread(self._failed, str(exc))
            return
        self.workflow_note = note
        self.app.call_from_thread(self._show, rows)

    @on(Waterfall.FollowLinks)
    def _follow_links(self, event: Waterfall.FollowLinks) -> None:
        self.follow_links = not self.follow_links
        self.rows = None  # a different trace layout: nothing to keep
        self.load()

    def _failed(self, message: str) -> None:
        self.query_one("#trace-header", Static).update(cells.safe(message, "bold red", max_length=300))

    def _show(self, rows: WaterfallRows) -> None:
        waterfall = self.query_one(Waterfall)
        previous = self.rows
        keep: tuple[str, set[str]] | None = None
        if previous is not None:
            spans = previous.trace.spans
            current = waterfall.current_node
            keep = (
                spans[current].span_id if current is not None else "",
                {spans[n].span_id for n in waterfall.collapsed},
            )
        self.rows = rows
        self._header(rows.trace)
        waterfall.border_title = f"{len(rows.order):,} spans   bars: 0 → {format_duration(rows.total_ns)}"
        waterfall.show(rows)
        self.query_one(FlameGraph).show(rows)
        if keep is not None:
            span_id, collapsed = keep
            waterfall.restore(
                {n for n in (rows.trace.position(s) for s in collapsed) if n is not None},
                rows.trace.position(span_id),
            )
        else:
            waterfall.focus()

    def _header(self, trace: Trace) -> None:
        summary = trace.summary()
        rows = self.rows
        text = Text()
        text.append(f"{summary.xray_id}  ", style="bold")
        text.append(cells.summary_status(summary))
        text.append(f"  {format_time(summary.start_ns)}  {format_duration(summary.duration_ns)}  ")
        text.append(f"{summary.span_count:,} spans  ")
        text.append_text(cells.safe(", ".join(summary.services), max_length=80))
        if rows is not None:
            origins = sum(1 for role in rows.roles.values() if role.value == "origin")
            text.append(f"\ncritical path: {len(rows.critical):,} spans   failure origins: {origins}", style="dim")
            text.append("   (* critical path, █ critical stretch, ✗ origin, ↑ propagated, ■ stopped)", style="dim")
            if self.workflow_note:
                text.append("\n")
                text.append_text(cells.safe(self.workflow_note, "dim", max_length=300))
        self.query_one("#trace-header", Static).update(text)

    @on(Waterfall.SpanHighlighted)
    def _highlighted(self, event: Waterfall.SpanHighlighted) -> None:
        rows = self.rows
        if rows is None:
            return
        span = rows.trace.spans[event.node]
        detail = describe(
            span,
            role=rows.roles.get(event.node),
            on_critical_path=event.node in rows.critical,
            trace_start_ns=rows.start_ns,
        )
        self.query_one(SpanDetail).show(detail)
        self.query_one(FlameGraph).mark(event.node)

    @on(FlameGraph.SpanClicked)
    def _flame_clicked(self, event: FlameGraph.SpanClicked) -> None:
        waterfall = self.query_one(Waterfall)
        waterfall.reveal(event.node)
        waterfall.focus()

    @on(Input.Submitted, "#trace-search")
    def _search(self, event: Input.Submitted) -> None:
        waterfall = self.query_one(Waterfall)
        hits = waterfall.search(event.value)
        self.notify(f"{hits} matching spans" if event.value.strip() else "search cleared", markup=False, timeout=2)
        waterfall.focus()

    def action_search(self) -> None:
        search = self.query_one("#trace-search", Input)
        search.display = True
        search.focus()

    def action_toggle_detail(self) -> None:
        detail = self.query_one(SpanDetail)
        detail.display = not detail.display

    def action_toggle_flame(self) -> None:
        flame = self.query_one(FlameGraph)
        flame.display = not flame.display

    def action_back(self) -> None:
        search = self.query_one("#trace-search", Input)
        if search.has_focus:
            search.display = False
            self.query_one(Waterfall).focus()
            return
        self.app.pop_screen()
