"""OTLP/HTTP receiver: content types, gzip cap, partial success, errors, auth, health and counters."""

from __future__ import annotations

import gzip
import json
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from spanscope.collectors.collector import BackgroundCollector, Collector, CollectorConfig
from spanscope.collectors.formats.otlp_proto import spans_to_request

from tests.builders import make_span, trace_id_for

TOKEN = "s3cret-token"


def start(tmp_path: Path, store=None, **overrides) -> BackgroundCollector:
    config = CollectorConfig(
        db_path=tmp_path / "spans.db", xray_udp=None, otlp_http=("127.0.0.1", 0), otlp_grpc=None, log_interval_s=0
    )
    for key, value in overrides.items():
        setattr(config, key, value)
    return BackgroundCollector(config, store=store)


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Collector]:
    with start(tmp_path, max_body_bytes=256 * 1024) as running:
        yield running


def url(collector: Collector, path: str = "/v1/traces") -> str:
    host, port = collector.addresses["otlp_http"]
    return f"http://{host}:{port}{path}"


def proto_body(n: int = 2, label: str = "t") -> bytes:
    spans = [make_span(f"s{i}", None if i == 0 else "s0", i, i + 1, trace=label, service="api") for i in range(n)]
    return spans_to_request(spans).SerializeToString()


JSON_REQUEST = {
    "resourceSpans": [
        {
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "web"}}]},
            "scopeSpans": [
                {
                    "spans": [
                        {
                            "traceId": "5b8efff798038103d269b633813fc60c",
                            "spanId": "eee19b7ec3c1b174",
                            "name": "GET /",
                            "kind": 2,
                            "startTimeUnixNano": "1544712660000000000",
                            "endTimeUnixNano": "1544712661000000000",
                        },
                        {
                            "traceId": "not-hex",
                            "spanId": "eee19b7ec3c1b175",
                            "name": "bad",
                            "startTimeUnixNano": "1",
                            "endTimeUnixNano": "2",
                        },
                    ]
                }
            ],
        }
    ]
}


def test_protobuf_request_is_stored_before_the_reply(collector: Collector) -> None:
    response = requests.post(url(collector), data=proto_body(3), headers={"Content-Type": "application/x-protobuf"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/x-protobuf"
    reply = ExportTraceServiceResponse.FromString(response.content)
    assert not reply.HasField("partial_success")
    # Acknowledged means durable: a fresh connection to the file sees the spans right away.
    from spanscope.collectors.store import open_store

    with open_store(collector.store.path, readonly=True) as reader:
        assert len(reader.get_trace(trace_id_for("t")).spans) == 3


def test_json_request_gets_json_reply_with_partial_success(collector: Collector) -> None:
    response = requests.post(url(collector), json=JSON_REQUEST)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["partialSuccess"]["rejectedSpans"] == "1"
    assert "traceId" in body["partialSuccess"]["errorMessage"]
    assert collector.store.get_trace("5b8efff798038103d269b633813fc60c").spans[0].name == "GET /"
    assert collector.counters.get("otlp_http.spans_rejected") == 1


def test_gzip_and_deflate_bodies_are_accepted(collector: Collector) -> None:
    headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}
    assert requests.post(url(collector), data=gzip.compress(proto_body(2, "g")), headers=headers).status_code == 200
    headers["Content-Encoding"] = "deflate"
    assert requests.post(url(collector), data=zlib.compress(proto_body(2, "d")), headers=headers).status_code == 200
    assert collector.store.trace_count() == 2


def test_gzip_bomb_is_refused_with_413_without_inflating_it(collector: Collector) -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)  # 64 MiB of zeros in ~64 KB
    assert len(bomb) < 256 * 1024
    response = requests.post(
        url(collector), data=bomb, headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}
    )
    assert response.status_code == 413
    status = status_pb2.Status.FromString(response.content)
    assert "decompressed" in status.message
    assert collector.counters.get("otlp_http.rejected:too_large") == 1


def test_raw_body_over_the_cap_is_413(collector: Collector) -> None:
    response = requests.post(
        url(collector), data=b"\0" * (300 * 1024), headers={"Content-Type": "application/x-protobuf"}
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("content_type", "body", "encoding", "status"),
    [
        ("application/x-protobuf", b"\xff\xff\xff\xff garbage", None, 400),
        ("application/json", b"{not json", None, 400),
        ("application/json", b"[1, 2, 3]", None, 400),
        ("application/x-protobuf", b"not gzip at all", "gzip", 400),
        ("text/plain", b"hello", None, 415),
        ("application/x-protobuf", b"", "br", 415),
    ],
)
def test_malformed_and_unsupported_bodies(collector: Collector, content_type, body, encoding, status) -> None:
    headers = {"Content-Type": content_type}
    if encoding:
        headers["Content-Encoding"] = encoding
    response = requests.post(url(collector), data=body, headers=headers)
    assert response.status_code == status
    if content_type == "application/json":
        assert "message" in response.json()
    # the server is still fine afterwards
    ok = requests.post(url(collector), data=proto_body(1, "after"), headers={"Content-Type": "application/x-protobuf"})
    assert ok.status_code == 200


def test_empty_request_is_ok(collector: Collector) -> None:
    response = requests.post(url(collector), data=b"", headers={"Content-Type": "application/x-protobuf"})
    assert response.status_code == 200


def test_health_and_counters_endpoints(collector: Collector) -> None:
    requests.post(url(collector), data=proto_body(2, "h"), headers={"Content-Type": "application/x-protobuf"})
    requests.post(url(collector), data=b"junk", headers={"Content-Type": "text/plain"})
    health = requests.get(url(collector, "/healthz"))
    assert health.status_code == 200 and health.json()["status"] == "ok"
    stats = requests.get(url(collector, "/v1/stats")).json()
    assert stats["otlp_http.spans_accepted"] == 2
    assert stats["otlp_http.rejected:unsupported_media_type"] == 1
    assert stats["writer.queue_spans"] == 0
    metrics = requests.get(url(collector, "/metrics")).text
    assert 'spanscope_otlp_http_rejected{reason="unsupported_media_type"} 1' in metrics


def test_bearer_token_is_required_when_configured(tmp_path: Path) -> None:
    with start(tmp_path, auth_token=TOKEN) as collector:
        headers = {"Content-Type": "application/x-protobuf"}
        assert requests.post(url(collector), data=proto_body(1), headers=headers).status_code == 401
        wrong = {**headers, "Authorization": "Bearer nope"}
        assert requests.post(url(collector), data=proto_body(1), headers=wrong).status_code == 401
        right = {**headers, "Authorization": f"Bearer {TOKEN}"}
        assert requests.post(url(collector), data=proto_body(1), headers=right).status_code == 200
        assert requests.get(url(collector, "/v1/stats")).status_code == 401
        assert requests.get(url(collector, "/healthz")).status_code == 200
        assert collector.counters.get("otlp_http.rejected:unauthorized") == 2


class BrokenStore:
    path = None

    def write_spans(self, spans):
        raise OSError("disk on fire")

    def close(self) -> None:
        pass


def test_store_failure_is_503_with_retry_after_never_500(tmp_path: Path) -> None:
    with start(tmp_path, store=BrokenStore(), retry_after_s=3) as collector:
        response = requests.post(url(collector), data=proto_body(1), headers={"Content-Type": "application/x-protobuf"})
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "3"
        assert collector.counters.get("otlp_http.rejected:store_error") == 1


def test_request_bigger_than_a_batch_is_still_one_transaction(collector: Collector) -> None:
    body = proto_body(500, "big")
    response = requests.post(url(collector), data=body, headers={"Content-Type": "application/x-protobuf"})
    assert response.status_code == 200
    assert len(collector.store.get_trace(trace_id_for("big")).spans) == 500


def test_json_content_type_with_charset(collector: Collector) -> None:
    response = requests.post(
        url(collector), data=json.dumps(JSON_REQUEST), headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert response.status_code == 200
    assert response.json()["partialSuccess"]["rejectedSpans"] == "1"


def test_bodies_read_at_once_are_bounded(tmp_path: Path) -> None:
    """A request that would take the bodies being read past ``max_inflight_body_bytes`` gets 429 with
    Retry-After before its body is read; the first body is always taken, and the slot frees afterwards."""
    import socket

    with start(tmp_path, max_inflight_body_bytes=10_000) as collector:
        host, port = collector.addresses["otlp_http"]
        body = proto_body(3, "slow")
        slow = socket.create_connection((host, port))
        try:  # a client that declared 8,000 bytes and is still sending them holds 8,000 of the 10,000
            slow.sendall(
                b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                b"Content-Length: 8000\r\n\r\n" + body[:10]
            )
            deadline = time.monotonic() + 10
            while collector.counters.get("otlp_http.requests") < 1:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            refused = requests.post(
                url(collector), data=proto_body(40, "second"), headers={"Content-Type": "application/x-protobuf"}
            )
            assert refused.status_code == 429
            assert refused.headers["Retry-After"] == "1"
            small = requests.post(url(collector), data=b"", headers={"Content-Type": "application/x-protobuf"})
            assert small.status_code == 200  # 0 declared bytes still fit
        finally:
            slow.close()
        deadline = time.monotonic() + 10
        while True:  # the abandoned body's bytes are released
            ok = requests.post(
                url(collector), data=proto_body(40, "second"), headers={"Content-Type": "application/x-protobuf"}
            )
            if ok.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert ok.status_code == 200
        assert collector.counters.get("otlp_http.rejected:overload") >= 1


@pytest.mark.parametrize(
    "value",
    [b"Bearer s3cret-t\xc3\xb6ken", b"Bearer \xff\xfe", "Bearer s3cret-tökén".encode("latin-1"), b"\xc3\xa9 x"],
)
def test_non_ascii_authorization_is_401_without_a_traceback(
    tmp_path: Path, value: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """Not a 503 'retry later' (a client would retry forever) and no traceback: just a wrong token."""
    import http.client

    with start(tmp_path, auth_token=TOKEN) as collector:
        host, port = collector.addresses["otlp_http"]
        for path in ("/v1/traces", "/v1/stats"):
            conn = http.client.HTTPConnection(host, port, timeout=10)
            body = proto_body(1) if path == "/v1/traces" else None
            conn.putrequest("POST" if body else "GET", path)
            conn.putheader("Content-Type", "application/x-protobuf")
            conn.putheader("Authorization", value)  # raw bytes on the wire, not encoded by the client
            conn.putheader("Content-Length", str(len(body or b"")))
            conn.endheaders(body)
            reply = conn.getresponse()
            reply.read()
            conn.close()
            assert reply.status == 401, (path, reply.status)
        assert collector.counters.get("otlp_http.rejected:unauthorized") == 1
        assert collector.counters.get("otlp_http.rejected:internal") == 0
        assert collector.store.span_count() == 0
    assert not [r for r in caplog.records if r.exc_info], "no traceback for a bad header"
