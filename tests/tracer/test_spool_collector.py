"""End to end: an edge device's store-and-forward exporter against spanscope's collector going down and up."""

from __future__ import annotations

from pathlib import Path

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from spanscope.collectors.collector import BackgroundCollector
from spanscope.collectors.store import open_store
from spanscope.tracer.spool import DEVICE_CLOCK_OFFSET_NS, StoreAndForwardExporter

from tests.builders import collector_config
from tests.tracer.spool_loopback import free_port
from tests.waiting import wait_for


def test_device_spans_reach_the_store_across_collector_outages(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "spans.db"
    config = collector_config(db, otlp_http=("127.0.0.1", port))
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
        wait_for(lambda: collector.counters.get("writer.spans") >= 10, timeout_s=20)
    emit("outage", 5)  # the collector went away again
    with BackgroundCollector(config) as collector:
        wait_for(lambda: collector.counters.get("writer.spans") >= 5, timeout_s=20)
        emit("online", 3)
        wait_for(lambda: collector.counters.get("writer.spans") >= 8, timeout_s=20)
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
