"""The Compare screen: a baseline window against an incident window (hotspot growth, over-represented attributes)."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text
from spanscope.collectors.errors import SpanscopeError
from spanscope.render import cells
from spanscope.render.units import parse_time
from spanscope.tui.data import CompareResult, compare_windows, default_windows
from spanscope.tui.screens.base import SpanscopeScreen
from spanscope.tui.widgets.nav_table import NavTable
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, Footer, Header, Input, Label, Static

GROWTH_COLUMNS = ("Service", "Operation", "Baseline / trace", "Incident / trace", "Growth")
SKEW_COLUMNS = ("Attribute", "Value", "Slow traces", "Baseline traces", "Lift")


def parse_window(text: str) -> tuple[int, int]:
    """``"SINCE .. UNTIL"`` (each ISO 8601, Unix seconds or 15m/2h ago) as a (since, until) pair in ns."""
    parts = [p.strip() for p in text.split("..")]
    if len(parts) != 2 or not all(parts):
        raise SpanscopeError(f"window {text!r}: expected SINCE .. UNTIL")
    since, until = parse_time(parts[0]), parse_time(parts[1])
    if since > until:
        raise SpanscopeError(f"window {text!r}: the start is after the end")
    return since, until


def _iso_us(ns: int) -> str:
    """Unix ns as ISO 8601 UTC with microseconds (what ``parse_time`` reads back exactly)."""
    return datetime.fromtimestamp(ns // 1_000 / 1e6, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def window_text(since: int, until: int) -> str:
    return f"{_iso_us(since)} .. {_iso_us(until)}"


class CompareScreen(SpanscopeScreen):
    """Pick two windows (SINCE .. UNTIL) and compare; default: the loaded range split at its median start time.

    The comparison is ``spanscope analyze --baseline-*``'s own (``data.compare_windows``). The first
    window input has the focus, so what is typed lands in it (Tab moves on, Enter compares, Esc goes to
    the results, where the screen keys work again).
    """

    BINDINGS = [
        Binding("c", "compare", "Compare"),
        Binding("escape", "focus_results", "Results", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.result: CompareResult | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(classes="window-row"):
            yield Label("Baseline", classes="window-label")
            yield Input(id="baseline-window", placeholder="SINCE .. UNTIL")
        with Horizontal(classes="window-row"):
            yield Label("Incident", classes="window-label")
            yield Input(id="incident-window", placeholder="SINCE .. UNTIL")
            yield Button("Compare", id="compare-button")
        yield Static(Text("finding the windows…"), id="compare-status")
        yield Static(Text("Operations whose critical-path time per trace grew", style="bold"), classes="section-title")
        yield NavTable(id="compare-growth")
        yield Static(
            Text("Attribute values over-represented in slow incident traces", style="bold"), classes="section-title"
        )
        yield NavTable(id="compare-skew")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#compare-growth", NavTable).add_keyed_columns(GROWTH_COLUMNS)
        self.query_one("#compare-skew", NavTable).add_keyed_columns(SKEW_COLUMNS)
        self.query_one("#baseline-window", Input).focus()
        self.default_compare()

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def default_compare(self) -> None:
        windows = default_windows(self.source)
        if windows is None:
            self.app.call_from_thread(self._status, "the store is empty")
            return
        baseline, incident = windows
        self.app.call_from_thread(self._set_windows, baseline, incident)
        result = compare_windows(self.source, baseline, incident)
        self.app.call_from_thread(self._show, result)

    def _set_windows(self, baseline: tuple[int, int], incident: tuple[int, int]) -> None:
        self.query_one("#baseline-window", Input).value = window_text(*baseline)
        self.query_one("#incident-window", Input).value = window_text(*incident)

    def _status(self, message: str, style: str = "") -> None:
        self.query_one("#compare-status", Static).update(cells.safe(message, style, max_length=300))

    @on(Input.Submitted)
    @on(Button.Pressed, "#compare-button")
    def _submit(self) -> None:
        self.action_compare()

    def action_focus_results(self) -> None:
        """Leave the window inputs (then the number keys switch screens again)."""
        self.query_one("#compare-growth", NavTable).focus()

    def action_compare(self) -> None:
        try:
            baseline = parse_window(self.query_one("#baseline-window", Input).value)
            incident = parse_window(self.query_one("#incident-window", Input).value)
        except SpanscopeError as exc:
            self._status(str(exc), "bold red")
            return
        self._status("comparing…")
        self.run_compare(baseline, incident)

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def run_compare(self, baseline: tuple[int, int], incident: tuple[int, int]) -> None:
        result = compare_windows(self.source, baseline, incident)
        self.app.call_from_thread(self._show, result)

    def _show(self, result: CompareResult) -> None:
        comparison = result.comparison
        growth = self.query_one("#compare-growth", NavTable)
        growth.clear()
        growth.add_rows(
            [
                (
                    cells.safe(g.service, max_length=40),
                    cells.safe(g.operation, max_length=60),
                    cells.duration(round(g.baseline_per_trace_ns)),
                    cells.duration(round(g.critical_path_per_trace_ns)),
                    cells.duration(round(g.growth_ns), "bold red"),
                )
                for g in comparison.growth
            ]
        )
        skew = self.query_one("#compare-skew", NavTable)
        skew.clear()
        skew.add_rows(
            [
                (
                    cells.safe(a.key, max_length=40),
                    cells.safe(a.value, max_length=60),
                    cells.percent(a.slow_share, warn=2, bad=2),
                    cells.percent(a.baseline_share, warn=2, bad=2),
                    cells.percent(a.lift, warn=0.2, bad=0.5),
                )
                for a in comparison.attributes
            ]
        )
        self.result = result
        self._status(compare_summary(result), "bold red" if not result.baseline_traces else "")


def _count(compared: int, in_window: int) -> str:
    if in_window > compared:
        return f"the newest {compared:,} of {in_window:,} traces"
    return f"{compared:,} traces"


def compare_summary(result: CompareResult) -> str:
    """The status line: what was compared, and an empty window said plainly."""
    baseline = _count(result.baseline_traces, result.baseline_in_window)
    incident = _count(result.incident_traces, result.incident_in_window)
    if not result.baseline_traces:
        return (
            f"the baseline window holds no traces: nothing to compare the incident's {incident} with "
            "(edit the windows; Enter compares)"
        )
    if not result.incident_traces:
        return f"the incident window holds no traces (baseline: {baseline}); edit the windows, Enter compares"
    comparison = result.comparison
    return (
        f"baseline {baseline}, incident {incident}; {comparison.slow_traces:,} incident traces slower than "
        f"the baseline p95 ({comparison.slow_threshold_ns / 1e6:,.1f} ms)"
    )
