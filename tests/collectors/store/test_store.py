"""The SQLite store: idempotent batched writes, queries, concurrency, and refusing bad files untouched."""

from __future__ import annotations

import hashlib
import multiprocessing
import sqlite3
from pathlib import Path

import pytest
from spanscope.collectors.errors import (
    StoreCorruptError,
    StoreError,
    StoreLockedError,
    StoreVersionError,
    TraceNotFoundError,
)
from spanscope.collectors.model import Kind, SpanEvent, SpanException, Status, xray_trace_id
from spanscope.collectors.store import SCHEMA_VERSION, default_store_path, open_store

from tests.builders import build_spans, make_span, trace_id_for


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_round_trip_every_field(tmp_path: Path) -> None:
    span = make_span(
        "root",
        None,
        0,
        12.5,
        service="api",
        operation="GET /orders",
        kind=Kind.SERVER,
        status=Status.FAULT,
        origin="AWS::Lambda::Function",
        namespace="remote",
        remote_service="example.com",
        attributes={"http.response.status_code": 503, "list": [1, 2], "f": 1.5, "b": True, "n": None},
        annotations={"customer": "c-1", "tier": 2},
        resource={"service.name": "api", "cloud.region": "eu-west-1"},
        links=[("other", "producer")],
    )
    span.status_message = "boom"
    span.events.append(SpanEvent("retry", span.start_ns + 5, {"attempt": 2}))
    span.exceptions.append(SpanException("ValueError", "bad", "trace...", False, span.start_ns + 7))
    with open_store(tmp_path / "s.db") as store:
        assert store.write_spans([span]).inserted == 1
        back = store.get_trace(span.trace_id).spans[0]
    assert back == span


def test_same_span_twice_is_stored_once(tmp_path: Path) -> None:
    spans = build_spans([("a", None, 0, 10), ("b", "a", 1, 2)])
    with open_store(tmp_path / "s.db") as store:
        first = store.write_spans(spans)
        second = store.write_spans(spans)
        assert (first.inserted, second.inserted, second.unchanged) == (2, 0, 2)
        assert store.span_count() == 2
        assert store.summaries()[0].span_count == 2


def test_in_progress_replaced_by_completed_never_reverse(tmp_path: Path) -> None:
    partial = make_span("a", None, 0, 0, in_progress=True)
    done = make_span("a", None, 0, 40, status=Status.ERROR)
    with open_store(tmp_path / "s.db") as store:
        store.write_spans([partial])
        assert store.summaries()[0].in_progress
        result = store.write_spans([done])
        assert result.replaced == 1
        assert store.write_spans([partial]).unchanged == 1
        trace = store.get_trace(done.trace_id)
        summary = store.summaries()[0]
    assert trace.spans[0].end_ns == done.end_ns and not trace.spans[0].in_progress
    assert not summary.in_progress and summary.error and summary.span_count == 1


def test_duplicates_within_one_batch(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.db") as store:
        result = store.write_spans([make_span("a", in_progress=True), make_span("a", end_ms=5), make_span("a")])
        assert result.inserted == 1
        assert not store.get_trace(trace_id_for("t")).spans[0].in_progress


def test_queries_by_id_time_and_service(tmp_path: Path) -> None:
    spans = (
        build_spans([("r1", None, 0, 10, {"service": "api"}), ("c1", "r1", 1, 2, {"service": "db"})], trace="one")
        + build_spans([("r2", None, 1000, 1010, {"service": "api"})], trace="two")
        + build_spans([("r3", None, 2000, 2010, {"service": "batch"})], trace="three")
    )
    with open_store(tmp_path / "s.db") as store:
        store.write_spans(spans)
        assert [s.root_name for s in store.summaries()] == ["r3", "r2", "r1"]
        base = spans[0].start_ns
        assert [s.root_name for s in store.summaries(since_ns=base + 500_000_000)] == ["r3", "r2"]
        assert [s.root_name for s in store.summaries(until_ns=base + 500_000_000)] == ["r1"]
        assert [s.root_name for s in store.summaries(service="db")] == ["r1"]
        assert [s.root_name for s in store.summaries(limit=1)] == ["r3"]
        assert store.get_trace(xray_trace_id(trace_id_for("two"))).spans[0].name == "r2"
        assert {t.trace_id for t in store.iter_traces(service="api")} == {
            trace_id_for("one"),
            trace_id_for("two"),
        }
        assert store.services() == ["api", "batch", "db"]
        with pytest.raises(TraceNotFoundError, match="not in the store"):
            store.get_trace(trace_id_for("absent"))


def test_changes_since_cursor(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.db") as store:
        cursor, ids = store.changes_since(0)
        assert ids == []
        store.write_spans([make_span("a", trace="one")])
        cursor, ids = store.changes_since(cursor)
        assert ids == [trace_id_for("one")]
        store.write_spans([make_span("b", trace="two")])
        cursor2, ids = store.changes_since(cursor)
        assert ids == [trace_id_for("two")] and cursor2 > cursor
        assert store.change_cursor() == cursor2


def test_detached_subsegment_inherits_service(tmp_path: Path) -> None:
    spans = build_spans([("seg", None, 0, 10, {"service": "api"}), ("sub", "seg", 1, 2, {"service": ""})])
    with open_store(tmp_path / "s.db") as store:
        store.write_spans(spans)
        trace = store.get_trace(spans[0].trace_id)
    assert {s.service for s in trace.spans} == {"api"}


def test_reader_in_another_process_while_writing(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with open_store(path) as store:
        store.write_spans(build_spans([("a", None, 0, 1)], trace="first"))
        store._conn.execute("BEGIN IMMEDIATE")  # a writer holds the write lock, mid-transaction
        store._conn.execute("DELETE FROM traces")
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(1) as pool:
            count = pool.apply(_count_traces, (str(path),))
        store._conn.execute("ROLLBACK")
    assert count == 1


def _count_traces(path: str) -> int:
    with open_store(path, readonly=True) as reader:
        return reader.trace_count()


def test_locked_too_long_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    open_store(path).close()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with open_store(path, busy_timeout_s=0.05) as store, pytest.raises(StoreLockedError, match="locked"):
            store.write_spans([make_span("a")])
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


def test_corrupt_file_is_reported_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    path.write_bytes(b"this is not a database" * 100)
    before = _digest(path)
    with pytest.raises(StoreCorruptError, match="not an SQLite database"):
        open_store(path)
    assert _digest(path) == before


def test_damaged_store_is_reported_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with open_store(path) as store:
        store.write_spans(build_spans([(f"s{i}", None, i, i + 1) for i in range(500)]))
    data = bytearray(path.read_bytes())
    data[4096:] = b"\xff" * (len(data) - 4096)  # smash every page after the header page
    path.write_bytes(bytes(data))
    before = _digest(path)
    with pytest.raises(StoreError), open_store(path) as store:
        store.write_spans([make_span("x")])
        list(store.iter_traces())
    assert _digest(path) == before


def test_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (id INTEGER)")
    conn.commit()
    conn.close()
    before = _digest(path)
    with pytest.raises(StoreCorruptError, match="not a spanscope store"):
        open_store(path)
    assert _digest(path) == before


def test_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    open_store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    before = _digest(path)
    with pytest.raises(StoreVersionError, match="newer"):
        open_store(path)
    assert _digest(path) == before


def test_schema_version_recorded(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.db") as store:
        assert store.schema_version == SCHEMA_VERSION
    with open_store(tmp_path / "s.db", readonly=True) as store:
        assert store.schema_version == SCHEMA_VERSION


def test_readonly_missing_store_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        open_store(tmp_path / "absent.db", readonly=True)
    assert not (tmp_path / "absent.db").exists()


def test_default_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SPANSCOPE_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_store_path() == tmp_path / "spanscope" / "spans.db"
    monkeypatch.setenv("SPANSCOPE_DB", str(tmp_path / "x.db"))
    assert default_store_path() == tmp_path / "x.db"


def test_large_integers_survive(tmp_path: Path) -> None:
    span = make_span("a", attributes={"big": 2**70 + 1, "neg": -(2**63) - 1, "ns": 1763700000010000000})
    with open_store(tmp_path / "s.db") as store:
        store.write_spans([span])
        assert store.get_trace(span.trace_id).spans[0].attributes == span.attributes


def test_hostile_text_is_bound_not_interpolated(tmp_path: Path) -> None:
    evil = "x'); DROP TABLE spans; --"
    span = make_span("a", service=evil, operation=evil)
    with open_store(tmp_path / "s.db") as store:
        store.write_spans([span])
        assert store.summaries(service=evil)[0].root_name == evil
        assert store.span_count() == 1
