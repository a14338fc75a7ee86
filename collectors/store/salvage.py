"""Salvage: copying every span SQLite can still read from a corrupt (moved-aside) store into a fresh one.

Spans go through the target's ``write_spans`` (idempotent, so spans the clients retried are not
duplicated and the trace summaries are rebuilt by the normal write path). The aside file is only ever
read: opened ``immutable`` when it has no WAL, otherwise through a temporary copy of the file and its WAL.

Salvage walks the spans table in primary-key order between trace ids read from the traces table
(a separate B-tree), in chunks. A chunk that raises is read forward from its start and backward from
its end until SQLite fails; the keys between are reported as an unreadable range, so every span the
old store held is either copied or inside a range the result names. Rows are read with the store's
own column list and turned into spans by its row codec (``collectors.store.codec``).
"""

from __future__ import annotations

import itertools
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from spanscope.collectors.model import Span
from spanscope.collectors.store.codec import SPAN_COLUMNS, decode_resource, span_from_row

Key = tuple[str, str]  # (trace_id, span_id): the spans table's primary key


class SpanTarget(Protocol):
    """What salvage writes into (a ``Store``)."""

    def write_spans(self, spans: Sequence[Span]) -> Any: ...


@dataclass(frozen=True, slots=True)
class UnreadableRange:
    """Span keys strictly between ``after`` and ``before`` (None: unbounded) that SQLite could not read."""

    after: Key | None
    before: Key | None

    def covers(self, key: Key) -> bool:
        return (self.after is None or key > self.after) and (self.before is None or key < self.before)


@dataclass(slots=True)
class SalvageResult:
    """What salvage copied from an aside file and what it could not read."""

    aside: Path
    spans_read: int = 0  # rows read from the aside file and written to the target
    spans_copied: int = 0  # of those, new or newer in the target
    spans_present: int = 0  # of those, already in the target (retried by their clients)
    undecodable_rows: int = 0  # rows SQLite returned whose content could not be turned into spans
    unreadable_resources: int = 0  # spans salvaged without their resource (its row could not be read)
    expected_spans: int | None = None  # span count of the traces table rows that could be read
    traces_table_complete: bool = True
    unreadable: list[UnreadableRange] = field(default_factory=list)
    error: str | None = None  # why salvage stopped early
    seconds: float = 0.0

    def covers(self, key: Key) -> bool:
        """True when the span with this key could have been in an unreadable part of the file."""
        return any(r.covers(key) for r in self.unreadable)

    @property
    def complete(self) -> bool:
        return self.error is None and not self.unreadable and self.traces_table_complete

    def summary(self) -> str:
        parts = [f"salvaged {self.spans_read} spans from {self.aside}"]
        parts.append(f"{self.spans_copied} copied, {self.spans_present} already present")
        if self.unreadable:
            parts.append(f"{len(self.unreadable)} unreadable key ranges")
        if self.expected_spans is not None and self.expected_spans > self.spans_read:
            parts.append(f"about {self.expected_spans - self.spans_read} spans lost")
        if self.undecodable_rows:
            parts.append(f"{self.undecodable_rows} undecodable rows")
        if self.unreadable_resources:
            parts.append(f"{self.unreadable_resources} spans without their resource")
        if not self.traces_table_complete:
            parts.append("traces table partly unreadable")
        if self.error:
            parts.append(f"stopped: {self.error}")
        return "; ".join(parts)

    def as_json(self) -> dict[str, Any]:
        return {
            "aside": str(self.aside),
            "spans_read": self.spans_read,
            "spans_copied": self.spans_copied,
            "spans_present": self.spans_present,
            "expected_spans": self.expected_spans,
            "unreadable_ranges": len(self.unreadable),
            "undecodable_rows": self.undecodable_rows,
            "unreadable_resources": self.unreadable_resources,
            "complete": self.complete,
            "error": self.error,
            "seconds": round(self.seconds, 3),
        }


_CHUNK_TRACES = 64
_WRITE_SPANS = 2_000


class _Reader:
    """Read-only access to an aside file, tolerant of pages SQLite calls corrupt."""

    def __init__(self, aside: Path) -> None:
        self.aside = aside
        self._tmp: str | None = None
        wal = aside.with_name(aside.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            # The WAL holds committed pages; an immutable open would ignore it and a read-only open
            # would write the -shm. Read a private copy instead, so the aside files stay byte for byte.
            self._tmp = tempfile.mkdtemp(prefix=".salvage-", dir=aside.parent)
            try:
                copy = Path(self._tmp) / "copy.db"
                shutil.copyfile(aside, copy)
                shutil.copyfile(wal, copy.with_name("copy.db-wal"))
                self.conn = sqlite3.connect(str(copy), check_same_thread=False)
                self.conn.execute("PRAGMA query_only=1")
            except BaseException:
                shutil.rmtree(self._tmp, ignore_errors=True)
                raise
        else:
            self.conn = sqlite3.connect(f"{aside.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        self._resources: dict[int, dict[str, Any] | None] = {}

    def close(self) -> None:
        self.conn.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def resource(self, rid: int | None, result: SalvageResult) -> dict[str, Any]:
        if rid is None:
            return {}
        if rid not in self._resources:
            try:
                row = self.conn.execute("SELECT body FROM resources WHERE id = ?", (rid,)).fetchone()
                self._resources[rid] = decode_resource(row[0]) if row else None
            except (sqlite3.DatabaseError, ValueError, TypeError):
                self._resources[rid] = None
        found = self._resources[rid]
        if found is None:
            result.unreadable_resources += 1
            return {}
        return found

    def known_traces(self, result: SalvageResult, every: int) -> list[str]:
        """Every ``every``-th trace id of the traces table in rowid order, sorted; rowid ranges that raise
        are skipped. Rowid order is arrival order, so the sample splits the trace ids in even chunks."""
        ids: list[str] = []
        expected = 0
        seen = 0
        last = 0
        while True:
            try:
                for rowid, trace_id, span_count in self.conn.execute(
                    "SELECT rowid, trace_id, span_count FROM traces WHERE rowid > ? ORDER BY rowid", (last,)
                ):
                    last = rowid
                    if isinstance(trace_id, str):
                        if seen % every == 0:
                            ids.append(trace_id)
                        seen += 1
                        expected += int(span_count or 0)
                break
            except sqlite3.DatabaseError:
                result.traces_table_complete = False
                last = self._next_readable_rowid(last)  # always beyond the old one, or -1
                if last < 0:
                    break
        result.expected_spans = expected
        return sorted(set(ids))

    def _next_readable_rowid(self, last: int) -> int:
        step = 1
        while step < 1 << 62:
            try:
                row = self.conn.execute("SELECT rowid FROM traces WHERE rowid > ? LIMIT 1", (last + step,)).fetchone()
            except sqlite3.DatabaseError:
                step *= 2
                continue
            return -1 if row is None else int(row[0]) - 1
        return -1

    def rows(
        self, lo: str | None, hi: str | None, bound: Key | None, *, descending: bool = False, limit: int | None = None
    ) -> Iterator[Sequence[Any]]:
        """Span rows with lo <= trace_id < hi in key order after ``bound`` (or backward before it), exclusive."""
        clauses: list[str] = []
        params: list[Any] = []
        if lo is not None:
            clauses.append("trace_id >= ?")
            params.append(lo)
        if hi is not None:
            clauses.append("trace_id < ?")
            params.append(hi)
        if bound is not None:
            clauses.append(f"(trace_id, span_id) {'<' if descending else '>'} (?, ?)")
            params.extend(bound)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        order = "DESC" if descending else "ASC"
        sql = f"SELECT {SPAN_COLUMNS} FROM spans{where} ORDER BY trace_id {order}, span_id {order}"  # noqa: S608 (fixed column names and ? placeholders)
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        yield from self.conn.execute(sql, params)

    def walk(
        self,
        lo: str | None,
        hi: str | None,
        start: Key | None,
        take: Callable[[Sequence[Any]], Key],
        *,
        descending: bool = False,
        stop: Key | None = None,
    ) -> tuple[Key | None, bool]:
        """Read and ``take`` rows from ``start`` (exclusive) until the range ends, ``stop`` or SQLite fails.

        Returns the last key taken (or ``start``) and whether the range was read to its end. The
        sqlite3 cursor steps one row ahead, so a failure loses the row before it: after a failure
        the walk goes on one row per query (``LIMIT 1`` stops before touching the next page).
        """
        last = start

        def reached(key: Key) -> bool:
            return stop is not None and (key <= stop if descending else key >= stop)

        try:
            for row in self.rows(lo, hi, last, descending=descending):
                if reached((row[0], row[1])):
                    return last, True
                last = take(row)
            return last, True
        except sqlite3.DatabaseError:
            pass
        while True:
            try:
                rows = list(self.rows(lo, hi, last, descending=descending, limit=1))
            except sqlite3.DatabaseError:
                return last, False
            if not rows or reached((rows[0][0], rows[0][1])):
                return last, True
            last = take(rows[0])


_TOP: Key = ("\U0010ffff", "")  # above every trace id: "read backward from the end"


def salvage(
    aside: Path,
    target: SpanTarget,
    *,
    cancel: threading.Event | None = None,
    chunk_traces: int = _CHUNK_TRACES,
) -> SalvageResult:
    """Copy every span SQLite can read from the store file ``aside`` into ``target``; never modifies ``aside``."""
    started = time.monotonic()
    result = SalvageResult(aside=aside)
    try:
        reader = _Reader(aside)
    except (sqlite3.Error, OSError) as exc:
        result.error = f"cannot open {aside}: {exc}"
        return result
    pending: list[Span] = []

    def flush() -> None:
        if pending:
            written = target.write_spans(pending)
            result.spans_read += len(pending)
            result.spans_copied += int(getattr(written, "stored", 0))
            result.spans_present += int(getattr(written, "unchanged", 0))
            pending.clear()

    def take(row: Sequence[Any]) -> Key:
        key = (row[0], row[1])
        try:
            pending.append(span_from_row(row, reader.resource(row[10], result)))
        except Exception:  # a row SQLite returns with garbage inside: counted, the rest goes on
            result.undecodable_rows += 1
        if len(pending) >= _WRITE_SPANS:
            flush()
        return key

    try:
        # Chunk boundaries: a sample of the known trace ids; the first and last chunks are open-ended.
        bounds: list[str | None] = [None, *reader.known_traces(result, max(1, chunk_traces)), None]
        for lo, hi in itertools.pairwise(bounds):
            if cancel is not None and cancel.is_set():
                result.error = "stopped before the end"
                break
            # (lo, "") sorts before every key of trace lo: an exclusive bound that still covers them.
            last, whole = reader.walk(lo, hi, (lo, "") if lo is not None else None, take)
            if whole:
                continue
            # Forward reading stopped at a damaged page: read backward from the chunk's end until it fails too.
            first_back, whole = reader.walk(
                lo, hi, (hi, "") if hi is not None else _TOP, take, descending=True, stop=last
            )
            if not whole:
                result.unreadable.append(UnreadableRange(last, first_back))
        flush()
    except Exception as exc:  # the target store failing, or an unforeseen read error: stop and say so
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        reader.close()
        result.seconds = time.monotonic() - started
    return result
