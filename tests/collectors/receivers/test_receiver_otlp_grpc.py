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


def raw_grpc_call(address: tuple[str, int], message: bytes, headers: list[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    """One unary gRPC call written with the h2 library, so header bytes reach the server as given (grpcio's own
    client refuses non-ASCII metadata before sending); returns the response headers and trailers."""
    import socket

    import h2.config
    import h2.connection
    import h2.events

    sock = socket.create_connection(address, timeout=10)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, validate_outbound_headers=False))
    conn.initiate_connection()
    request_headers = [
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":path", EXPORT.encode()),
        (b":authority", f"{address[0]}:{address[1]}".encode()),
        (b"content-type", b"application/grpc"),
        (b"te", b"trailers"),
        *headers,
    ]
    conn.send_headers(1, request_headers)
    conn.send_data(1, b"\0" + len(message).to_bytes(4, "big") + message, end_stream=True)
    sock.sendall(conn.data_to_send())
    received: dict[bytes, bytes] = {}
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            for event in conn.receive_data(data):
                if isinstance(event, (h2.events.ResponseReceived, h2.events.TrailersReceived)):
                    received.update(dict(event.headers))
                if isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
                    return received
            sock.sendall(conn.data_to_send())
    finally:
        sock.close()
    return received


@pytest.mark.parametrize("value", [b"Bearer grpc-t\xc3\xb6ken", b"Bearer \xff\xfe", b"\xc3\xa9"])
def test_non_ascii_authorization_is_unauthenticated(collector: Collector, value: bytes) -> None:
    """A non-ASCII token is a wrong token: UNAUTHENTICATED (16), not a retryable UNAVAILABLE or INTERNAL."""
    trailers = raw_grpc_call(collector.addresses["otlp_grpc"], body("no"), [(b"authorization", value)])
    assert trailers.get(b"grpc-status") == b"16", trailers
    ok = raw_grpc_call(collector.addresses["otlp_grpc"], body("yes"), [(b"authorization", f"Bearer {TOKEN}".encode())])
    assert ok.get(b"grpc-status") == b"0", ok
    assert collector.store.span_count() == 2
