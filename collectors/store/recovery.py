"""The live collector's recovery from a store SQLite calls corrupt: close, move aside, reopen, salvage.

When a write reports corruption (``StoreRecovery.recover`` on the writer thread): the store is closed,
the file and its -wal/-shm are renamed to ``<db>.corrupt-<UTC time>`` (``collectors.store.aside``), a
fresh store opens at the original path, and a background thread copies every span SQLite can still
read from the aside file into the fresh store (``collectors.store.salvage``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from spanscope.collectors.errors import StoreCorruptError
from spanscope.collectors.model import Span
from spanscope.collectors.store.aside import move_aside
from spanscope.collectors.store.core import Store, open_store
from spanscope.collectors.store.salvage import SalvageResult, salvage

_log = logging.getLogger("spanscope.store_recovery")


class Counting(Protocol):
    """Where recovery counts what it did (the collector's ``Counters``)."""

    def add(self, name: str, amount: int = 1) -> None: ...


@dataclass(slots=True)
class MovedAside:
    """One live move of a corrupt store."""

    path: Path
    aside: Path
    at_s: float
    reason: str
    salvage: SalvageResult | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "aside": str(self.aside),
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.at_s)),
            "reason": self.reason,
            "salvage": self.salvage.as_json() if self.salvage is not None else "running",
        }


class _Unopened:
    """Stands in for the store while the one at ``path`` cannot be opened: every write fails retryably
    (StoreCorruptError, so the writer asks the recovery again, which retries the open at most once a second)."""

    def __init__(self, path: Path, move: MovedAside | None) -> None:
        self.path = path
        self.move = move
        self.last_attempt_s = -float("inf")
        self.reported = False

    def write_spans(self, spans: Sequence[Span]) -> Any:
        raise StoreCorruptError(f"store {self.path} is not open (being replaced after corruption); retry later")

    def close(self) -> None:
        return None


class StoreRecovery:
    """Replaces a store SQLite called corrupt, at most once per ``min_interval_s``, and salvages it.

    ``recover`` runs on the writer thread (the store's only writer), so no write can race the swap.
    ``on_swap(new_store)`` callbacks run there too and must be quick; ``after_swap(move, new_store)``
    and the salvage run on a background thread, one recovery at a time.
    """

    def __init__(
        self,
        counters: Counting,
        *,
        min_interval_s: float = 60.0,
        salvage: bool = True,
        open_store: Callable[[Path], Store] | None = None,
    ) -> None:
        self.counters = counters
        self.min_interval_s = min_interval_s
        self.salvage_enabled = salvage
        self.moves: list[MovedAside] = []
        self._open = open_store
        self._last_move = -float("inf")
        self._last_suppressed_log = -float("inf")
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self.on_swap: list[Callable[[Store], None]] = []
        self.after_swap: list[Callable[[MovedAside, Store], None]] = []
        self.after_salvage: list[Callable[[SalvageResult], None]] = []

    def _open_store(self, path: Path) -> Store:
        if self._open is not None:
            return self._open(path)
        return open_store(path)

    def recover(self, store: Store | _Unopened, error: BaseException) -> Store | _Unopened | None:
        """The fresh store replacing ``store`` (closed and moved aside), or None to keep failing."""
        if isinstance(store, _Unopened):
            return self._open_pending(store)
        now = time.monotonic()
        if now - self._last_move < self.min_interval_s:
            self.counters.add("store.move_aside_suppressed")
            if now - self._last_suppressed_log >= self.min_interval_s:
                self._last_suppressed_log = now
                _log.warning(
                    "store %s reports corruption again (%s) less than %.0f s after it was moved aside; "
                    "not moving it again yet: writes fail with a retryable error",
                    store.path,
                    error,
                    self.min_interval_s,
                )
            return None
        self._last_move = now
        path = Path(store.path)
        store.close()
        try:
            aside = move_aside(path)
        except OSError as exc:
            _log.error("store %s is corrupt (%s) and could not be moved aside: %s", path, error, exc)
            self.counters.add("store.move_aside_failed")
            return self._open_pending(_Unopened(path, None))
        move = MovedAside(path, aside, time.time(), str(error))
        self.moves.append(move)
        self.counters.add("store.moved_aside")
        _log.warning(
            "store %s became corrupt while collecting (%s): moved it aside to %s and continued on a fresh "
            "store at %s; spans are being salvaged from the aside file in the background",
            path,
            error,
            aside,
            path,
        )
        return self._open_pending(_Unopened(path, move))

    def _open_pending(self, pending: _Unopened) -> Store | _Unopened | None:
        """The store at ``pending.path`` opened and announced; ``pending`` itself while it does not open."""
        now = time.monotonic()
        if now - pending.last_attempt_s < 1.0:
            return None
        pending.last_attempt_s = now
        try:
            fresh = self._open_store(pending.path)
        except Exception as exc:  # disk full, permissions...: writes fail retryably, the next one tries again
            if not pending.reported:
                pending.reported = True
                _log.error("store %s could not be opened (%s); writes fail with a retryable error", pending.path, exc)
                self.counters.add("store.open_failed")
            return pending
        for callback in self.on_swap:
            try:
                callback(fresh)
            except Exception:
                _log.exception("store swap callback failed")
        if pending.move is not None:
            self._start_background(pending.move, fresh)
        return fresh

    def _start_background(self, move: MovedAside, fresh: Store) -> None:
        previous = self._thread

        def run() -> None:
            if previous is not None:
                previous.join()
            for callback in self.after_swap:
                try:
                    callback(move, fresh)
                except Exception:
                    _log.exception("store swap callback failed")
            if not self.salvage_enabled:
                return
            result = salvage(move.aside, fresh, cancel=self._cancel)
            move.salvage = result
            self.counters.add("store.salvaged_spans", result.spans_copied)
            self.counters.add("store.salvage_unreadable_ranges", len(result.unreadable))
            level = logging.INFO if result.complete else logging.WARNING
            _log.log(level, "%s", result.summary())
            for report in self.after_salvage:
                try:
                    report(result)
                except Exception:
                    _log.exception("salvage callback failed")

        self._thread = threading.Thread(target=run, name="spanscope-store-salvage", daemon=True)
        self._thread.start()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait for the background work; True when none is running."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
            return not thread.is_alive()
        return True

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop salvaging (what was copied stays) and wait for the background thread."""
        self._cancel.set()
        self.wait(timeout_s)

    def health(self) -> dict[str, Any]:
        return {"moved_aside": [move.as_json() for move in self.moves]}
