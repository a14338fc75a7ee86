"""Store-and-forward exporter against a real OTLP/HTTP loopback receiver that is stopped, killed and restarted."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from spanscope.tracer.spool import DEVICE_CLOCK_OFFSET_NS, DiskSpool

from tests.tracer.spool_loopback import Receiver, Spans, export_within_cap, make_exporter, spool_files_bytes
from tests.waiting import reached as wait_until


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def spans() -> Iterator[Spans]:
    s = Spans()
    yield s
    s.provider.shutdown()


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
    sent = export_within_cap(exporter, spans, [f"e-{i:03d}" for i in range(120)], tmp_path, max_bytes, payload=300)
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

    monkeypatch.setattr("spanscope.tracer.spool.disk.os.fsync", failing_fsync)
    assert exporter.export(spans.batch("lost")) is SpanExportResult.FAILURE
    assert exporter.stats.export_failures == 1
    assert exporter.export(spans.batch("kept-1")) is SpanExportResult.SUCCESS
    monkeypatch.setattr("spanscope.tracer.spool.disk.os.fsync", real_fsync)
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

    from spanscope.tracer.spool import disk, exporter, sender, wire

    for module in (disk, exporter, sender, wire):
        assert doctest.testmod(module).failed == 0
    assert doctest.testmod(sender).attempted > 0  # backoff_delay_s's example ran


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
