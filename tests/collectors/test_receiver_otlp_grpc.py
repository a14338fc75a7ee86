"""OTLP/gRPC receiver: export, bearer token, malformed messages, bounded message size."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from spanscope.collectors.collector import BackgroundCollector, Collector, CollectorConfig
from spanscope.collectors.formats.otlp_proto import spans_to_request

from tests.builders import make_span, trace_id_for

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
TOKEN = "grpc-token"


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Collector]:
    config = CollectorConfig(
        db_path=tmp_path / "spans.db",
        xray_udp=None,
        otlp_http=None,
        otlp_grpc=("127.0.0.1", 0),
        auth_token=TOKEN,
        max_body_bytes=64 * 1024,
        log_interval_s=0,
    )
    with BackgroundCollector(config) as running:
        yield running


@pytest.fixture
def export(collector: Collector) -> Iterator:
    channel = grpc.insecure_channel("{}:{}".format(*collector.addresses["otlp_grpc"]))
    yield channel.unary_unary(EXPORT, response_deserializer=ExportTraceServiceResponse.FromString)
    channel.close()


def body(label: str, n: int = 2) -> bytes:
    spans = [make_span(f"{label}{i}", None, i, i + 1, trace=label, service="api") for i in range(n)]
    return spans_to_request(spans).SerializeToString()


AUTH = (("authorization", f"Bearer {TOKEN}"),)


def test_export_with_token_is_stored(collector: Collector, export) -> None:
    reply = export(body("ok", 3), metadata=AUTH, timeout=10)
    assert not reply.HasField("partial_success")
    assert len(collector.store.get_trace(trace_id_for("ok")).spans) == 3


def test_missing_or_wrong_token_is_unauthenticated(collector: Collector, export) -> None:
    for metadata in ((), (("authorization", "Bearer wrong"),)):
        with pytest.raises(grpc.RpcError) as err:
            export(body("no"), metadata=metadata, timeout=10)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert collector.counters.get("otlp_grpc.rejected:unauthorized") == 2
    assert collector.store.span_count() == 0


def test_malformed_message_is_invalid_argument_and_server_keeps_running(collector: Collector, export) -> None:
    with pytest.raises(grpc.RpcError) as err:
        export(b"\xff\xff\xff\xff not protobuf", metadata=AUTH, timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert collector.counters.get("otlp_grpc.rejected:malformed") == 1
    export(body("after"), metadata=AUTH, timeout=10)
    assert collector.store.span_count() == 2


def test_message_over_the_size_cap_is_refused(collector: Collector, export) -> None:
    big = [make_span("big", None, 0, 1, trace="big", attributes={"blob": "x" * (80 * 1024)})]
    with pytest.raises(grpc.RpcError) as err:
        export(spans_to_request(big).SerializeToString(), metadata=AUTH, timeout=10)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    export(body("small"), metadata=AUTH, timeout=10)


def test_spans_with_bad_ids_are_a_partial_success(collector: Collector, export) -> None:
    request = spans_to_request([make_span("good", None, 0, 1, trace="p")])
    bad = request.resource_spans[0].scope_spans[0].spans.add()
    bad.trace_id = b"\x01\x02"
    bad.span_id = b"\x00" * 8
    bad.name = "bad"
    reply = export(request.SerializeToString(), metadata=AUTH, timeout=10)
    assert reply.partial_success.rejected_spans == 1
    assert "trace id" in reply.partial_success.error_message
    assert collector.store.span_count() == 1
