"""Rolls completed traces from the store into the Parquet archive, for a collector running with --archive.

A trace is rolled once it is complete (no in-progress span) and quiet (no span ended within
``quiet_s``). The position reached is kept in a small JSON file beside the store, so a restarted
collector continues where it stopped. A trace that receives spans after it was rolled is rolled
again; readers take the newest copy.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from spanscope.collectors.archive.writer import ArchiveWriteResult, write_traces
from spanscope.collectors.store import Store

ROLL_BATCH_TRACES = 5_000


class ArchiveRoller:
    """Moves completed traces from ``store`` to the archive at ``root``; ``roll_once`` or ``start``."""

    def __init__(
        self,
        store: Store,
        root: str,
        *,
        quiet_s: float = 60.0,
        interval_s: float = 30.0,
        cursor_path: Path | None = None,
    ) -> None:
        self.store = store
        self.root = root
        self.quiet_ns = int(quiet_s * 1e9)
        self.interval_s = interval_s
        self.cursor_path = cursor_path or store.path.with_name(store.path.name + ".archive-cursor.json")
        # Traces already rolled at a change beyond the cursor (the cursor waits for slower traces).
        self.rolled_at: dict[str, int] = {}
        self.cursor = self._load_cursor()
        self.rolled_traces = 0
        self.rolled_spans = 0
        self.errors = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _load_cursor(self) -> int:
        try:
            data = json.loads(self.cursor_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return 0
        if isinstance(data, dict) and data.get("root") == self.root and isinstance(data.get("cursor"), int):
            rolled = data.get("rolled_at")
            if isinstance(rolled, dict):
                self.rolled_at = {str(k): int(v) for k, v in rolled.items() if isinstance(v, int)}
            return int(data["cursor"])
        return 0

    def _save_cursor(self) -> None:
        temporary = self.cursor_path.with_name(self.cursor_path.name + ".tmp")
        temporary.write_text(
            json.dumps({"root": self.root, "cursor": self.cursor, "rolled_at": self.rolled_at}), encoding="utf-8"
        )
        os.replace(temporary, self.cursor_path)

    def roll_once(self, *, now_ns: int | None = None, flush: bool = False) -> ArchiveWriteResult:
        """Archive every eligible trace changed since the cursor; ``flush`` ignores the quiet period."""
        now = time.time_ns() if now_ns is None else now_ns
        changes = self.store.trace_changes(self.cursor)
        eligible: list[str] = []
        marks: dict[str, int] = {}
        blocked_seq: int | None = None
        for change in changes:
            if self.rolled_at.get(change.trace_id) == change.seq:
                continue
            ready = not change.in_progress and (flush or change.end_ns + self.quiet_ns <= now)
            if ready:
                eligible.append(change.trace_id)
                marks[change.trace_id] = change.seq
            elif blocked_seq is None:
                blocked_seq = change.seq
        files: list[str] = []
        traces = spans = 0
        for offset in range(0, len(eligible), ROLL_BATCH_TRACES):
            batch = list(self.store.iter_traces(trace_ids=eligible[offset : offset + ROLL_BATCH_TRACES]))
            result = write_traces(batch, self.root)
            files.extend(result.files)
            traces += result.traces
            spans += result.spans
        self.rolled_at.update(marks)  # only once every file is written
        if changes:
            self.cursor = (blocked_seq - 1) if blocked_seq is not None else changes[-1].seq
            self.rolled_at = {tid: seq for tid, seq in self.rolled_at.items() if seq > self.cursor}
            self._save_cursor()
        self.rolled_traces += traces
        self.rolled_spans += spans
        return ArchiveWriteResult(tuple(files), traces, spans)

    # background operation ------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="spanscope-archive-roller", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.roll_once()
            except Exception:  # keep rolling later; the collector keeps receiving
                self.errors += 1

    def stop(self, *, flush: bool = True) -> None:
        """Stop the background thread; with ``flush``, roll every complete trace now."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if flush:
            self.roll_once(flush=True)
