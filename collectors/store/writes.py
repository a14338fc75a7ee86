"""The write path: spans into the spans table in one transaction, idempotent, with their trace summaries.

Writes are idempotent on (trace_id, span_id): the same span twice is stored once, and an in-progress
span is replaced by its completed version (never the reverse). Resources shared by many spans are
stored once, by digest. The caller (``Store``) holds the lock and translates SQLite errors.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from spanscope.collectors.model import Span
from spanscope.collectors.store.codec import ENUM_VALUES, dumps_exact, encode_body
from spanscope.collectors.store.schema import rollback_if_open
from spanscope.collectors.store.summaries import SUMMARY_COLUMNS, SummaryAcc, new_trace_row

_RESOURCE_CACHE = 4096
_CHUNK = 400  # keys per IN (...) query, well under SQLite's variable limit
_INSERT_SPAN = (
    "INSERT OR {conflict} INTO spans (trace_id, span_id, parent_id, service, name, kind, start_ns, end_ns, status,"
    " in_progress, resource_id, body) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
)


class _SummariesIncomplete(Exception):
    """A span thought new was stored already: its trace had no summary row (the write is redone)."""


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What one write_spans call did."""

    inserted: int
    replaced: int
    unchanged: int

    @property
    def stored(self) -> int:
        return self.inserted + self.replaced


def dedupe(spans: Iterable[Span]) -> dict[tuple[str, str], Span]:
    """The spans of one write by key, keeping of each key the version that replaces the others."""
    batch: dict[tuple[str, str], Span] = {}
    for span in spans:
        key = (span.trace_id, span.span_id)
        held = batch.get(key)
        if held is None or _replaces(span, held):
            batch[key] = span
    return batch


class SpanWriter:
    """Writes batches of spans through one connection; caches resource ids between writes."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._resource_ids: dict[bytes, int] = {}  # resource JSON -> id

    def write(self, batch: dict[tuple[str, str], Span]) -> WriteResult:
        """Store a deduplicated batch (``dedupe``) in one transaction."""
        try:
            return self._write(batch, trust_summaries=True)
        except _SummariesIncomplete:  # a span stored without its trace's summary: look every key up
            return self._write(batch, trust_summaries=False)

    def _write(self, batch: dict[tuple[str, str], Span], *, trust_summaries: bool) -> WriteResult:
        """One transaction. A span can only be stored already if its trace has a summary row (both are
        written in the same transaction), so with ``trust_summaries`` only the spans of summarised
        traces are looked up; the others are inserted with OR IGNORE, and if one was there after all
        (a store whose traces table lost rows) the transaction is rolled back and redone with every
        key looked up (``_SummariesIncomplete``)."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            by_trace: dict[str, list[tuple[str, str]]] = {}
            for key in batch:
                held_keys = by_trace.get(key[0])
                if held_keys is None:
                    by_trace[key[0]] = [key]
                else:
                    held_keys.append(key)
            current = self._summary_rows(by_trace)
            if trust_summaries:
                maybe_stored = [key for trace_id in current for key in by_trace[trace_id]]
                existing = self._existing(maybe_stored) if maybe_stored else {}
            else:
                existing = self._existing(batch.keys())
            fresh: list[tuple[Any, ...]] = []  # rows no store holds
            replacing: list[tuple[Any, ...]] = []  # rows replacing an in-progress version
            by_object: dict[int, int | None] = {}  # resources shared by many spans of a request: hashed once
            written: list[tuple[Span, tuple[bool, int] | None]] = []
            unchanged = 0
            values = ENUM_VALUES
            append_written = written.append
            for key, span in batch.items():  # the hot loop: one row tuple per span, built inline
                held = existing.get(key)
                if held is not None:
                    held_in_progress, held_end = held
                    if not (held_in_progress and (not span.in_progress or span.end_ns > held_end)):
                        unchanged += 1
                        continue
                resource = span.resource
                rid = by_object.get(id(resource), -1) if resource else None
                if rid == -1:
                    rid = by_object[id(resource)] = self._resource_id(resource)
                (fresh if held is None else replacing).append(
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
                        encode_body(span),
                    )
                )
                append_written((span, held))
            if fresh:
                fresh.sort()  # key order: neighbouring inserts land in the same B-tree leaf
                before = conn.total_changes
                conn.executemany(_INSERT_SPAN.format(conflict="IGNORE"), fresh)
                if conn.total_changes - before != len(fresh):
                    raise _SummariesIncomplete
            if replacing:
                conn.executemany(_INSERT_SPAN.format(conflict="REPLACE"), replacing)
            if written:
                self._update_summaries(written, current)
            conn.execute("COMMIT")
        except BaseException:
            # Ids assigned inside the failed transaction are void (SQLite hands them out again): a cached
            # one would store a later span with another resource. Drop the cache before anything can raise.
            self._resource_ids.clear()
            rollback_if_open(conn)
            raise
        return WriteResult(len(fresh), len(replacing), unchanged)

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
        body = dumps_exact(resource, orjson.OPT_SORT_KEYS)
        cached = self._resource_ids.get(body)  # by its exact JSON: X-Ray gives each span its own equal dict
        if cached is not None:
            return cached
        digest = hashlib.blake2b(body, digest_size=16).hexdigest()
        row = self._conn.execute("SELECT id FROM resources WHERE digest = ?", (digest,)).fetchone()
        if row is None:
            cursor = self._conn.execute("INSERT INTO resources (digest, body) VALUES (?, ?)", (digest, body))
            rid = cursor.lastrowid
            assert rid is not None
        else:
            rid = int(row[0])
        if len(self._resource_ids) >= _RESOURCE_CACHE:  # a store has few distinct resources; bound it anyway
            self._resource_ids.clear()
        self._resource_ids[body] = rid
        return rid

    def _update_summaries(
        self, written: list[tuple[Span, tuple[bool, int] | None]], current: dict[str, tuple[Any, ...]]
    ) -> None:
        """Fold the written spans into their traces' summary rows (``current``: the rows held before)."""
        conn = self._conn
        seq = int(conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM traces").fetchone()[0])
        by_trace: dict[str, list[tuple[Span, tuple[bool, int] | None]]] = {}
        for item in written:
            by_trace.setdefault(item[0].trace_id, []).append(item)
        rows = []
        service_rows: list[tuple[str, str]] = []
        for trace_id, items in by_trace.items():
            row = current.get(trace_id)
            if row is None and len(items) == 1 and items[0][1] is None:  # a new trace of one new span
                span = items[0][0]
                rows.append(new_trace_row(span, seq))
                if span.service:
                    service_rows.append((span.service, trace_id))
                continue
            summary = SummaryAcc.from_row(row) if row is not None else SummaryAcc(trace_id)
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
                f"SELECT {SUMMARY_COLUMNS} FROM traces WHERE trace_id IN ({','.join('?' * len(chunk))})",  # noqa: S608 (only ? placeholders and fixed column names are interpolated)
                chunk,
            )
            for row in rows:
                found[row[0]] = tuple(row)
        return found


def _replaces(candidate: Span, held: Span) -> bool:
    if held.in_progress and not candidate.in_progress:
        return True
    return held.in_progress and candidate.in_progress and candidate.end_ns > held.end_ns
