"""The live collector's service map: kept current from the store's change feed, off the acknowledgement path.

The map remembers the store's change cursor. When it is asked for (or every ``interval_s`` if set)
the traces written since are re-read from the store, so a trace is counted whole with spans from
every batch, and handed to the accumulator, which replaces a trace's earlier contribution.
Re-reading costs about as much as writing, so by default it is paid only when someone looks; and
since the store keeps the list of changed traces, the collector holds nothing per trace while
nobody looks. A fresh store (after a corrupt one was moved aside) marks the map stale: the next
refresh rebuilds it from the whole store.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from spanscope.collectors.receivers.counters import Counters

if TYPE_CHECKING:
    from spanscope.collectors.service_map import ServiceMapAccumulator
    from spanscope.collectors.store import Store

_log = logging.getLogger("spanscope.collector")


class LiveServiceMap:
    """A ServiceMapAccumulator folded in from ``current_store()``'s changes, one refresh at a time."""

    def __init__(
        self,
        accumulator: ServiceMapAccumulator,
        current_store: Callable[[], Store | None],
        counters: Counters,
        *,
        interval_s: float = 0.0,
    ) -> None:
        self.accumulator = accumulator
        self._current_store = current_store
        self._counters = counters
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._cursor = 0  # the store's change position the map has folded in
        self._stale = threading.Event()  # set: rebuild from the whole store (a fresh store took over)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        store = current_store()
        try:
            self._cursor = store.change_cursor() if store is not None else 0
        except Exception:  # a store that cannot say where it stands: the first refresh rebuilds the map
            self._stale.set()

    def start(self) -> None:
        """Refresh every ``interval_s`` on a thread of its own (nothing to start when it is 0)."""
        if self._interval_s > 0:
            self._thread = threading.Thread(target=self._run, name="spanscope-service-map", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.refresh()

    def mark_stale(self) -> None:
        self._stale.set()  # no lock: the writer thread must never wait for a map refresh

    def refresh(self) -> int:
        """Fold the traces written since the last refresh into the map; returns how many."""
        count = 0
        with self._lock:  # one refresh at a time: the cursor moves only after its traces are folded in
            stale = self._stale.is_set()
            if stale:
                self._stale.clear()  # before reading the store: a swap after this is seen next time
            store = self._current_store()
            if store is None:
                return 0
            try:
                if stale:
                    cursor = store.change_cursor()  # taken first: writes during the rebuild come next time
                    self.accumulator.rebuild_from_store(store)
                    count = self.accumulator.trace_count
                    self._cursor = cursor
                    self._counters.add("service_map.rebuilds")
                cursor, changed = store.changes_since(self._cursor)
                if changed:
                    for trace in store.iter_traces(trace_ids=changed):
                        self.accumulator.add_trace(trace)
                        count += 1
                self._cursor = cursor
            except Exception as exc:  # the map is a convenience: never let it disturb collecting
                _log.warning("service map update failed: %s", exc)
                self._counters.add("service_map.failed_updates")
                self._stale.set()  # the next refresh starts over from the whole store
        self._counters.add("service_map.trace_updates", count)
        return count

    def graph_json(self) -> dict[str, Any]:
        """The current map in the shape of X-Ray GetServiceGraph (refreshed first)."""
        from spanscope.collectors.service_map.render_json import service_graph_json

        self.refresh()
        return service_graph_json(self.accumulator.graph())

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the refresh thread, then fold in what was written last (only when it was running)."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout_s)
        self._thread = None
        self.refresh()
