"""Store-and-forward exporter against a real OTLP/HTTP loopback receiver that is stopped, killed and restarted."""

from __future__ import annotations

import email.utils
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from spanscope.tracer.spool import DEVICE_CLOCK_OFFSET_NS, DiskSpool, StoreAndForwardExporter

FAST = {"initial_backoff_s": 0.02, "max_backoff_s": 0.1, "request_timeout_s": 2.0}


class Receiver:
    """A minimal OTLP/HTTP traces receiver on 127.0.0.1 that can be stopped and restarted on its port.

    mode "ok" answers 200, "kill" drops the connection without answering, "reject" answers 400.
    ``skew_s`` shifts the Date header (the collector's clock relative to this machine's).
    """

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.requests = 0
        self.mode = "ok"
        self.skew_s = 0.0
        self.last_headers: dict[str, str] = {}
        self._server: ThreadingHTTPServer | None = None
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/traces"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def date_time_string(self, timestamp: float | None = None) -> str:
                return email.utils.formatdate(time.time() + receiver.skew_s, usegmt=True)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests += 1
                receiver.last_headers = dict(self.headers)
                if receiver.mode == "kill":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if receiver.mode == "reject":
                    self.send_response(400)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                request = ExportTraceServiceRequest()
                try:
                    request.ParseFromString(body)
                except DecodeError:
                    self.send_response(400)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                for rs in request.resource_spans:
                    for ss in rs.scope_spans:
                        for span in ss.spans:
                            attrs = {kv.key: kv.value for kv in span.attributes}
                            receiver.spans.append(
                                {"name": span.name, "span_id": span.span_id.hex(), "attributes": attrs}
                            )
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def names(self) -> list[str]:
        return [s["name"] for s in self.spans]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


class Spans:
    """Finished spans from a real SDK provider (service "greengrass-core")."""

    def __init__(self) -> None:
        self.memory = InMemorySpanExporter()
        self.provider = TracerProvider(resource=Resource.create({"service.name": "greengrass-core"}))
        self.provider.add_span_processor(SimpleSpanProcessor(self.memory))
        self.tracer = self.provider.get_tracer("edge")

    def batch(self, *names: str, payload: int = 0) -> list[ReadableSpan]:
        self.memory.clear()
        for name in names:
            with self.tracer.start_as_current_span(name, attributes={"blob": "p" * payload}):
                pass
        return list(self.memory.get_finished_spans())


@pytest.fixture
def spans() -> Iterator[Spans]:
    s = Spans()
    yield s
    s.provider.shutdown()


def wait_until(predicate: Callable[[], bool], timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def make_exporter(receiver: Receiver, directory: Path, **kwargs: Any) -> StoreAndForwardExporter:
    inner = OTLPSpanExporter(endpoint=receiver.url, timeout=1)
    options = {**FAST, **kwargs}
    return StoreAndForwardExporter(inner, directory, **options)


def spool_files_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.glob("seg-*.spool"))


def test_online_spans_go_straight_through_with_clock_offset(receiver: Receiver, spans: Spans, tmp_path: Path) -> None:
    receiver.start()
    exporter = make_exporter(receiver, tmp_path)
    assert wait_until(lambda: exporter.stats.clock_offset_ns is not None)
    for i in range(3):
        assert exporter.export(spans.batch(f"live-{i}")) is SpanExportResult.SUCCESS
    assert receiver.names() == ["live-0", "live-1", "live-2"]
    offset = receiver.spans[0]["attributes"][DEVICE_CLOCK_OFFSET_NS].int_value
    assert abs(offset) < 2_000_000_000  # same machine: within the Date header's resolution
    stats = exporter.stats
    assert (stats.exported_live, stats.spooled_batches, stats.pending_batches) == (3, 0, 0)
    exporter.shutdown()


def test_collector_down_spools_then_drains_in_order_when_it_returns(
    receiver: Receiver, spans: Spans, tmp_path: Path
) -> None:
    exporter = make_exporter(receiver, tmp_path)  # receiver not started: connection refused
    expected = []
    for i in range(10):
        names = [f"b{i}-s{j}" for j in range(3)]
        expected += names
        assert exporter.export(spans.batch(*names)) is SpanExportResult.SUCCESS
    stats = exporter.stats
    assert stats.spooled_batches == 10 and stats.pending_batches == 10 and stats.spooled_spans == 30
    assert not stats.online
    assert spool_files_bytes(tmp_path) > 0
    assert exporter.force_flush(timeout_millis=200) is False  # bounded while offline

    receiver.start()
    assert wait_until(lambda: len(receiver.spans) >= 30)
    assert receiver.names() == expected
    assert exporter.force_flush(timeout_millis=5000) is True
    stats = exporter.stats
    assert stats.drained_batches == 10 and stats.pending_batches == 0 and stats.online
    assert stats.send_failures >= 1
    # Back online: the next batch goes straight through the inner exporter.
    exporter.export(spans.batch("after"))
    assert receiver.names()[-1] == "after"
    assert exporter.stats.exported_live == 1
    exporter.shutdown()


def test_killed_connection_spools_and_recovers(receiver: Receiver, spans: Spans, tmp_path: Path) -> None:
    receiver.mode = "kill"
    receiver.start()
    exporter = make_exporter(receiver, tmp_path, probe_clock=False)
    assert exporter.export(spans.batch("k-0", "k-1")) is SpanExportResult.SUCCESS
    assert exporter.export(spans.batch("k-2")) is SpanExportResult.SUCCESS
    assert wait_until(lambda: exporter.stats.send_failures >= 1)
    assert exporter.stats.pending_batches == 2
    assert receiver.spans == []
    receiver.mode = "ok"
    assert wait_until(lambda: len(receiver.spans) == 3)
    assert receiver.names() == ["k-0", "k-1", "k-2"]
    exporter.shutdown()


def test_spool_cap_respected_and_oldest_evicted_first(receiver: Receiver, spans: Spans, tmp_path: Path) -> None:
    max_bytes = 16 * 1024
    exporter = make_exporter(receiver, tmp_path, max_bytes=max_bytes, segment_bytes=2048, probe_clock=False)
    sent = []
    for i in range(120):
        name = f"e-{i:03d}"
        sent.append(name)
        assert exporter.export(spans.batch(name, payload=300)) is SpanExportResult.SUCCESS
        assert spool_files_bytes(tmp_path) <= max_bytes
    stats = exporter.stats
    assert stats.evicted_batches > 0
    assert stats.spooled_batches == 120
    assert stats.pending_batches + stats.evicted_batches + stats.drained_batches == 120
    kept = stats.pending_batches
    receiver.start()
    assert wait_until(lambda: len(receiver.spans) >= kept)
    assert exporter.force_flush(timeout_millis=5000)
    # What survives is the newest suffix, forwarded in order.
    assert receiver.names() == sent[-kept:]
    exporter.shutdown()


def test_spool_survives_restart_and_is_not_resent(receiver: Receiver, spans: Spans, tmp_path: Path) -> None:
    first = make_exporter(receiver, tmp_path, probe_clock=False)
    for i in range(5):
        first.export(spans.batch(f"before-{i}"))
    assert first.stats.pending_batches == 5
    first.shutdown()  # the process ends; the spool stays on disk

    receiver.start()
    second = make_exporter(receiver, tmp_path, probe_clock=False)
    assert wait_until(lambda: len(receiver.spans) == 5)
    second.export(spans.batch("after-restart"))
    assert wait_until(lambda: len(receiver.spans) == 6)
    assert receiver.names() == [f"before-{i}" for i in range(5)] + ["after-restart"]
    assert second.force_flush(timeout_millis=5000)
    second.shutdown()

    third = make_exporter(receiver, tmp_path, probe_clock=False)  # nothing left to send twice
    assert third.force_flush(timeout_millis=1000)
    assert third.stats.pending_batches == 0
    third.shutdown()
    assert len(receiver.spans) == 6


def test_clock_offset_estimated_from_date_header_and_stamped_on_spooled_spans(
    receiver: Receiver, spans: Spans, tmp_path: Path
) -> None:
    receiver.skew_s = -7200.0  # the collector's clock is 2 h behind: the device is 2 h ahead
    exporter = make_exporter(receiver, tmp_path)
    for i in range(3):
        exporter.export(spans.batch(f"offline-{i}"))
    receiver.start()
    assert wait_until(lambda: len(receiver.spans) == 3)
    for span in receiver.spans:
        offset = span["attributes"][DEVICE_CLOCK_OFFSET_NS].int_value
        assert abs(offset - 7200 * 10**9) < 2 * 10**9
    assert exporter.stats.clock_offset_ns is not None
    exporter.shutdown()


def test_configured_clock_offset_is_used(receiver: Receiver, spans: Spans, tmp_path: Path) -> None:
    receiver.start()
    exporter = make_exporter(receiver, tmp_path, clock_offset_ns=-1234)
    exporter.export(spans.batch("configured"))
    assert receiver.spans[0]["attributes"][DEVICE_CLOCK_OFFSET_NS].int_value == -1234
    exporter.shutdown()


def test_rejected_batch_is_dropped_and_counted(receiver: Receiver, spans: Spans, tmp_path: Path) -> None:
    receiver.mode = "reject"
    receiver.start()
    exporter = make_exporter(receiver, tmp_path, probe_clock=False)
    exporter.export(spans.batch("bad-0"))
    exporter.export(spans.batch("bad-1"))
    assert wait_until(lambda: exporter.stats.rejected_batches == 2)
    assert exporter.stats.pending_batches == 0
    exporter.shutdown()


def test_through_a_batch_span_processor(receiver: Receiver, tmp_path: Path) -> None:
    exporter = make_exporter(receiver, tmp_path, probe_clock=False)
    provider = TracerProvider(resource=Resource.create({"service.name": "greengrass-core"}))
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=50))
    tracer = provider.get_tracer("edge")
    for i in range(20):
        with tracer.start_as_current_span(f"sensor-read-{i}"):
            pass
    provider.force_flush(timeout_millis=5000)
    assert wait_until(lambda: exporter.stats.spooled_spans + exporter.stats.exported_live == 20)
    receiver.start()
    assert wait_until(lambda: len(receiver.spans) == 20)
    assert sorted(receiver.names()) == sorted(f"sensor-read-{i}" for i in range(20))
    provider.shutdown()


def test_never_raises_when_the_directory_is_unusable(receiver: Receiver, spans: Spans, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    exporter = make_exporter(receiver, blocker, probe_clock=False)
    assert exporter.export(spans.batch("lost")) is SpanExportResult.FAILURE
    assert exporter.force_flush(timeout_millis=100) is True  # nothing is spooled
    exporter.shutdown()
    exporter.shutdown()  # twice is fine
    assert exporter.export(spans.batch("late")) is SpanExportResult.FAILURE


# --- the disk spool alone ----------------------------------------------------------------------------------


def test_disk_spool_cursor_persists_partial_drain(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path)
    for i in range(5):
        assert spool.append(f"r{i}".encode()).stored
    records = spool.peek(max_records=2)
    assert [r.payload for r in records] == [b"r0", b"r1"]
    spool.commit(records[-1])
    spool.close()

    reopened = DiskSpool(tmp_path)
    assert [r.payload for r in reopened.peek()] == [b"r2", b"r3", b"r4"]
    reopened.commit(reopened.peek()[-1])
    reopened.append(b"r5")
    reopened.close()

    again = DiskSpool(tmp_path)
    assert [r.payload for r in again.peek()] == [b"r5"]
    again.commit(again.peek()[-1])
    again.close()
    assert len(DiskSpool(tmp_path)) == 0
    assert len(list(tmp_path.glob("seg-*.spool"))) <= 1


def test_disk_spool_torn_write_is_detected_and_skipped(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path)
    for i in range(3):
        spool.append(f"ok{i}".encode())
    spool.close()
    (segment,) = sorted(tmp_path.glob("seg-*.spool"))
    with open(segment, "ab") as handle:  # a write torn by power loss: header promises more than is there
        handle.write(b"SSP1" + (1000).to_bytes(4, "big") + (0).to_bytes(4, "big") + b"partial")
        handle.flush()
        os.fsync(handle.fileno())

    reopened = DiskSpool(tmp_path)
    assert reopened.corrupt_records == 1
    assert [r.payload for r in reopened.peek()] == [b"ok0", b"ok1", b"ok2"]
    reopened.append(b"ok3")  # appends go to a new file, never after the torn tail
    assert [r.payload for r in reopened.peek()] == [b"ok0", b"ok1", b"ok2", b"ok3"]
    reopened.close()


def test_disk_spool_damaged_record_is_skipped_keeping_the_rest(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path)
    for payload in (b"first", b"second", b"third"):
        spool.append(payload)
    spool.close()
    (segment,) = sorted(tmp_path.glob("seg-*.spool"))
    data = bytearray(segment.read_bytes())
    index = data.index(b"second")
    data[index] ^= 0xFF  # bit rot inside one payload
    segment.write_bytes(bytes(data))

    reopened = DiskSpool(tmp_path)
    assert reopened.corrupt_records == 1
    assert [r.payload for r in reopened.peek()] == [b"first", b"third"]
    reopened.close()


def test_disk_spool_eviction_counts_and_bounds(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path, max_bytes=4096, segment_bytes=1024)
    evicted = 0
    for i in range(200):
        result = spool.append(f"{i:04d}".encode() * 20)  # 80-byte payloads
        evicted += result.evicted_records
        assert spool.total_bytes() <= 4096
        assert spool_files_bytes(tmp_path) <= 4096
    pending = spool.pending()[0]
    assert evicted + pending == 200
    payloads = [r.payload for r in spool.peek(max_records=1000)]
    assert payloads == [f"{i:04d}".encode() * 20 for i in range(200 - pending, 200)]
    assert not spool.append(b"x" * 5000).stored  # larger than the whole spool: refused, counted
    spool.close()


def test_full_disk_is_counted_and_leaves_no_torn_record(
    receiver: Receiver, spans: Spans, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exporter = make_exporter(receiver, tmp_path, probe_clock=False)
    assert exporter.export(spans.batch("kept-0")) is SpanExportResult.SUCCESS
    real_fsync = os.fsync
    calls = {"n": 0}

    def failing_fsync(fd: int) -> None:  # the disk fills up exactly once (ENOSPC)
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr("spanscope.tracer.spool.os.fsync", failing_fsync)
    assert exporter.export(spans.batch("lost")) is SpanExportResult.FAILURE
    assert exporter.stats.export_failures == 1
    assert exporter.export(spans.batch("kept-1")) is SpanExportResult.SUCCESS
    monkeypatch.setattr("spanscope.tracer.spool.os.fsync", real_fsync)
    exporter.shutdown()

    reopened = DiskSpool(tmp_path)
    assert reopened.corrupt_records == 0
    assert len(reopened.peek()) == 2
    reopened.close()
    receiver.start()
    again = make_exporter(receiver, tmp_path, probe_clock=False)
    assert wait_until(lambda: len(receiver.spans) == 2)
    assert receiver.names() == ["kept-0", "kept-1"]
    again.shutdown()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("append"), st.integers(0, 700)),
            st.tuples(st.just("drain"), st.integers(1, 5)),
            st.tuples(st.just("reopen"), st.just(0)),
            st.tuples(st.just("tear"), st.integers(1, 30)),
        ),
        max_size=60,
    )
)
def test_disk_spool_behaves_like_a_bounded_fifo(tmp_path_factory: pytest.TempPathFactory, ops: list[Any]) -> None:
    directory = tmp_path_factory.mktemp("spool")
    max_bytes = 3000
    spool = DiskSpool(directory, max_bytes=max_bytes, segment_bytes=700, fsync=False)
    model: deque[bytes] = deque()
    counter = 0
    for op, arg in ops:
        if op == "append":
            payload = counter.to_bytes(4, "big") * (arg // 4 + 1)
            counter += 1
            result = spool.append(payload)
            for _ in range(result.evicted_records if result.stored else 0):
                model.popleft()  # evictions are always the oldest records
            if result.stored:
                model.append(payload)
            assert spool.total_bytes() <= max_bytes
        elif op == "drain":
            records = spool.peek(max_records=arg)
            assert [r.payload for r in records] == list(model)[: len(records)]
            assert len(records) == min(arg, len(model))
            if records:
                spool.commit(records[-1])
                for _ in records:
                    model.popleft()
        else:
            spool.close()
            files = sorted(directory.glob("seg-*.spool"))
            if op == "tear" and files:  # a crash mid-append: a partial record at the end of the newest file
                with open(files[-1], "ab") as handle:
                    handle.write((b"SSP1" + (500).to_bytes(4, "big") + b"\0" * 30)[:arg])
            spool = DiskSpool(directory, max_bytes=max_bytes, segment_bytes=700, fsync=False)
        assert spool.pending()[0] == len(model)
    assert [r.payload for r in spool.peek(max_records=10_000, max_bytes=10**9)] == list(model)
    spool.close()


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    import random

    from spanscope.tracer.spool import backoff_delay_s

    rng = random.Random(7)
    for failures, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (9, 256.0), (10, 300.0), (500, 300.0)]:
        delays = [backoff_delay_s(failures, 1.0, 300.0, rng=rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 150  # jittered, not lockstep


def test_module_doctests() -> None:
    import doctest

    from spanscope.tracer import spool

    assert doctest.testmod(spool).failed == 0


def test_drain_requests_carry_the_otlp_headers_from_the_environment(
    receiver: Receiver, spans: Spans, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20edge-token")
    exporter = make_exporter(receiver, tmp_path, probe_clock=False)
    exporter.export(spans.batch("authorized"))  # collector down: spooled
    receiver.start()
    assert wait_until(lambda: len(receiver.spans) == 1)
    assert receiver.last_headers.get("authorization") == "Bearer edge-token"
    assert receiver.last_headers.get("Content-Type") == "application/x-protobuf"
    exporter.shutdown()


def test_an_unparsable_spooled_record_is_rejected_and_the_rest_forwarded(
    receiver: Receiver, spans: Spans, tmp_path: Path
) -> None:
    spool = DiskSpool(tmp_path)
    spool.append(b"\xff\xff not protobuf")
    spool.close()
    receiver.start()
    exporter = make_exporter(receiver, tmp_path)  # probes: the clock offset is known, records get stamped
    exporter.export(spans.batch("good"))
    assert wait_until(lambda: receiver.names() == ["good"])
    assert wait_until(lambda: exporter.stats.pending_batches == 0)
    exporter.shutdown()
