"""The durable span store: one SQLite file in WAL mode, idempotent writes, trace summaries, queries.

Writes are batched in one transaction and idempotent on (trace_id, span_id): the same span twice is
stored once, and an in-progress span is replaced by its completed version (never the reverse). A
second process can read while one writes (WAL). A file that is not a spanscope store, is damaged, is
locked too long or was written by a newer schema is reported with a clear error and never modified.

>>> import tempfile, os
>>> from spanscope.collectors.model import Span
>>> path = os.path.join(tempfile.mkdtemp(), "spans.db")
>>> with open_store(path) as store:
...     tid = "5759e988bd862e3fe1be46a994272793"
...     store.write_spans([Span(tid, "a" * 16, None, "api", "GET /", start_ns=1, end_ns=5)]).inserted
1
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson
from spanscope.collectors.errors import (
    StoreCorruptError,
    StoreDiskFullError,
    StoreError,
    StoreLockedError,
    StoreVersionError,
    TraceNotFoundError,
)
from spanscope.collectors.groups import GROUPS_SCHEMA
from spanscope.collectors.model import (
    Kind,
    Span,
    SpanEvent,
    SpanException,
    SpanLink,
    Status,
    Trace,
    TraceSummary,
    normalize_trace_id,
)

_log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
APPLICATION_ID = 0x5350534E  # "SPSN": marks a file as a spanscope store
_SQLITE_HEADER = b"SQLite format 3\x00"
_CHUNK = 400  # keys per IN (...) query, well under SQLite's variable limit
_ENUM_VALUES: dict[Kind | Status, str] = {**{k: k.value for k in Kind}, **{s: s.value for s in Status}}

# Migrations from version N to N+1, applied in order inside one transaction. Version 0 is "empty".
_MIGRATIONS: dict[int, Sequence[str]] = {
    0: (
        """CREATE TABLE resources (
            id INTEGER PRIMARY KEY,
            digest TEXT NOT NULL UNIQUE,
            body BLOB NOT NULL
        )""",
        """CREATE TABLE spans (
            trace_id TEXT NOT NULL,
            span_id TEXT NOT NULL,
            parent_id TEXT,
            service TEXT NOT NULL,
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            start_ns INTEGER NOT NULL,
            end_ns INTEGER NOT NULL,
            status TEXT NOT NULL,
            in_progress INTEGER NOT NULL,
            resource_id INTEGER,
            body BLOB NOT NULL,
            PRIMARY KEY (trace_id, span_id)
        ) WITHOUT ROWID""",
        """CREATE TABLE traces (
            trace_id TEXT PRIMARY KEY,
            start_ns INTEGER NOT NULL,
            end_ns INTEGER NOT NULL,
            root_span_id TEXT NOT NULL,
            root_service TEXT NOT NULL,
            root_name TEXT NOT NULL,
            root_start_ns INTEGER NOT NULL,
            root_is_entry INTEGER NOT NULL,
            span_count INTEGER NOT NULL,
            in_progress_count INTEGER NOT NULL,
            error INTEGER NOT NULL,
            fault INTEGER NOT NULL,
            throttle INTEGER NOT NULL,
            services TEXT NOT NULL,
            seq INTEGER NOT NULL
        )""",
        "CREATE INDEX traces_start ON traces (start_ns)",
        "CREATE INDEX traces_seq ON traces (seq)",
        """CREATE TABLE trace_services (
            service TEXT NOT NULL,
            trace_id TEXT NOT NULL,
            PRIMARY KEY (service, trace_id)
        ) WITHOUT ROWID""",
    ),
    1: GROUPS_SCHEMA,  # saved filter groups (collectors.groups)
}


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What one write_spans call did."""

    inserted: int
    replaced: int
    unchanged: int

    @property
    def stored(self) -> int:
        return self.inserted + self.replaced


@dataclass(frozen=True, slots=True)
class TraceChange:
    """A trace touched by a write: its change sequence number orders changes across writers."""

    trace_id: str
    seq: int
    end_ns: int
    in_progress: bool


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


class Store:
    """A spanscope SQLite store. Thread-safe; use one per process or thread as convenient."""

    def __init__(self, path: Path, *, readonly: bool = False, busy_timeout_s: float = 10.0) -> None:
        self.path = path
        self.readonly = readonly
        self._lock = threading.RLock()
        self._resource_ids: dict[str, int] = {}
        self._conn = self._connect(busy_timeout_s)

    # opening -------------------------------------------------------------------------------------
    def _connect(self, busy_timeout_s: float) -> sqlite3.Connection:
        path = self.path
        exists = path.exists()
        if exists:
            _check_header(path)
        elif self.readonly:
            raise StoreError(f"store {path} does not exist")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if self.readonly:
                conn = sqlite3.connect(
                    f"{path.resolve().as_uri()}?mode=ro",
                    uri=True,
                    timeout=busy_timeout_s,
                    check_same_thread=False,
                )
            else:
                conn = sqlite3.connect(str(path), timeout=busy_timeout_s, check_same_thread=False)
            conn.isolation_level = None  # explicit transactions
            self._check_identity(conn, path, fresh=not exists)
            if not self.readonly:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                self._migrate(conn)
            conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            return conn
        except sqlite3.DatabaseError as exc:
            raise _translate(exc, path) from exc

    def _check_identity(self, conn: sqlite3.Connection, path: Path, *, fresh: bool) -> None:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app_id == 0 and version == 0 and tables == 0:
            if self.readonly:
                raise StoreError(f"store {path} is empty")
            return  # a new or empty file: ours to initialise
        if app_id != APPLICATION_ID:
            raise StoreCorruptError(f"{path} is an SQLite database but not a spanscope store; it was left untouched")
        if version > SCHEMA_VERSION:
            raise StoreVersionError(
                f"store {path} has schema version {version}, newer than this spanscope's {SCHEMA_VERSION}; "
                "upgrade spanscope (the file was left untouched)"
            )

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version >= SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            while version < SCHEMA_VERSION:
                for statement in _MIGRATIONS[version]:
                    conn.execute(statement)
                version += 1
            conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version={version}")
            conn.execute("COMMIT")
        except BaseException:
            _rollback_if_open(conn)
            raise

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
                raise _translate(exc, self.path) from exc

    # writing -------------------------------------------------------------------------------------
    def write_spans(self, spans: Iterable[Span]) -> WriteResult:
        """Store spans in one transaction; idempotent on (trace_id, span_id)."""
        if self.readonly:
            raise StoreError(f"store {self.path} was opened read-only")
        batch: dict[tuple[str, str], Span] = {}
        for span in spans:
            key = (span.trace_id, span.span_id)
            held = batch.get(key)
            if held is None or _replaces(span, held):
                batch[key] = span
        if not batch:
            return WriteResult(0, 0, 0)
        with self._lock:
            try:
                return self._write_locked(batch)
            except sqlite3.DatabaseError as exc:
                raise _translate(exc, self.path) from exc

    def _write_locked(self, batch: dict[tuple[str, str], Span]) -> WriteResult:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            existing = self._existing(batch.keys())
            inserts: list[tuple[Any, ...]] = []
            by_object: dict[int, int | None] = {}  # resources shared by many spans of a request: hashed once
            replaced_keys: list[tuple[str, str]] = []
            written: list[tuple[Span, tuple[bool, int] | None]] = []
            unchanged = 0
            values = _ENUM_VALUES
            append_insert, append_written = inserts.append, written.append
            for key, span in batch.items():  # the hot loop: one row tuple per span, built inline
                held = existing.get(key)
                if held is not None:
                    held_in_progress, held_end = held
                    if not (held_in_progress and (not span.in_progress or span.end_ns > held_end)):
                        unchanged += 1
                        continue
                    replaced_keys.append(key)
                resource = span.resource
                rid = by_object.get(id(resource), -1) if resource else None
                if rid == -1:
                    rid = by_object[id(resource)] = self._resource_id(resource)
                append_insert(
                    (
                        key[0],
                        key[1],
                        span.parent_id,
                        span.service,
                        span.name,
                        values[span.kind],
                        span.start_ns,
                        span.end_ns,
                        values[span.status],
                        1 if span.in_progress else 0,
                        rid,
                        _encode_body(span),
                    )
                )
                append_written((span, held))
            if inserts:
                conn.executemany(
                    "INSERT OR REPLACE INTO spans (trace_id, span_id, parent_id, service, name, kind, start_ns,"
                    " end_ns, status, in_progress, resource_id, body) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    inserts,
                )
                self._update_summaries(written)
            conn.execute("COMMIT")
        except BaseException:
            # Ids assigned inside the failed transaction are void (SQLite hands them out again): a cached
            # one would store a later span with another resource. Drop the cache before anything can raise.
            self._resource_ids.clear()
            _rollback_if_open(conn)
            raise
        return WriteResult(len(inserts) - len(replaced_keys), len(replaced_keys), unchanged)

    def _existing(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[bool, int]]:
        found: dict[tuple[str, str], tuple[bool, int]] = {}
        key_list = list(keys)
        for offset in range(0, len(key_list), _CHUNK):
            chunk = key_list[offset : offset + _CHUNK]
            placeholders = ",".join(["(?,?)"] * len(chunk))
            params = [part for key in chunk for part in key]
            rows = self._conn.execute(
                # A join, not "(trace_id, span_id) IN (VALUES ...)": SQLite scans the whole table for the latter.
                "SELECT sp.trace_id, sp.span_id, sp.in_progress, sp.end_ns"  # noqa: S608 (only ? placeholders)
                f" FROM (VALUES {placeholders}) AS k"
                " JOIN spans sp ON sp.trace_id = k.column1 AND sp.span_id = k.column2",
                params,
            )
            for trace_id, span_id, in_progress, end_ns in rows:
                found[(trace_id, span_id)] = (bool(in_progress), end_ns)
        return found

    def _resource_id(self, resource: dict[str, Any]) -> int | None:
        if not resource:
            return None
        body = _dumps_exact(resource, orjson.OPT_SORT_KEYS)
        digest = hashlib.blake2b(body, digest_size=16).hexdigest()
        cached = self._resource_ids.get(digest)
        if cached is not None:
            return cached
        row = self._conn.execute("SELECT id FROM resources WHERE digest = ?", (digest,)).fetchone()
        if row is None:
            cursor = self._conn.execute("INSERT INTO resources (digest, body) VALUES (?, ?)", (digest, body))
            rid = cursor.lastrowid
            assert rid is not None
        else:
            rid = int(row[0])
        self._resource_ids[digest] = rid
        return rid

    def _update_summaries(self, written: list[tuple[Span, tuple[bool, int] | None]]) -> None:
        conn = self._conn
        seq = int(conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM traces").fetchone()[0])
        by_trace: dict[str, list[tuple[Span, tuple[bool, int] | None]]] = {}
        for item in written:
            by_trace.setdefault(item[0].trace_id, []).append(item)
        current = self._summary_rows(by_trace.keys())
        rows = []
        service_rows: list[tuple[str, str]] = []
        for trace_id, items in by_trace.items():
            row = current.get(trace_id)
            summary = _SummaryAcc.from_row(row) if row is not None else _SummaryAcc(trace_id)
            for span, held in items:
                summary.add(span, held)
            rows.append(summary.to_row(seq))
            service_rows.extend((service, trace_id) for service in summary.services)
        conn.executemany(
            "INSERT OR REPLACE INTO traces (trace_id, start_ns, end_ns, root_span_id, root_service, root_name,"
            " root_start_ns, root_is_entry, span_count, in_progress_count, error, fault, throttle, services, seq)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        conn.executemany("INSERT OR IGNORE INTO trace_services (service, trace_id) VALUES (?, ?)", service_rows)

    def _summary_rows(self, trace_ids: Iterable[str]) -> dict[str, tuple[Any, ...]]:
        ids = list(trace_ids)
        found: dict[str, tuple[Any, ...]] = {}
        for offset in range(0, len(ids), _CHUNK):
            chunk = ids[offset : offset + _CHUNK]
            rows = self._conn.execute(
                f"SELECT {_SUMMARY_COLUMNS} FROM traces WHERE trace_id IN ({','.join('?' * len(chunk))})",  # noqa: S608 (only ? placeholders and fixed column names are interpolated)
                chunk,
            )
            for row in rows:
                found[row[0]] = tuple(row)
        return found

    # reading -------------------------------------------------------------------------------------
    def get_trace(self, trace_id: str) -> Trace:
        """The trace with this id (X-Ray or 32-hex form); TraceNotFoundError if absent."""
        tid = normalize_trace_id(trace_id)
        trace = self.find_trace(tid)
        if trace is None:
            raise TraceNotFoundError(f"trace {trace_id} is not in the store {self.path}")
        return trace

    def find_trace(self, trace_id: str) -> Trace | None:
        tid = normalize_trace_id(trace_id)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_SPAN_COLUMNS} FROM spans WHERE trace_id = ?",  # noqa: S608 (fixed column names)
                (tid,),
            )
            spans = self._spans(rows)  # from the cursor: a million-span trace is never also a million rows
            if not spans:
                return None
            return _make_trace(tid, spans)

    def summaries(
        self,
        *,
        since_ns: int | None = None,
        until_ns: int | None = None,
        service: str | None = None,
        limit: int | None = None,
    ) -> list[TraceSummary]:
        """Trace summaries, newest first, optionally in [since, until] and touching ``service``."""
        where, params = _window_clause(since_ns, until_ns, service)
        sql = f"SELECT {_SUMMARY_COLUMNS} FROM traces t{where} ORDER BY t.start_ns DESC, t.trace_id"  # noqa: S608 (only ? placeholders and fixed column names are interpolated)
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        return [_SummaryAcc.from_row(tuple(row)).summary() for row in rows]

    def trace_ids(
        self, *, since_ns: int | None = None, until_ns: int | None = None, service: str | None = None
    ) -> list[str]:
        where, params = _window_clause(since_ns, until_ns, service)
        with self._lock:
            rows = self._conn.execute(f"SELECT t.trace_id FROM traces t{where} ORDER BY t.trace_id", params)  # noqa: S608 (only ? placeholders and fixed column names are interpolated)
            return [row[0] for row in rows]

    def trace_ids_containing(
        self,
        needles: Sequence[str],
        *,
        since_ns: int | None = None,
        until_ns: int | None = None,
        service: str | None = None,
    ) -> set[str]:
        """Ids of traces in the window whose stored span or resource text contains every needle.

        A cheap superset for filter pushdown (``spanscope.analysis.filters.pushdown``): each needle is
        matched byte for byte in the stored JSON of span bodies and resources, without decoding them.
        Only plain ASCII needles are exact there (no quotes, backslashes or control characters); the
        caller evaluates the filter on the candidates.
        """
        where, params = _window_clause(since_ns, until_ns, service)
        scope = f"SELECT t.trace_id FROM traces t{where}"  # noqa: S608 (only ? placeholders and fixed column names are interpolated)
        found: set[str] | None = None
        for needle in needles:
            blob = needle.encode()
            sql = (
                "SELECT DISTINCT s.trace_id FROM spans s WHERE s.trace_id IN ("  # noqa: S608 (fixed SQL; values are ? placeholders)
                + scope
                + ") AND (instr(s.body, ?) > 0 OR s.resource_id IN (SELECT id FROM resources WHERE instr(body, ?) > 0))"
            )
            with self._lock:
                ids = {row[0] for row in self._conn.execute(sql, [*params, blob, blob])}
            found = ids if found is None else found & ids
            if not found:
                return set()
        if found is None:
            return set(self.trace_ids(since_ns=since_ns, until_ns=until_ns, service=service))
        return found

    def iter_traces(
        self,
        *,
        since_ns: int | None = None,
        until_ns: int | None = None,
        service: str | None = None,
        trace_ids: Iterable[str] | None = None,
    ) -> Iterator[Trace]:
        """Traces in the window (or with the given ids), streamed in batches; order by trace id."""
        if trace_ids is None:
            ids = self.trace_ids(since_ns=since_ns, until_ns=until_ns, service=service)
        else:
            ids = sorted({normalize_trace_id(t) for t in trace_ids})
        for offset in range(0, len(ids), _CHUNK):
            chunk = ids[offset : offset + _CHUNK]
            with self._lock:
                rows = self._conn.execute(
                    f"SELECT {_SPAN_COLUMNS} FROM spans WHERE trace_id IN ({','.join('?' * len(chunk))})"  # noqa: S608 (only ? placeholders and fixed column names are interpolated)
                    " ORDER BY trace_id",
                    chunk,
                ).fetchall()
                spans = self._spans(rows)
            group: list[Span] = []
            for span in spans:
                if group and group[0].trace_id != span.trace_id:
                    yield _make_trace(group[0].trace_id, group)
                    group = []
                group.append(span)
            if group:
                yield _make_trace(group[0].trace_id, group)

    def span_count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM spans").fetchone()[0])

    def trace_count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM traces").fetchone()[0])

    def services(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._conn.execute("SELECT DISTINCT service FROM trace_services ORDER BY 1")]

    def change_cursor(self) -> int:
        """The current change position: pass it to ``changes_since`` to hear only of later writes."""
        with self._lock:
            return int(self._conn.execute("SELECT coalesce(max(seq), 0) FROM traces").fetchone()[0])

    def changes_since(self, cursor: int) -> tuple[int, list[str]]:
        """Trace ids written after ``cursor`` and the new cursor (for live views)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT trace_id, seq FROM traces WHERE seq > ? ORDER BY seq", (int(cursor),)
            ).fetchall()
        if not rows:
            return cursor, []
        return int(rows[-1][1]), [row[0] for row in rows]

    def trace_changes(self, cursor: int) -> list[TraceChange]:
        """Traces written after ``cursor``: id, change sequence, end time and whether still in progress."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT trace_id, seq, end_ns, in_progress_count FROM traces WHERE seq > ? ORDER BY seq",
                (int(cursor),),
            ).fetchall()
        return [TraceChange(r[0], int(r[1]), int(r[2]), int(r[3]) > 0) for r in rows]

    def _spans(self, rows: Iterable[Sequence[Any]]) -> list[Span]:
        """Spans of rows read together; spans with one resource share one (read-only) dict, read once.

        A million-span trace has a handful of resources: one query and one dict each, not one per span;
        its trace id, services and span names are one string object each, not one per span; and its
        spans' empty attribute dicts and event, exception and link lists are one each (``SharedEmpties``).
        """
        resources: dict[int, dict[str, Any]] = {}
        texts: dict[str, str] = {}  # trace ids, services and names repeat: one string object each
        empty = SharedEmpties()
        spans = []
        for row in rows:
            rid = row[10]
            if rid is None:
                resource: dict[str, Any] = {}
            else:
                held = resources.get(rid)
                if held is None:
                    held = resources[rid] = self._resource(rid)
                resource = held
            span = span_from_row(row, resource, empty)
            span.trace_id = texts.setdefault(span.trace_id, span.trace_id)
            span.service = texts.setdefault(span.service, span.service)
            span.name = texts.setdefault(span.name, span.name)
            spans.append(span)
        return spans

    def _resource(self, rid: int) -> dict[str, Any]:
        row = self._conn.execute("SELECT body FROM resources WHERE id = ?", (rid,)).fetchone()
        return dict(loads_exact(row[0])) if row else {}

    # lifecycle -----------------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # links (workflows) ---------------------------------------------------------------------------
    def linking_trace_ids(self, trace_id: str, *, limit: int = 10_000) -> list[str]:
        """Ids of other traces whose spans may link to trace ``trace_id`` (a scan of span bodies for the id:
        the caller checks the links themselves), at most ``limit``, in id order."""
        tid = normalize_trace_id(trace_id)
        with self._lock:
            rows = self._conn.execute(
                "SELECT DISTINCT trace_id FROM spans WHERE trace_id != ? AND instr(body, ?) > 0 ORDER BY trace_id"
                " LIMIT ?",
                (tid, tid.encode(), int(limit)),
            ).fetchall()
        return [row[0] for row in rows]


_SPAN_COLUMNS = (
    "trace_id, span_id, parent_id, service, name, kind, start_ns, end_ns, status, in_progress, resource_id, body"
)
_SUMMARY_COLUMNS = (
    "trace_id, start_ns, end_ns, root_span_id, root_service, root_name, root_start_ns, root_is_entry,"
    " span_count, in_progress_count, error, fault, throttle, services"
)


SPAN_COLUMNS = _SPAN_COLUMNS  # the spans table's columns in the order ``span_from_row`` reads them


class SharedEmpties:
    """Empty containers that the spans of one read share instead of five new ones each (issue 15).

    A million-span trace mostly has no events, exceptions, links or annotations: one empty list or
    dict per field for the whole read, not one per span (~230 bytes a span). Like the shared
    resource dict, they are read-only: spans read from the store are not edited in place.
    """

    __slots__ = ("annotations", "attributes", "events", "exceptions", "links")

    def __init__(self) -> None:
        self.attributes: dict[str, Any] = {}
        self.annotations: dict[str, Any] = {}
        self.events: list[SpanEvent] = []
        self.exceptions: list[SpanException] = []
        self.links: list[SpanLink] = []


def span_from_row(row: Sequence[Any], resource: dict[str, Any], empty: SharedEmpties | None = None) -> Span:
    """The Span of one ``SPAN_COLUMNS`` row of the spans table, given its resource (salvage reads rows itself).

    With ``empty``, its absent attributes, annotations, events, exceptions and links are those shared
    containers; without, new ones.
    """
    (
        trace_id,
        span_id,
        parent_id,
        service,
        name,
        kind,
        start_ns,
        end_ns,
        status,
        in_progress,
        _rid,
        body,
    ) = row
    extra = _decode_body(body)
    get = extra.get
    e = empty or SharedEmpties()
    return Span(
        trace_id,
        span_id,
        parent_id,
        service,
        name,
        _KINDS.get(kind) or Kind(kind),  # a dict lookup, not Enum.__call__: the hot path of every read
        start_ns,
        end_ns,
        _STATUSES.get(status) or Status(status),
        get("m", ""),
        get("o", ""),
        get("ns", ""),
        get("rs", ""),
        get("a") or e.attributes,
        get("an") or e.annotations,
        resource,
        [SpanEvent(x[0], x[1], x[2]) for x in extra["ev"]] if "ev" in extra else e.events,
        [SpanException(x[0], x[1], x[2], x[3], x[4]) for x in extra["ex"]] if "ex" in extra else e.exceptions,
        [SpanLink(x[0], x[1], x[2]) for x in extra["l"]] if "l" in extra else e.links,
        bool(in_progress),
    )


_KINDS: dict[str, Kind] = {k.value: k for k in Kind}
_STATUSES: dict[str, Status] = {s.value: s for s in Status}


def _window_clause(since_ns: int | None, until_ns: int | None, service: str | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if since_ns is not None:
        clauses.append("t.start_ns >= ?")
        params.append(int(since_ns))
    if until_ns is not None:
        clauses.append("t.start_ns <= ?")
        params.append(int(until_ns))
    if service is not None:
        clauses.append("t.trace_id IN (SELECT trace_id FROM trace_services WHERE service = ?)")
        params.append(service)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _replaces(candidate: Span, held: Span) -> bool:
    if held.in_progress and not candidate.in_progress:
        return True
    return held.in_progress and candidate.in_progress and candidate.end_ns > held.end_ns


def _encode_body(span: Span) -> bytes:
    body: dict[str, Any] = {}
    if span.status_message:
        body["m"] = span.status_message
    if span.origin:
        body["o"] = span.origin
    if span.namespace:
        body["ns"] = span.namespace
    if span.remote_service:
        body["rs"] = span.remote_service
    if span.attributes:
        body["a"] = span.attributes
    if span.annotations:
        body["an"] = span.annotations
    if span.events:
        body["ev"] = [(e.name, e.time_ns, e.attributes) for e in span.events]
    if span.exceptions:
        body["ex"] = [(x.type, x.message, x.stacktrace, x.remote, x.time_ns) for x in span.exceptions]
    if span.links:
        body["l"] = [(lk.trace_id, lk.span_id, lk.attributes) for lk in span.links]
    return _dumps_exact(body, orjson.OPT_NON_STR_KEYS)


def _dumps_exact(value: Any, option: int) -> bytes:
    """JSON that reads back as written: orjson, else the stdlib for what orjson cannot keep exactly.

    orjson writes NaN and ±Infinity as ``null`` and refuses integers beyond 64 bits; the stdlib writes
    ``NaN``/``Infinity`` literals and any integer, and ``loads_exact`` reads both back. Only output
    containing ``null`` can hide a non-finite double, so only that is scanned.
    """
    try:
        out = orjson.dumps(value, option=option)
    except orjson.JSONEncodeError:  # e.g. integers beyond 64 bits: the stdlib keeps them exactly
        return json.dumps(value, default=str, sort_keys=bool(option & orjson.OPT_SORT_KEYS)).encode()
    if b"null" in out and _has_non_finite(value):
        return json.dumps(value, default=str, sort_keys=bool(option & orjson.OPT_SORT_KEYS)).encode()
    return out


def _has_non_finite(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is float:
            if not math.isfinite(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return False


def loads_exact(body: bytes) -> Any:
    """A stored JSON column (body, resource) as written: see ``_dumps_exact``."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:  # NaN / Infinity literals, big integers: written by the stdlib
        return json.loads(body)


def _decode_body(body: bytes) -> dict[str, Any]:
    value = loads_exact(body)
    return value if isinstance(value, dict) else dict(value)


def _make_trace(trace_id: str, spans: list[Span]) -> Trace:
    """A Trace whose spans without a service (detached subsegments) take their nearest ancestor's."""
    trace = Trace(trace_id, spans)
    if any(not s.service for s in spans):
        for node, _depth in trace.preorder():
            span = trace.spans[node]
            if not span.service:
                parent = trace.parent(node)
                if parent is not None:
                    span.service = trace.spans[parent].service
    return trace


class _SummaryAcc:
    """A trace summary row being updated with newly written spans."""

    __slots__ = (
        "end_ns",
        "error",
        "fault",
        "in_progress_count",
        "root_is_entry",
        "root_name",
        "root_service",
        "root_span_id",
        "root_start_ns",
        "services",
        "span_count",
        "start_ns",
        "throttle",
        "trace_id",
    )

    def __init__(self, trace_id: str) -> None:
        self.trace_id = trace_id
        self.start_ns = 0
        self.end_ns = 0
        self.root_span_id = ""
        self.root_service = ""
        self.root_name = ""
        self.root_start_ns = 0
        self.root_is_entry = False
        self.span_count = 0
        self.in_progress_count = 0
        self.error = False
        self.fault = False
        self.throttle = False
        self.services: set[str] = set()

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> _SummaryAcc:
        acc = cls(row[0])
        (
            _,
            acc.start_ns,
            acc.end_ns,
            acc.root_span_id,
            acc.root_service,
            acc.root_name,
            acc.root_start_ns,
            root_is_entry,
            acc.span_count,
            acc.in_progress_count,
            error,
            fault,
            throttle,
            services,
        ) = row
        acc.root_is_entry = bool(root_is_entry)
        acc.error, acc.fault, acc.throttle = bool(error), bool(fault), bool(throttle)
        acc.services = set(orjson.loads(services))
        return acc

    def add(self, span: Span, held: tuple[bool, int] | None) -> None:
        if held is None:
            self.span_count += 1
        elif held[0]:
            self.in_progress_count -= 1
        if span.in_progress:
            self.in_progress_count += 1
        if span.start_ns > 0 and (self.start_ns == 0 or span.start_ns < self.start_ns):
            self.start_ns = span.start_ns
        self.end_ns = max(self.end_ns, span.end_ns)
        status = span.status
        self.error |= status is Status.ERROR or status is Status.THROTTLE
        self.throttle |= status is Status.THROTTLE
        self.fault |= status is Status.FAULT
        if span.service:
            self.services.add(span.service)
        is_entry = span.parent_id is None
        better = (
            not self.root_span_id
            or span.span_id == self.root_span_id
            or (is_entry and not self.root_is_entry)
            or (is_entry == self.root_is_entry and span.start_ns < self.root_start_ns)
        )
        if better:
            self.root_span_id = span.span_id
            self.root_service = span.service or self.root_service
            self.root_name = span.name
            self.root_start_ns = span.start_ns
            self.root_is_entry = is_entry

    def to_row(self, seq: int) -> tuple[Any, ...]:
        return (
            self.trace_id,
            self.start_ns,
            self.end_ns,
            self.root_span_id,
            self.root_service,
            self.root_name,
            self.root_start_ns,
            int(self.root_is_entry),
            self.span_count,
            self.in_progress_count,
            int(self.error),
            int(self.fault),
            int(self.throttle),
            orjson.dumps(sorted(self.services)).decode(),
            seq,
        )

    def summary(self) -> TraceSummary:
        return TraceSummary(
            trace_id=self.trace_id,
            root_service=self.root_service,
            root_name=self.root_name,
            start_ns=self.start_ns,
            duration_ns=max(0, self.end_ns - self.start_ns),
            span_count=self.span_count,
            error=self.error,
            fault=self.fault,
            throttle=self.throttle,
            services=tuple(sorted(self.services)),
            in_progress=self.in_progress_count > 0,
        )


def _check_header(path: Path) -> None:
    try:
        with path.open("rb") as handle:
            header = handle.read(len(_SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"cannot read store {path}: {exc.strerror or exc}") from exc
    if header and header != _SQLITE_HEADER:
        raise StoreCorruptError(f"{path} is not an SQLite database (corrupt or not a store); it was left untouched")


def _rollback_if_open(conn: sqlite3.Connection) -> None:
    """Roll back the connection's transaction unless SQLite already did (it does on a full disk, among others).

    A ROLLBACK without a transaction raises and would hide the error that ended the transaction (a full
    disk, a corrupt page): the caller re-raises that one, so a failing ROLLBACK is only logged.
    """
    if not conn.in_transaction:
        return
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        _log.warning("rollback failed after a store error: %s", exc)


_SQLITE_FULL = 13
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26


def _translate(exc: sqlite3.DatabaseError, path: Path) -> StoreError:
    text = str(exc)
    primary = int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF  # extended codes keep the primary in the low byte
    corrupt_text = "malformed" in text or "not a database" in text or "corrupt" in text
    if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or corrupt_text:
        return StoreCorruptError(f"store {path} is damaged ({text}); it was left untouched")
    if primary == _SQLITE_FULL or "disk is full" in text:
        return StoreDiskFullError(f"disk full: {path} ({text}); writes fail until space is freed")
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return StoreLockedError(f"store {path} stayed locked by another process: {text}")
    return StoreError(f"store {path}: {text}")
