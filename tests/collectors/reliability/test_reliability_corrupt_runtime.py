"""A store that SQLite finds corrupt while the collector runs: retryable error, moved aside, fresh store, salvage.

How the corruption is made real and deterministic (no fault injection): while the collector is idle
(every request acknowledged), a second connection checkpoints the WAL into the database file
(``PRAGMA wal_checkpoint(TRUNCATE)``), finds the spans table's leftmost leaf page by following the
first child pointers down from its root page (``sqlite_master.rootpage``; the leaf's cell count says
how many keys it holds: the smallest ones) and overwrites that page in the file with 0xA5 bytes.
SQLite keeps a per-connection page cache; in WAL mode a connection drops it at its next transaction
when the WAL index header changed. The checkpoint's WAL reset already does that (checked by hand: the
write fails without anything more), and a small commit to another table afterwards (a resources row
inserted and deleted) makes sure of it. A span whose trace id sorts below every stored one
("000...01") must then be looked up in that leftmost leaf: SQLite raises "database disk image is
malformed" on that write, for real.
"""

from __future__ import annotations

import hashlib
import re
import socket
import sqlite3
from functools import partial
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from spanscope.collectors.collector import BackgroundCollector, Collector, CollectorConfig
from spanscope.collectors.formats.otlp_proto import spans_to_request
from spanscope.collectors.model import Span
from spanscope.collectors.store import open_store
from spanscope.collectors.store.salvage import salvage

from tests import waiting
from tests.builders import BASE_NS, make_span

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
LOW_TRACE = "0" * 31 + "1"  # sorts below every trace id the tests store
ASIDE_NAME = re.compile(r"^spans\.db\.corrupt-\d{8}T\d{6}Z(-\d+)?$")
Key = tuple[str, str]


def config(db: Path, **receivers: Any) -> CollectorConfig:
    base: dict[str, Any] = {"xray_udp": None, "otlp_http": None, "otlp_grpc": None}
    base.update(receivers)
    return CollectorConfig(db_path=db, log_interval_s=0, **base)


def old_spans(n_traces: int = 20, per_trace: int = 15) -> list[list[Span]]:
    """Requests of spans with attributes, enough for a spans B-tree of many leaf pages under one root."""
    return [
        [
            make_span(
                f"old{t}-{i}",
                f"old{t}-0" if i else None,
                i,
                i + 5,
                trace=f"old{t}",
                service=f"svc{i % 3}",
                attributes={"http.url": f"https://example.com/{t}/{i}", "pad": "x" * 40},
            )
            for i in range(per_trace)
        ]
        for t in range(n_traces)
    ]


def low_spans(n: int = 3) -> list[Span]:
    return [
        Span(LOW_TRACE, f"{i + 1:016x}", None, "late", f"late{i}", start_ns=BASE_NS + i, end_ns=BASE_NS + i + 10)
        for i in range(n)
    ]


def corrupt_leftmost_spans_leaf(db: Path) -> list[Key]:
    """Overwrite the spans table's leftmost leaf page in the file; returns the keys it held (see module doc)."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0, "the collector held a read transaction; the checkpoint did not complete"
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'spans'").fetchone()[0]
        pageno, ncell = leftmost_leaf(db, root, page_size)
        keys = conn.execute("SELECT trace_id, span_id FROM spans ORDER BY trace_id, span_id LIMIT ?", (ncell,))
        lost: list[Key] = [(k[0], k[1]) for k in keys]
        with db.open("r+b") as handle:
            handle.seek((pageno - 1) * page_size)
            handle.write(b"\xa5" * page_size)
        conn.execute("BEGIN IMMEDIATE")  # a commit elsewhere: the collector's connection drops its page cache
        conn.execute("INSERT INTO resources (digest, body) VALUES ('corruption-test', x'7b7d')")
        conn.execute("DELETE FROM resources WHERE digest = 'corruption-test'")
        conn.execute("COMMIT")
    finally:
        conn.close()
    return lost


def leftmost_leaf(db: Path, root: int, page_size: int) -> tuple[int, int]:
    """The leftmost leaf page of the B-tree at ``root`` and its cell count, read from the file format
    (https://www.sqlite.org/fileformat2.html#b_tree_pages): an interior page (type 2 or 5) lists its cell
    pointers in key order after a 12-byte header, and each cell starts with its left child's page number."""
    with db.open("rb") as handle:
        page = root
        while True:
            handle.seek((page - 1) * page_size)
            data = handle.read(page_size)
            kind, ncell = data[0], int.from_bytes(data[3:5], "big")
            if kind in (10, 13):
                return page, ncell
            assert kind in (2, 5), f"page {page} is not a B-tree page"
            first_cell = int.from_bytes(data[12:14], "big")
            page = int.from_bytes(data[first_cell : first_cell + 4], "big")
            assert page != root, "the spans table must span several leaf pages"


def corrupt_spans_root(db: Path) -> None:
    """Overwrite the spans table's root page (every write to spans reads it), same cache handling."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'spans'").fetchone()[0]
        with db.open("r+b") as handle:
            handle.seek((root - 1) * page_size)
            handle.write(b"\xa5" * page_size)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO resources (digest, body) VALUES ('corruption-test', x'7b7d')")
        conn.execute("DELETE FROM resources WHERE digest = 'corruption-test'")
        conn.execute("COMMIT")
    finally:
        conn.close()


def asides(db: Path) -> list[Path]:
    return sorted(p for p in db.parent.glob(db.name + ".corrupt-*") if ASIDE_NAME.match(p.name))


wait_for = partial(waiting.wait_for, timeout_s=15.0)


def post(collector: Collector, spans: list[Span]) -> requests.Response:
    host, port = collector.addresses["otlp_http"]
    return requests.post(
        f"http://{host}:{port}/v1/traces",
        data=spans_to_request(spans).SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
        timeout=30,
    )


def stored_keys(collector: Collector) -> set[Key]:
    with open_store(collector.store.path, readonly=True) as reader:
        return {(s.trace_id, s.span_id) for t in reader.iter_traces() for s in t.spans}


def test_http_write_hitting_corruption_gets_503_then_the_store_is_moved_aside_and_salvaged(tmp_path: Path) -> None:
    db = tmp_path / "spans.db"
    with BackgroundCollector(config(db, otlp_http=("127.0.0.1", 0))) as collector:
        acknowledged: list[Span] = []
        for request in old_spans():
            assert post(collector, request).status_code == 200
            acknowledged.extend(request)
        summaries_before = {s.trace_id: s for s in collector.store.summaries()}
        first_store = collector.store
        lost_page_keys = corrupt_leftmost_spans_leaf(db)

        reply = post(collector, low_spans())
        assert reply.status_code == 503, reply.text
        assert reply.headers["Retry-After"] == "1"
        wait_for(lambda: collector.counters.get("store.moved_aside") == 1)
        moved = asides(db)
        assert len(moved) == 1 and moved[0].parent == db.parent
        wait_for(lambda: collector.store is not first_store)  # counted before the fresh store is swapped in
        assert db.exists()  # the fresh store

        retried = post(collector, low_spans())  # what the client's retry does
        assert retried.status_code == 200
        assert len(collector.store.get_trace(LOW_TRACE).spans) == 3

        assert collector.recovery.wait(30)
        result = collector.recovery.moves[0].salvage
        assert result is not None and result.error is None, result
        present = stored_keys(collector)
        missing = [(s.trace_id, s.span_id) for s in acknowledged if (s.trace_id, s.span_id) not in present]
        assert all(result.covers(key) for key in missing)  # every acknowledged span: salvaged or accounted for
        assert set(missing) <= set(lost_page_keys)  # only the overwritten page is lost
        assert result.spans_read == len(acknowledged) - len(missing) > 0
        assert result.expected_spans == len(acknowledged)
        # Summaries rebuilt by the write path: whole traces read back exactly as before.
        lost_traces = {key[0] for key in missing}
        after = {s.trace_id: s for s in collector.store.summaries()}
        for trace_id, before in summaries_before.items():
            if trace_id not in lost_traces:
                assert after[trace_id] == before

        host, port = collector.addresses["otlp_http"]
        health = requests.get(f"http://{host}:{port}/healthz", timeout=10).json()
        (move,) = health["store"]["moved_aside"]
        assert move["aside"] == str(moved[0]) and move["path"] == str(db)
        assert move["salvage"]["spans_read"] == result.spans_read
        stats = requests.get(f"http://{host}:{port}/v1/stats", timeout=10).json()
        assert stats["store.moved_aside"] == 1

        # The fresh store works: more writes, no second move.
        assert post(collector, [make_span("after", None, 0, 1, trace="after")]).status_code == 200
        assert collector.counters.get("store.moved_aside") == 1
        assert asides(db) == moved


def test_grpc_gets_unavailable_and_a_fresh_store_corrupt_again_is_not_moved_in_a_loop(tmp_path: Path) -> None:
    db = tmp_path / "spans.db"
    with BackgroundCollector(config(db, otlp_grpc=("127.0.0.1", 0))) as collector:
        channel = grpc.insecure_channel("{}:{}".format(*collector.addresses["otlp_grpc"]))
        export = channel.unary_unary(EXPORT, response_deserializer=ExportTraceServiceResponse.FromString)

        def send(spans: list[Span]) -> grpc.StatusCode:
            try:
                export(spans_to_request(spans).SerializeToString(), timeout=30)
            except grpc.RpcError as exc:
                return exc.code()
            return grpc.StatusCode.OK

        try:
            for request in old_spans(12):
                assert send(request) is grpc.StatusCode.OK
            corrupt_leftmost_spans_leaf(db)
            assert send(low_spans()) is grpc.StatusCode.UNAVAILABLE
            wait_for(lambda: collector.counters.get("store.moved_aside") == 1)
            assert send(low_spans()) is grpc.StatusCode.OK
            assert collector.recovery.wait(30)

            # The fresh store breaks too, right away: writes keep failing retryably, no second move.
            corrupt_spans_root(db)
            assert send([make_span("x", None, 0, 1, trace="again")]) is grpc.StatusCode.UNAVAILABLE
            wait_for(lambda: collector.counters.get("store.move_aside_suppressed") >= 1)
            assert send([make_span("y", None, 0, 1, trace="again")]) is grpc.StatusCode.UNAVAILABLE
            assert collector.counters.get("store.moved_aside") == 1
            assert len(asides(db)) == 1
        finally:
            channel.close()


def test_udp_datagrams_hitting_corruption_are_counted_as_dropped_then_stored_on_resend(tmp_path: Path) -> None:
    import json

    db = tmp_path / "spans.db"
    header = b'{"format": "json", "version": 1}\n'
    segment = {
        "name": "edge",
        "id": "70de5b6f19ff9a0a",
        "trace_id": "1-00000000-000000000000000000000001",
        "start_time": BASE_NS / 1e9,
        "end_time": BASE_NS / 1e9 + 0.5,
    }
    with BackgroundCollector(config(db, xray_udp=("127.0.0.1", 0), otlp_http=("127.0.0.1", 0))) as collector:
        for request in old_spans(12):
            assert post(collector, request).status_code == 200
        corrupt_leftmost_spans_leaf(db)
        first_store = collector.store
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(header + json.dumps(segment).encode(), collector.addresses["xray_udp"])
            wait_for(lambda: collector.counters.get("xray_udp.dropped:store_error") == 1)
            wait_for(lambda: collector.counters.get("store.moved_aside") == 1)
            wait_for(lambda: collector.store is not first_store)  # counted before the fresh store is swapped in
            sock.sendto(header + json.dumps(segment).encode(), collector.addresses["xray_udp"])
            wait_for(lambda: collector.store.find_trace(LOW_TRACE) is not None)
        assert collector.counters.get("xray_udp.dropped_spans") == 1
        assert collector.recovery.wait(30)


def test_salvage_copies_the_wal_too_and_never_touches_the_aside_files(tmp_path: Path) -> None:
    """Salvage called directly on a copy of a live store (WAL not checkpointed) and on a damaged file."""
    db = tmp_path / "spans.db"
    spans = [s for request in old_spans(10) for s in request]
    with open_store(db) as store:
        store.write_spans(spans)
        aside = tmp_path / "copy.db"
        aside.write_bytes(db.read_bytes())
        (tmp_path / "copy.db-wal").write_bytes((tmp_path / "spans.db-wal").read_bytes())
    digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.glob("copy.db*")}
    assert "copy.db-wal" in digests
    with open_store(tmp_path / "fresh.db") as fresh:
        result = salvage(aside, fresh)
        assert result.complete and result.spans_read == len(spans) == result.spans_copied
        again = salvage(aside, fresh)  # idempotent: nothing duplicated
        assert again.spans_present == len(spans) and fresh.span_count() == len(spans)
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.glob("copy.db*")} == digests
    assert not list(tmp_path.glob(".salvage-*"))  # the private copy is gone


def test_the_archive_roller_and_service_map_follow_the_fresh_store(tmp_path: Path) -> None:
    db = tmp_path / "spans.db"
    cfg = config(db, otlp_http=("127.0.0.1", 0))
    cfg.archive, cfg.archive_quiet_s, cfg.archive_interval_s = str(tmp_path / "archive"), 0.0, 3600.0
    with BackgroundCollector(cfg) as collector:
        for request in old_spans(12):
            assert post(collector, request).status_code == 200
        first_roller = collector.archive_roller
        corrupt_leftmost_spans_leaf(db)
        assert post(collector, low_spans()).status_code == 503
        wait_for(lambda: collector.counters.get("store.moved_aside") == 1)
        assert post(collector, low_spans()).status_code == 200
        assert collector.recovery.wait(30)
        roller = collector.archive_roller
        assert roller is not first_roller and roller.store is collector.store
        assert roller.cursor == 0  # the fresh store's change numbers start again
        rolled = roller.roll_once(flush=True)
        assert rolled.traces == collector.store.trace_count()  # salvaged traces and the retried one
        host, port = collector.addresses["otlp_http"]
        graph = requests.get(f"http://{host}:{port}/v1/service-map", timeout=10).json()
        names = {service.get("Name") for service in graph["Services"]}
        assert {"late", "svc0", "svc1", "svc2"} <= names  # rebuilt from the fresh store: retried and salvaged


def _has_dbstat() -> bool:
    try:
        sqlite3.connect(":memory:").execute("SELECT count(*) FROM dbstat").fetchone()
    except sqlite3.OperationalError:
        return False
    return True


def _overwrite_pages(db: Path, pick: str) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        leaves = [
            row[0]
            for row in conn.execute(
                "SELECT pageno FROM dbstat WHERE name = 'spans' AND pagetype = 'leaf' ORDER BY path"
            )
        ]
        roots = dict(conn.execute("SELECT name, rootpage FROM sqlite_master"))
    finally:
        conn.close()
    pages = {
        "middle and last spans leaves": [leaves[len(leaves) // 2], leaves[-1]],
        "two neighbouring spans leaves": leaves[3:5],
        "spans root": [roots["spans"]],
        "traces table root": [roots["traces"]],
    }[pick]
    with db.open("r+b") as handle:
        for page in pages:
            handle.seek((page - 1) * page_size)
            handle.write(b"\xa5" * page_size)


@pytest.mark.skipif(not _has_dbstat(), reason="this SQLite lacks the dbstat virtual table (page lists)")
@pytest.mark.parametrize(
    "damage", ["middle and last spans leaves", "two neighbouring spans leaves", "spans root", "traces table root"]
)
def test_salvage_accounts_for_every_span_of_a_damaged_file(tmp_path: Path, damage: str) -> None:
    """Every span of the damaged file is either copied or inside an unreadable range the result names."""
    aside = tmp_path / "aside.db"
    spans = [s for request in old_spans(30) for s in request]
    with open_store(aside) as store:
        store.write_spans(spans)  # closing checkpoints the WAL into the file
    _overwrite_pages(aside, damage)
    with open_store(tmp_path / "fresh.db") as fresh:
        result = salvage(aside, fresh, chunk_traces=4)
        assert result.error is None
        copied = {(s.trace_id, s.span_id) for t in fresh.iter_traces() for s in t.spans}
        assert len(copied) == result.spans_read
        assert all((s.trace_id, s.span_id) in copied or result.covers((s.trace_id, s.span_id)) for s in spans)
        if damage == "traces table root":
            assert len(copied) == len(spans) and not result.traces_table_complete
        elif damage == "spans root":
            assert not copied and result.unreadable
        else:
            assert 0 < len(copied) < len(spans)


def test_a_fresh_store_that_does_not_open_is_retried_on_later_writes(tmp_path: Path) -> None:
    """Fault injection: the tests run as root, so a fresh store that cannot be created (disk full,
    permissions) cannot be provoked for real; an opener that fails once stands in for it."""
    from spanscope.collectors.errors import StoreCorruptError
    from spanscope.collectors.receivers.counters import Counters
    from spanscope.collectors.store.recovery import StoreRecovery

    db = tmp_path / "spans.db"
    store = open_store(db)
    spans = old_spans(3)[0]
    store.write_spans(spans)
    attempts: list[Path] = []

    def opener(path: Path) -> Any:
        attempts.append(path)
        if len(attempts) == 1:
            raise OSError(28, "No space left on device")
        return open_store(path)

    counters = Counters()
    recovery = StoreRecovery(counters, open_store=opener)
    swapped: list[Any] = []
    recovery.on_swap.append(swapped.append)
    pending = recovery.recover(store, StoreCorruptError("database disk image is malformed"))
    assert len(asides(db)) == 1 and not swapped and counters.get("store.open_failed") == 1
    with pytest.raises(StoreCorruptError):
        pending.write_spans(spans)  # the writer answers 503 and asks the recovery again
    assert recovery.recover(pending, StoreCorruptError("not open")) is None  # at most one attempt a second
    pending.last_attempt_s = -float("inf")  # a second later
    fresh = recovery.recover(pending, StoreCorruptError("not open"))
    try:
        assert swapped == [fresh] and fresh.path == db
        assert recovery.wait(30)
        assert recovery.moves[0].salvage.spans_read == len(spans) == fresh.span_count()
        assert counters.get("store.moved_aside") == 1
    finally:
        fresh.close()
