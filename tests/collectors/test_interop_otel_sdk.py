"""The OpenTelemetry SDK's own OTLP exporters (HTTP protobuf, gRPC, and protobuf-JSON) into a live collector.

Every span the SDK finished arrives in the store and matches field by field: ids, parent, name,
kind, timestamps, attributes, events, links, status.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from google.protobuf import json_format
from opentelemetry import trace as otel_trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, StatusCode
from spanscope.collectors.collector import BackgroundCollector, Collector
from spanscope.collectors.model import Kind, Span, Status

from tests.builders import LOOPBACK, collector_config

KINDS = {
    SpanKind.INTERNAL: Kind.INTERNAL,
    SpanKind.SERVER: Kind.SERVER,
    SpanKind.CLIENT: Kind.CLIENT,
    SpanKind.PRODUCER: Kind.PRODUCER,
    SpanKind.CONSUMER: Kind.CONSUMER,
}


@pytest.fixture(scope="module")
def collector(tmp_path_factory) -> Iterator[Collector]:
    path = tmp_path_factory.mktemp("interop") / "spans.db"
    with BackgroundCollector(collector_config(path, otlp_grpc=LOOPBACK)) as running:
        yield running


def emit(tracer: otel_trace.Tracer) -> None:
    """A small but complete workload: nesting, every kind, events, links, errors, exceptions."""
    with tracer.start_as_current_span("GET /orders", kind=SpanKind.SERVER) as root:
        root.set_attribute("http.request.method", "GET")
        root.set_attribute("http.response.status_code", 200)
        root.set_attribute("retries", 3)
        root.set_attribute("ratio", 0.25)
        root.set_attribute("cached", False)
        root.set_attribute("tags", ["a", "b"])
        root.add_event("validated", {"fields": 4})
        with tracer.start_as_current_span("dynamodb.Query", kind=SpanKind.CLIENT) as call:
            call.set_attribute("rpc.system", "aws-api")
            call.set_attribute("rpc.service", "DynamoDB")
        with tracer.start_as_current_span("publish", kind=SpanKind.PRODUCER) as producer:
            producer_ctx = producer.get_span_context()
        with tracer.start_as_current_span("charge", kind=SpanKind.INTERNAL) as failing:
            try:
                raise ValueError("card declined")
            except ValueError as exc:
                failing.record_exception(exc)
                failing.set_status(StatusCode.ERROR, "card declined")
    with tracer.start_as_current_span(
        "consume", kind=SpanKind.CONSUMER, links=[Link(producer_ctx, {"messaging.system": "sqs"})]
    ):
        pass


def expected_status(span: ReadableSpan) -> Status:
    return Status.FAULT if span.status.status_code is StatusCode.ERROR else Status.OK


def plain(value):
    return list(value) if isinstance(value, tuple) else value


def compare(sdk: ReadableSpan, got: Span, service: str) -> None:
    ctx = sdk.get_span_context()
    assert got.trace_id == f"{ctx.trace_id:032x}"
    assert got.span_id == f"{ctx.span_id:016x}"
    assert got.parent_id == (f"{sdk.parent.span_id:016x}" if sdk.parent else None)
    assert got.name == sdk.name
    assert got.service == service
    assert got.kind is KINDS[sdk.kind]
    assert (got.start_ns, got.end_ns) == (sdk.start_time, sdk.end_time)
    assert got.attributes == {k: plain(v) for k, v in sdk.attributes.items()}
    plain_events = [e for e in sdk.events if e.name != "exception"]
    assert [(e.name, e.time_ns, e.attributes) for e in got.events] == [
        (e.name, e.timestamp, {k: plain(v) for k, v in e.attributes.items()}) for e in plain_events
    ]
    exception_events = [e for e in sdk.events if e.name == "exception"]
    assert [(x.type, x.message) for x in got.exceptions] == [
        (e.attributes["exception.type"], e.attributes["exception.message"]) for e in exception_events
    ]
    assert [(link.trace_id, link.span_id, link.attributes) for link in got.links] == [
        (f"{k.context.trace_id:032x}", f"{k.context.span_id:016x}", dict(k.attributes)) for k in sdk.links
    ]
    assert got.status is expected_status(sdk)
    assert got.status_message == (sdk.status.description or "")


def run_workload(exporter, service: str) -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    emit(provider.get_tracer("interop"))
    provider.shutdown()
    return list(memory.get_finished_spans())


def check_all_arrived(collector: Collector, finished: list[ReadableSpan], service: str) -> None:
    assert len(finished) == 5
    for sdk in finished:
        trace = collector.store.get_trace(f"{sdk.get_span_context().trace_id:032x}")
        got = trace.get(f"{sdk.get_span_context().span_id:016x}")
        assert got is not None, sdk.name
        compare(sdk, got, service)
    client = next(
        collector.store.get_trace(f"{s.get_span_context().trace_id:032x}").get(f"{s.get_span_context().span_id:016x}")
        for s in finished
        if s.name == "dynamodb.Query"
    )
    assert (client.namespace, client.remote_service) == ("aws", "DynamoDB")


def test_otlp_http_protobuf_exporter(collector: Collector) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    host, port = collector.addresses["otlp_http"]
    finished = run_workload(OTLPSpanExporter(endpoint=f"http://{host}:{port}/v1/traces"), "http-svc")
    check_all_arrived(collector, finished, "http-svc")


def test_otlp_http_protobuf_exporter_with_gzip(collector: Collector) -> None:
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    host, port = collector.addresses["otlp_http"]
    exporter = OTLPSpanExporter(endpoint=f"http://{host}:{port}/v1/traces", compression=Compression.Gzip)
    finished = run_workload(exporter, "gzip-svc")
    check_all_arrived(collector, finished, "gzip-svc")


def test_otlp_grpc_exporter(collector: Collector) -> None:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    host, port = collector.addresses["otlp_grpc"]
    finished = run_workload(OTLPSpanExporter(endpoint=f"{host}:{port}", insecure=True), "grpc-svc")
    check_all_arrived(collector, finished, "grpc-svc")


def test_otlp_http_json_encoding_of_sdk_spans(collector: Collector) -> None:
    # The Python SDK has no JSON exporter: encode its spans with its own encoder, then protobuf's JSON mapping.
    finished = run_workload(None, "json-svc")
    document = json_format.MessageToDict(encode_spans(finished))
    host, port = collector.addresses["otlp_http"]
    response = requests.post(f"http://{host}:{port}/v1/traces", json=document)
    assert response.status_code == 200, response.text
    assert "partialSuccess" not in response.json()
    check_all_arrived(collector, finished, "json-svc")
