"""Overload: a full write queue answers 429 / UNAVAILABLE with retry hints; nothing acknowledged is lost."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import requests
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from spanscope.collectors.collector import BackgroundCollector, CollectorConfig
from spanscope.collectors.formats.otlp_proto import spans_to_request
from spanscope.collectors.store import open_store

from tests.builders import LOOPBACK, collector_config, make_span, trace_id_for
from tests.waiting import wait_for

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


class GatedStore:
    """A real store whose writes wait for a gate, so the write queue can be filled on purpose."""

    def __init__(self, path: Path) -> None:
        self.inner = open_store(path)
        self.path = path
        self.gate = threading.Event()
        self.writing = threading.Event()

    def write_spans(self, spans):
        self.writing.set()
        assert self.gate.wait(30)
        return self.inner.write_spans(spans)

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str):  # reads (change cursor, traces) go straight to the real store
        return getattr(self.inner, name)


def body(label: str, n: int) -> bytes:
    spans = [make_span(f"{label}{i}", None, i, i + 1, trace=label, service="api") for i in range(n)]
    return spans_to_request(spans).SerializeToString()


def gated_config(tmp_path: Path, **overrides) -> tuple[GatedStore, CollectorConfig]:
    """A gated store and a collector config with HTTP and gRPC on ephemeral ports and a 10-span queue."""
    store = GatedStore(tmp_path / "spans.db")
    overrides.setdefault("max_pending_spans", 10)
    return store, collector_config(store.path, otlp_grpc=LOOPBACK, **overrides)


def clients(collector) -> tuple[str, grpc.Channel, object]:
    """The OTLP/HTTP URL, a gRPC channel and its Export callable."""
    host, port = collector.addresses["otlp_http"]
    channel = grpc.insecure_channel("{}:{}".format(*collector.addresses["otlp_grpc"]))
    export = channel.unary_unary(EXPORT, response_deserializer=ExportTraceServiceResponse.FromString)
    return f"http://{host}:{port}/v1/traces", channel, export


def test_overload_gives_retryable_codes_and_loses_nothing_acknowledged(tmp_path: Path) -> None:
    store, config = gated_config(tmp_path, retry_after_s=2)
    with BackgroundCollector(config, store=store) as collector, ThreadPoolExecutor(4) as pool:
        url, channel, export = clients(collector)
        headers = {"Content-Type": "application/x-protobuf"}

        first = pool.submit(requests.post, url, data=body("a", 5), headers=headers)
        assert store.writing.wait(10)  # "a" is being written (blocked on the gate)
        second = pool.submit(export, body("b", 8), timeout=30)
        wait_for(lambda: collector.writer.pending_spans == 8)  # "b" waits in the queue

        refused = requests.post(url, data=body("c", 5), headers=headers)
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "2"
        try:
            export(body("d", 5), timeout=10)
            raise AssertionError("gRPC export should have been refused")
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.UNAVAILABLE
            status = rpc_status.from_call(err)
            assert status is not None
            info = error_details_pb2.RetryInfo()
            assert status.details[0].Unpack(info)
            assert info.retry_delay.seconds == 2

        store.gate.set()
        assert first.result(30).status_code == 200
        second.result(30)  # no exception: OK
        acknowledged = {trace_id_for("a"): 5, trace_id_for("b"): 8}
        with open_store(store.path, readonly=True) as reader:
            for trace_id, count in acknowledged.items():
                assert len(reader.get_trace(trace_id).spans) == count
            assert reader.find_trace(trace_id_for("c")) is None
        # The refused request succeeds when retried.
        assert requests.post(url, data=body("c", 5), headers=headers).status_code == 200
        channel.close()
        assert collector.counters.get("otlp_http.rejected:overload") == 1
        assert collector.counters.get("otlp_grpc.rejected:overload") == 1


def test_sdk_exporter_retries_through_overload_and_every_span_arrives(tmp_path: Path) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    store = GatedStore(tmp_path / "spans.db")
    config = collector_config(store.path, max_pending_spans=50, retry_after_s=1)
    with BackgroundCollector(config, store=store) as collector:
        host, port = collector.addresses["otlp_http"]
        providers = []
        for n in range(3):  # three processes' worth of exporters, exporting concurrently
            provider = TracerProvider(resource=Resource.create({"service.name": f"load{n}"}))
            provider.add_span_processor(
                BatchSpanProcessor(
                    OTLPSpanExporter(endpoint=f"http://{host}:{port}/v1/traces", timeout=30),
                    max_export_batch_size=40,
                    schedule_delay_millis=50,
                )
            )
            providers.append(provider)
        for provider in providers:
            tracer = provider.get_tracer("overload")
            for _ in range(80):
                with tracer.start_as_current_span("work"):
                    pass
        wait_for(lambda: collector.counters.get("otlp_http.rejected:overload") >= 1)
        store.gate.set()
        with ThreadPoolExecutor(3) as pool:
            assert all(pool.map(lambda p: p.force_flush(60_000), providers))
        for provider in providers:
            provider.shutdown()
        with open_store(store.path, readonly=True) as reader:
            assert reader.span_count() == 240


def test_a_full_queue_refuses_before_decoding(tmp_path: Path) -> None:
    """While the queue is full, requests are refused unread-as-spans: even a malformed body gets 429 /
    UNAVAILABLE, so overload does not spend the CPU the writer needs on decoding spans it will refuse."""
    store, config = gated_config(tmp_path)
    with BackgroundCollector(config, store=store) as collector, ThreadPoolExecutor(2) as pool:
        url, channel, export = clients(collector)
        headers = {"Content-Type": "application/x-protobuf"}
        first = pool.submit(requests.post, url, data=body("a", 5), headers=headers)
        assert store.writing.wait(10)
        second = pool.submit(requests.post, url, data=body("b", 10), headers=headers)
        wait_for(lambda: collector.writer.saturated)

        refused = requests.post(url, data=b"\xff\xff not protobuf", headers=headers)
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "1"
        try:
            export(b"\xff\xff not protobuf", timeout=10)
            raise AssertionError("gRPC export should have been refused")
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.UNAVAILABLE
        assert collector.counters.get("otlp_http.rejected:malformed") == 0
        assert collector.counters.get("otlp_grpc.rejected:malformed") == 0

        store.gate.set()
        assert first.result(30).status_code == 200
        assert second.result(30).status_code == 200
        wait_for(lambda: not collector.writer.saturated)
        assert requests.post(url, data=b"\xff\xff not protobuf", headers=headers).status_code == 400
        channel.close()
