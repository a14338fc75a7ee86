"""Forwarding to X-Ray with PutTraceSegments, against moto in server mode on loopback.

Documents are checked against the published segment document schema (a verbatim copy is in
tests/fixtures/xray/).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import jsonschema
import orjson
import pytest
import requests
from moto.server import ThreadedMotoServer
from spanscope.collectors.collector import BackgroundCollector, CollectorConfig
from spanscope.collectors.formats.otlp_proto import spans_to_request
from spanscope.collectors.formats.xray_out import MAX_DOCUMENT_BYTES, documents_from_spans
from spanscope.collectors.forwarders.xray import XRayForwarder
from spanscope.collectors.model import Kind, SpanException, Status, new_trace_id, xray_trace_id
from spanscope.collectors.receivers.counters import Counters

from tests.builders import make_span

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "fixtures" / "xray" / "xray-segmentdocument-schema-v1.0.0.json").read_text()
)


@pytest.fixture
def moto_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def workload(trace_id: str):
    now_ms = (time.time() - 10) * 1000
    base = dict(trace="ignored")
    spans = [
        make_span(
            "root",
            None,
            0,
            80,
            service="checkout",
            kind=Kind.SERVER,
            origin="AWS::Lambda::Function",
            attributes={
                "http.request.method": "POST",
                "url.full": "https://shop.example/pay",
                "http.response.status_code": 502,
            },
            status=Status.FAULT,
            annotations={"customer.tier": "gold"},
            **base,
        ),
        make_span(
            "ddb",
            "root",
            5,
            20,
            service="checkout",
            kind=Kind.CLIENT,
            namespace="aws",
            remote_service="DynamoDB",
            **base,
        ),
        make_span("charge", "root", 25, 60, service="checkout", status=Status.THROTTLE, **base),
        make_span("worker", "root", 30, 70, service="payments?v2", kind=Kind.CONSUMER, links=[("x", "root")], **base),
    ]
    for span in spans:
        span.trace_id = trace_id
        span.start_ns += int(now_ms * 1e6)
        span.end_ns += int(now_ms * 1e6)
    spans[2].exceptions.append(SpanException("RateLimited", "slow down"))
    return spans


def test_documents_follow_the_segment_schema_and_size_limit() -> None:
    spans = workload(new_trace_id())
    huge = make_span("huge", None, 0, 1, attributes={"blob": "x" * (100 * 1024)})
    for text in documents_from_spans([*spans, huge]):
        assert len(text.encode()) <= MAX_DOCUMENT_BYTES
        jsonschema.validate(json.loads(text), SCHEMA)
    docs = [json.loads(t) for t in documents_from_spans(spans)]
    by_id = {d["id"]: d for d in docs}
    root = by_id[spans[0].span_id]
    assert (root["name"], root["fault"], root["origin"]) == ("checkout", True, "AWS::Lambda::Function")
    assert root["http"]["response"]["status"] == 502
    assert root["annotations"] == {"customer_tier": "gold"}
    ddb = by_id[spans[1].span_id]
    assert (ddb["type"], ddb["namespace"], ddb["name"], ddb["parent_id"]) == (
        "subsegment",
        "aws",
        "DynamoDB",
        spans[0].span_id,
    )
    assert by_id[spans[2].span_id]["throttle"] is True
    assert by_id[spans[3].span_id]["name"] == "payments_v2"


def test_payloads_hold_at_most_50_documents(tmp_path: Path) -> None:
    forwarder = XRayForwarder(tmp_path / "q.sqlite", Counters(), endpoint_url="http://127.0.0.1:9")
    spans = [make_span(f"s{i}", None, i, i + 1) for i in range(120)]
    payloads = forwarder.encode(spans)
    assert [len(orjson.loads(p)) for p in payloads] == [50, 50, 20]
    forwarder.stop()


def test_spans_are_forwarded_to_xray(tmp_path: Path, moto_url: str) -> None:
    trace_id = new_trace_id()
    spans = workload(trace_id)
    config = CollectorConfig(
        db_path=tmp_path / "spans.db",
        xray_udp=None,
        otlp_http=("127.0.0.1", 0),
        otlp_grpc=None,
        forward_xray=True,
        xray_endpoint_url=moto_url,
        log_interval_s=0,
    )
    with BackgroundCollector(config) as collector:
        host, port = collector.addresses["otlp_http"]
        response = requests.post(
            f"http://{host}:{port}/v1/traces",
            data=spans_to_request(spans).SerializeToString(),
            headers={"Content-Type": "application/x-protobuf"},
            timeout=10,
        )
        assert response.status_code == 200
        deadline = time.monotonic() + 30
        while collector.counters.get("forward_xray.sent") < 1:
            assert time.monotonic() < deadline, collector.counters.snapshot()
            time.sleep(0.05)
        assert collector.forwarders[0].queue.depth == 0
    client = boto3.client("xray", region_name="us-east-1", endpoint_url=moto_url)
    traces = client.batch_get_traces(TraceIds=[xray_trace_id(trace_id)])["Traces"]
    assert len(traces) == 1
    documents = [json.loads(s["Document"]) for s in traces[0]["Segments"]]
    assert {d["id"] for d in documents} == {s.span_id for s in spans}
    parents = {d["id"]: d.get("parent_id") for d in documents}
    assert parents == {s.span_id: s.parent_id for s in spans}
    for doc in documents:
        jsonschema.validate(doc, SCHEMA)


def test_xray_outage_is_retried_from_the_queue(tmp_path: Path) -> None:
    counters = Counters()
    forwarder = XRayForwarder(
        tmp_path / "q.sqlite", counters, endpoint_url="http://127.0.0.1:9", backoff_base_s=0.01, backoff_cap_s=0.05
    )
    forwarder.start()
    forwarder.enqueue(workload(new_trace_id()))
    deadline = time.monotonic() + 30
    while counters.get("forward_xray.retries") < 2:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert forwarder.queue.depth == 1
    forwarder.stop()
