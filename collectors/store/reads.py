"""The read path: traces, summaries, ids and change feeds read from the store, as ``Store`` methods.

``ReadPath`` is the half of ``Store`` that reads: it holds no state of its own and works on the
store's connection under the store's lock. Spans read together share their resource dicts, repeated
strings and empty containers (a million-span trace is never a million copies of them).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spanscope.collectors.errors import TraceNotFoundError
from spanscope.collectors.model import Span, Trace, TraceSummary, normalize_trace_id
from spanscope.collectors.store.codec import SPAN_COLUMNS, SharedEmpties, decode_resource, span_from_row
from spanscope.collectors.store.summaries import SUMMARY_COLUMNS, SummaryAcc

_CHUNK = 400  # ids per IN (...) query, well under SQLite's variable limit


@dataclass(frozen=True, slots=True)
class TraceChange:
    """A trace touched by a write: its change sequence number orders changes across writers."""

    trace_id: str
    seq: int
    end_ns: int
    in_progress: bool


class ReadPath:
    """The reading methods of ``Store`` (over its ``_conn`` under its ``_lock``)."""

    path: Path
    _conn: sqlite3.Connection
    _lock: threading.RLock

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
                f"SELECT {SPAN_COLUMNS} FROM spans WHERE trace_id = ?",  # noqa: S608 (fixed column names)
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
        sql = f"SELECT {SUMMARY_COLUMNS} FROM traces t{where} ORDER BY t.start_ns DESC, t.trace_id"  # noqa: S608 (only ? placeholders and fixed column names are interpolated)
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        return [SummaryAcc.from_row(tuple(row)).summary() for row in rows]

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
                    f"SELECT {SPAN_COLUMNS} FROM spans WHERE trace_id IN ({','.join('?' * len(chunk))})"  # noqa: S608 (only ? placeholders and fixed column names are interpolated)
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
        return decode_resource(row[0]) if row else {}

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
