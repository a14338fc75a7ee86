"""Forwarding to X-Ray with PutTraceSegments, against moto in server mode on loopback.

Documents are checked against the published segment document schema (a verbatim copy is in
tests/fixtures/xray/).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import jsonschema
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto.server import ThreadedMotoServer
from spanscope.collectors.collector import BackgroundCollector
from spanscope.collectors.formats.xray_out import MAX_DOCUMENT_BYTES, documents_from_spans, sanitize_name
from spanscope.collectors.forwarders.xray import XRayForwarder
from spanscope.collectors.model import Kind, SpanException, Status, new_trace_id, xray_trace_id
from spanscope.collectors.receivers.counters import Counters
from spanscope.tracer.xray.core.blocks import aws_block, http_block
from spanscope.tracer.xray.core.text import fix_segment_name

from tests.builders import collector_config, make_span, post_otlp

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


def test_forwarded_blocks_follow_the_tracers_translation_core() -> None:
    attributes = {
        "http.request.method": "GET",
        "url.full": "https://shop.example/cart?id=7",
        "http.client_ip": "10.0.0.9",
        "http.response.status_code": 404,
        "http.response.body.size": 512,
        "aws.operation": "GetItem",
        "aws.region": "eu-west-1",
        "rpc.system": "aws-api",
    }
    span = make_span("get", "root", 0, 5, service="cart", kind=Kind.CLIENT, attributes=attributes, status=Status.ERROR)
    span.annotations = {"order.id": "x" * 2000, "": 1, "bad": float("nan")}
    span.exceptions.append(SpanException("KeyError", "'sku'", 'Traceback:\n  File "a.py", line 3, in f\n'))
    (text,) = documents_from_spans([span])
    doc = json.loads(text)
    jsonschema.validate(doc, SCHEMA)
    assert doc["http"] == http_block(attributes, server=False)
    assert doc["http"]["request"]["x_forwarded_for"] is True and doc["http"]["response"]["content_length"] == 512
    assert doc["aws"] == aws_block(attributes, {}, segment=False) == {"operation": "GetItem", "region": "eu-west-1"}
    assert doc["error"] is True and "fault" not in doc
    assert doc["annotations"] == {"order_id": "x" * 1000, "_": 1}  # the core's key and value rules
    (exception,) = doc["cause"]["exceptions"]
    assert exception["stack"] == [{"path": "a.py", "line": 3, "label": "f"}]
    assert json.loads(documents_from_spans([span])[0])["cause"] == doc["cause"]  # ids are deterministic
    assert sanitize_name("payments?v2 ✓") == fix_segment_name("payments?v2 ✓", replacement="_", fallback="unknown")


_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
_values = st.one_of(_text, st.integers(-(2**63), 2**63 - 1), st.floats(), st.booleans(), st.lists(_text, max_size=3))
_annotation_values = st.one_of(_text, st.integers(-(2**53), 2**53), st.floats(), st.booleans())
_FIELDS = st.fixed_dictionaries(
    {
        "service": _text,
        "operation": _text,
        "remote_service": _text,
        "kind": st.sampled_from(list(Kind)),
        "status": st.sampled_from(list(Status)),
        "namespace": st.sampled_from(["", "aws", "remote"]),
        "attributes": st.dictionaries(_text.filter(bool), _values, max_size=6),
        "annotations": st.dictionaries(_text, _annotation_values),
        "in_progress": st.booleans(),
    }
)


@settings(max_examples=60, deadline=None)
@given(fields=_FIELDS, root=st.booleans(), exception=st.one_of(st.none(), st.tuples(_text, _text, _text)))
def test_any_forwarded_span_yields_a_schema_valid_document(
    fields: dict[str, Any], root: bool, exception: tuple[str, str, str] | None
) -> None:
    span = make_span("s", None if root else "parent", 0, 5, **fields)
    if exception is not None:
        span.exceptions.append(SpanException(*exception))  # type, message, stack trace
    for text in documents_from_spans([span]):
        assert len(text.encode()) <= MAX_DOCUMENT_BYTES
        jsonschema.validate(json.loads(text), SCHEMA)


def test_payloads_hold_at_most_50_documents(tmp_path: Path) -> None:
    forwarder = XRayForwarder(tmp_path / "q.sqlite", Counters(), endpoint_url="http://127.0.0.1:9")
    spans = [make_span(f"s{i}", None, i, i + 1) for i in range(120)]
    payloads = forwarder.encode(spans)
    assert [len(orjson.loads(p)) for p in payloads] == [50, 50, 20]
    forwarder.stop()


def test_spans_are_forwarded_to_xray(tmp_path: Path, moto_url: str) -> None:
    trace_id = new_trace_id()
    spans = workload(trace_id)
    config = collector_config(tmp_path / "spans.db", forward_xray=True, xray_endpoint_url=moto_url)
    with BackgroundCollector(config) as collector:
        assert post_otlp(collector.addresses["otlp_http"], spans).status_code == 200
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
