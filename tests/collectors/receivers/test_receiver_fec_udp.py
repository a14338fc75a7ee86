"""FEC UDP from a device's spool to a running collector over a seeded lossy loopback link: every span
arrives once, parity rebuilds what was lost, the spool fills the rest, acknowledgements come after commit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from spanscope.collectors.collector import BackgroundCollector, Collector, CollectorConfig
from spanscope.collectors.store import open_store
from spanscope.tracer.fec import FecCode, FecUplink, encode_message
from spanscope.tracer.spool import StoreAndForwardExporter

from tests.lossy_link import LossyLink
from tests.waiting import wait_for


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Collector]:
    config = CollectorConfig(
        db_path=tmp_path / "spans.db",
        xray_udp=None,
        otlp_http=None,
        otlp_grpc=None,
        fec_udp=("127.0.0.1", 0),
        log_interval_s=0,
    )
    with BackgroundCollector(config) as running:
        yield running


def emit(exporter: StoreAndForwardExporter, batches: int, per_batch: int) -> None:
    """Real SDK spans: each batch of ``per_batch`` spans (one trace) is one spool record."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "sensor-gw"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test")
    for b in range(batches):
        with tracer.start_as_current_span(f"cycle {b}"):
            for i in range(per_batch - 1):
                with tracer.start_as_current_span("read", attributes={"i": i, "pad": "p" * 200}):
                    pass
        exporter.export(memory.get_finished_spans())
        memory.clear()


def stored_spans(collector: Collector) -> int:
    return collector.counters.get("writer.spans")


@pytest.mark.parametrize(("loss", "parity"), [(0.05, 4), (0.10, 4), (0.05, 0)])
def test_every_span_arrives_once_over_a_lossy_link(
    collector: Collector, tmp_path: Path, loss: float, parity: int
) -> None:
    with LossyLink(collector.addresses["fec_udp"], loss, seed=7) as link:
        uplink = FecUplink(link.address, FecCode(data_shards=16, parity_shards=parity), ack_timeout_s=0.3)
        exporter = StoreAndForwardExporter(
            None, tmp_path / "spool", fec=uplink, initial_backoff_s=0.05, max_backoff_s=0.2, fsync=False
        )
        try:
            emit(exporter, batches=40, per_batch=25)  # 1,000 spans, ~8 KB a record
            assert exporter.force_flush(30_000), exporter.stats
        finally:
            exporter.shutdown()
        assert link.dropped[0] > 0  # the link did lose datagrams
    wait_for(lambda: stored_spans(collector) >= 1000, what="1,000 spans stored")
    with open_store(collector.config.db_path, readonly=True) as store:
        assert store.span_count() == 1000
        assert {t.spans[0].service for t in store.iter_traces()} == {"sensor-gw"}
    rebuilt = collector.counters.get("fec_udp.rebuilt_parts")
    if parity:
        assert rebuilt > 0  # parity did the work retransmission would have done
    else:
        assert rebuilt == 0 and uplink.resent_records > 0  # plain UDP: what was lost had to be sent again


def test_bad_datagrams_are_counted_and_the_receiver_keeps_taking_records(collector: Collector, tmp_path: Path) -> None:
    import socket

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    address = collector.addresses["fec_udp"]
    good = encode_message(1, b"not protobuf \xff\xff", FecCode())
    for datagram in (b"junk", good[0][:-3], *good):
        sock.sendto(datagram, address)
    sock.close()
    # the receiver counts a bad record at once and bad datagrams when its receive loop turns: wait for all
    rejected = ("bad_protobuf", "bad_magic", "bad_header")
    wait_for(
        lambda: all(collector.counters.get(f"fec_udp.rejected:{reason}") >= 1 for reason in rejected),
        what="three rejections counted",
    )
    assert {reason: collector.counters.get(f"fec_udp.rejected:{reason}") for reason in rejected} == dict.fromkeys(
        rejected, 1
    )
    exporter = StoreAndForwardExporter(None, tmp_path / "spool", fec=FecUplink(address), fsync=False)
    try:
        emit(exporter, batches=2, per_batch=3)
        assert exporter.force_flush(10_000)
    finally:
        exporter.shutdown()
    wait_for(lambda: stored_spans(collector) >= 6)
    assert exporter.stats.clock_offset_ns is not None  # estimated from the collector's acknowledgements


def test_collect_takes_the_fec_receiver_address_and_keeps_it_off_by_default(tmp_path: Path) -> None:
    import argparse

    from spanscope.cli import cmd_collect

    parser = argparse.ArgumentParser()
    cmd_collect.register(parser.add_subparsers())
    default = cmd_collect._config(parser.parse_args(["collect", "--db", str(tmp_path / "a.db")]))
    assert default.fec_udp is None
    given = cmd_collect._config(parser.parse_args(["collect", "--db", str(tmp_path / "a.db"), "--fec-udp", ":4319"]))
    assert given.fec_udp == ("127.0.0.1", 4319)
