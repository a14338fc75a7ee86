"""End to end: an edge device's store-and-forward exporter against spanscope's collector going down and up."""

from __future__ import annotations

import socket
from functools import partial
from pathlib import Path

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from spanscope.collectors.collector import BackgroundCollector, CollectorConfig
from spanscope.collectors.store import open_store
from spanscope.tracer.spool import DEVICE_CLOCK_OFFSET_NS, StoreAndForwardExporter

from tests import waiting


def free_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port: int = probe.getsockname()[1]
    probe.close()
    return port


wait_for = partial(waiting.wait_for, timeout_s=20.0)


def test_device_spans_reach_the_store_across_collector_outages(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "spans.db"
    config = CollectorConfig(db_path=db, xray_udp=None, otlp_http=("127.0.0.1", port), otlp_grpc=None, log_interval_s=0)
    url = f"http://127.0.0.1:{port}/v1/traces"
    exporter = StoreAndForwardExporter(
        OTLPSpanExporter(endpoint=url, timeout=1),
        tmp_path / "spool",
        initial_backoff_s=0.05,
        max_backoff_s=0.2,
        request_timeout_s=2.0,
    )
    provider = TracerProvider(
        resource=Resource.create({"service.name": "greengrass-core", "spanscope.device.id": "thing-7"})
    )
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=50))
    tracer = provider.get_tracer("edge")

    def emit(prefix: str, count: int) -> None:
        for i in range(count):
            with tracer.start_as_current_span(f"{prefix}-{i}"):
                pass
        provider.force_flush(timeout_millis=5000)

    emit("offline", 10)  # no collector yet
    assert exporter.stats.spooled_spans == 10

    with BackgroundCollector(config) as collector:
        wait_for(lambda: collector.counters.get("writer.spans") >= 10)
    emit("outage", 5)  # the collector went away again
    with BackgroundCollector(config) as collector:
        wait_for(lambda: collector.counters.get("writer.spans") >= 5)
        emit("online", 3)
        wait_for(lambda: collector.counters.get("writer.spans") >= 8)
    provider.shutdown()

    with open_store(db, readonly=True) as store:
        spans = [s for trace in store.iter_traces() for s in trace.spans]
    names = sorted(s.name for s in spans)
    assert names == sorted(
        [f"offline-{i}" for i in range(10)] + [f"outage-{i}" for i in range(5)] + [f"online-{i}" for i in range(3)]
    )
    assert all(s.service == "greengrass-core" for s in spans)
    offsets = [s.attributes.get(DEVICE_CLOCK_OFFSET_NS) for s in spans]
    assert all(isinstance(o, int) and abs(o) < 2_000_000_000 for o in offsets), offsets
