"""The Store: one open SQLite store file under one lock; writes go through the write path, reads are ``ReadPath``.

A second process can read while one writes (WAL). Thread-safe: every use of the connection holds the lock.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from spanscope.collectors.errors import StoreError
from spanscope.collectors.model import Span
from spanscope.collectors.store.reads import ReadPath
from spanscope.collectors.store.schema import connect, translate
from spanscope.collectors.store.writes import SpanWriter, WriteResult, dedupe


def default_store_path() -> Path:
    """``$SPANSCOPE_DB``, else ``$XDG_DATA_HOME/spanscope/spans.db`` (XDG default ``~/.local/share``)."""
    explicit = os.environ.get("SPANSCOPE_DB")
    if explicit:
        return Path(explicit).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(data_home) / "spanscope" / "spans.db"


def open_store(
    path: str | os.PathLike[str] | None = None, *, readonly: bool = False, busy_timeout_s: float = 10.0
) -> Store:
    """Open (creating if needed, unless readonly) the store at ``path`` or the default path."""
    return Store(
        Path(path) if path is not None else default_store_path(),
        readonly=readonly,
        busy_timeout_s=busy_timeout_s,
    )


class Store(ReadPath):
    """A spanscope SQLite store. Thread-safe; use one per process or thread as convenient."""

    def __init__(self, path: Path, *, readonly: bool = False, busy_timeout_s: float = 10.0) -> None:
        self.path = path
        self.readonly = readonly
        self._lock = threading.RLock()
        self._conn = connect(path, readonly=readonly, busy_timeout_s=busy_timeout_s)
        self._writer = SpanWriter(self._conn)

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """The connection under the store's lock, for a module that owns a table of it (collectors.groups)."""
        with self._lock:
            try:
                yield self._conn
            except sqlite3.DatabaseError as exc:
                raise translate(exc, self.path) from exc

    def write_spans(self, spans: Iterable[Span]) -> WriteResult:
        """Store spans in one transaction; idempotent on (trace_id, span_id)."""
        if self.readonly:
            raise StoreError(f"store {self.path} was opened read-only")
        batch = dedupe(spans)
        if not batch:
            return WriteResult(0, 0, 0)
        with self._lock:
            try:
                return self._writer.write(batch)
            except sqlite3.DatabaseError as exc:
                raise translate(exc, self.path) from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
