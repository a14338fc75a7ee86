"""What every spanscope screen shares: typed access to the app, its data source and live updates."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from spanscope.collectors.model import Trace
from spanscope.tui.data import StoreSource
from textual import on
from textual.screen import Screen
from textual.worker import Worker, WorkerState

if TYPE_CHECKING:
    from spanscope.tui.app import SpanscopeApp


class SpanscopeScreen(Screen[None]):
    """A screen of the spanscope app; ``on_live`` hears about traces the collector wrote since the last poll."""

    _live_seen = 0
    #: traces of the bursts behind the latest ``on_live`` that were not loaded (they are in the store)
    live_not_loaded = 0

    @property
    def spanscope(self) -> SpanscopeApp:
        return cast("SpanscopeApp", self.app)

    @property
    def source(self) -> StoreSource:
        return self.spanscope.source

    def on_mount(self) -> None:
        self._live_seen = self.spanscope.live_generation
        self.watch(self.app, "live_generation", self._live_changed, init=False)

    def _live_changed(self, generation: int) -> None:
        fresh = [changes for gen, changes in self.spanscope.live_batches if gen > self._live_seen]
        self._live_seen = generation
        new = [t for changes in fresh for t in changes.traces]
        if new:
            self.live_not_loaded = sum(changes.not_loaded for changes in fresh)
            self.on_live(new)

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.spanscope.report_error(event.worker.error)

    def on_live(self, traces: list[Trace]) -> None:
        """New or updated traces were written to the store (override to show them)."""
