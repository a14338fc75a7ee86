"""The spanscope Textual app: screens as modes, key bindings, the command palette and the live poll of the store."""

from __future__ import annotations

from collections.abc import Iterable

from spanscope.collectors.errors import SpanscopeError
from spanscope.render.safe_text import clean
from spanscope.tui.data import LiveChanges, LiveMap, StoreSource
from spanscope.tui.screens.chains import ChainsScreen
from spanscope.tui.screens.compare import CompareScreen
from spanscope.tui.screens.help import HelpScreen
from spanscope.tui.screens.hotspots import HotspotsScreen
from spanscope.tui.screens.service_map import ServiceMapScreen
from spanscope.tui.screens.trace import TraceScreen
from spanscope.tui.screens.traces import TracesScreen
from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker, WorkerState

SCREENS_BY_KEY = (
    ("1", "map", "Map", "Service map: nodes and edges with rates, errors, faults and latency"),
    ("2", "traces", "Traces", "Traces: newest first, filter with X-Ray expressions"),
    ("3", "hotspots", "Hotspots", "Hotspots: operations by critical-path time"),
    ("4", "chains", "Chains", "Failure chains: where failures start and how they travel"),
    ("5", "compare", "Compare", "Compare a baseline window with an incident window"),
)
LIVE_BATCHES_KEPT = 64


class SpanscopeApp(App[None]):
    """Explore a span store; live while a collector writes to it."""

    CSS_PATH = "app.tcss"
    TITLE = "spanscope"
    MODES = {
        "map": ServiceMapScreen,
        "traces": TracesScreen,
        "hotspots": HotspotsScreen,
        "chains": ChainsScreen,
        "compare": CompareScreen,
    }
    BINDINGS = [
        *(Binding(key, f"switch_mode('{mode}')", label) for key, mode, label, _help in SCREENS_BY_KEY),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    live_generation: reactive[int] = reactive(0)

    def __init__(
        self,
        source: StoreSource,
        *,
        live: bool = True,
        poll_interval_s: float = 1.0,
        start: str = "traces",
        subtitle: str = "",
    ) -> None:
        super().__init__()
        self.source = source
        self.live = live
        self.poll_interval_s = poll_interval_s
        self.start_mode = start
        self.sub_title = clean(subtitle or str(source.path), max_length=120)
        self.live_map = LiveMap(source)
        self.live_batches: list[tuple[int, LiveChanges]] = []
        self.store_traces: int | None = None  # the store's trace count at the last live poll
        self._cursor: int | None = None
        self._polling = False
        self._poll_error = ""
        self._requested_filter: str | None = None

    def on_mount(self) -> None:
        self.switch_mode(self.start_mode)
        if self.live:
            self.set_interval(self.poll_interval_s, self._poll_tick)

    # navigation ----------------------------------------------------------------------------------
    def open_trace(self, trace_id: str) -> None:
        self.push_screen(TraceScreen(trace_id))

    def show_traces(self, expression: str) -> None:
        """Switch to the Traces screen filtered by ``expression`` ("" for all)."""
        self._requested_filter = expression
        if self.current_mode != "traces":
            self.switch_mode("traces")
        self.call_after_refresh(self._uncover_traces)

    def _uncover_traces(self) -> None:
        """Close trace screens left open over the Traces screen, so the requested filter shows."""
        while len(self.screen_stack) > 1 and not isinstance(self.screen, TracesScreen):
            self.pop_screen()
        if isinstance(self.screen, TracesScreen):
            self.screen.on_screen_resume()

    def take_requested_filter(self) -> str | None:
        requested, self._requested_filter = self._requested_filter, None
        return requested

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for key, mode, label, help_text in SCREENS_BY_KEY:
            yield SystemCommand(f"{label} screen ({key})", help_text, lambda mode=mode: self.switch_mode(mode))
        yield SystemCommand(
            "Faulted traces", "Traces with a fault (5xx or exception)", lambda: self.show_traces("fault")
        )
        yield SystemCommand("Slow traces", "Traces slower than 1 s", lambda: self.show_traces("responsetime > 1"))
        yield SystemCommand("Key bindings", "Show the help screen", self.action_help)

    # live ----------------------------------------------------------------------------------------
    def _poll_tick(self) -> None:
        if not self._polling:
            self._polling = True
            self.poll_store()

    @work(thread=True, group="live", exit_on_error=False)
    def poll_store(self) -> None:
        try:
            if self._cursor is None:
                self._cursor = self.source.cursor()
                return
            changes = self.source.changes(self._cursor)
            self._cursor = changes.cursor
            if changes.traces:
                self.live_map.add(changes.traces)
                self.call_from_thread(self._deliver, changes)
            self._poll_error = ""
        except Exception as exc:  # a store that fails while polling is reported once, and polling goes on
            if str(exc) != self._poll_error:
                self._poll_error = str(exc)
                self.call_from_thread(self.report_error, exc)
        finally:
            self._polling = False

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.report_error(event.worker.error)

    def report_error(self, error: BaseException | None) -> None:
        """Show a worker's store or analysis error in the app, never a crash (the screen stays usable)."""
        if error is None:
            return
        message = str(error) if isinstance(error, SpanscopeError) else f"{type(error).__name__}: {error}"
        self.notify(clean(message, max_length=300), title="error", severity="error", markup=False, timeout=8)

    def _deliver(self, changes: LiveChanges) -> None:
        generation = self.live_generation + 1
        self.store_traces = changes.store_traces
        self.live_batches.append((generation, changes))
        del self.live_batches[:-LIVE_BATCHES_KEPT]
        self.live_generation = generation
