"""A bounded on-disk queue of payloads waiting to be forwarded (one SQLite file, survives restarts).

Each row is one payload (an encoded OTLP request or a batch of X-Ray documents) with its attempt
count and the time it is next due. When the queue is over its byte or row bound the oldest rows are
evicted and counted; the caller reports them.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    payload BLOB NOT NULL,
    size INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    due_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_due ON queue (due_ns, id);
"""


class DiskQueue:
    """FIFO of byte payloads with retry times, bounded by total bytes and rows. Thread-safe."""

    def __init__(self, path: Path, *, max_bytes: int = 256 * 1024 * 1024, max_rows: int = 100_000) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=10.0)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self.max_bytes = max_bytes
        self.max_rows = max_rows
        rows, size = self._conn.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM queue").fetchone()
        self._rows = int(rows)
        self._bytes = int(size)

    @property
    def depth(self) -> int:
        return self._rows

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def put(self, payloads: list[bytes], *, due_ns: int | None = None, attempts: int = 0) -> int:
        """Append payloads; returns how many old rows were evicted to stay within bounds."""
        if not payloads:
            return 0
        due = time.time_ns() if due_ns is None else due_ns
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    "INSERT INTO queue (payload, size, attempts, due_ns) VALUES (?, ?, ?, ?)",
                    [(p, len(p), attempts, due) for p in payloads],
                )
                self._rows += len(payloads)
                self._bytes += sum(len(p) for p in payloads)
                evicted = 0
                while self._rows > 1 and (self._rows > self.max_rows or self._bytes > self.max_bytes):
                    row = conn.execute("SELECT id, size FROM queue ORDER BY id LIMIT 1").fetchone()
                    if row is None:
                        break
                    conn.execute("DELETE FROM queue WHERE id = ?", (row[0],))
                    self._rows -= 1
                    self._bytes -= int(row[1])
                    evicted += 1
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return evicted

    def next_due(self) -> tuple[int, bytes, int, int] | None:
        """(id, payload, attempts, due_ns) of the row due first, or None when empty."""
        with self._lock:
            row = self._conn.execute(
                "SELECT id, payload, attempts, due_ns FROM queue ORDER BY due_ns, id LIMIT 1"
            ).fetchone()
        if row is None:
            return None
        return int(row[0]), bytes(row[1]), int(row[2]), int(row[3])

    def ack(self, row_id: int) -> None:
        """Remove a delivered (or abandoned) row."""
        with self._lock:
            row = self._conn.execute("SELECT size FROM queue WHERE id = ?", (row_id,)).fetchone()
            if row is None:
                return
            self._conn.execute("DELETE FROM queue WHERE id = ?", (row_id,))
            self._rows -= 1
            self._bytes -= int(row[0])

    def retry(self, row_id: int, due_ns: int) -> None:
        with self._lock:
            self._conn.execute("UPDATE queue SET attempts = attempts + 1, due_ns = ? WHERE id = ?", (due_ns, row_id))

    def close(self) -> None:
        with self._lock:
            self._conn.close()
