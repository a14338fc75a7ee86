"""OTel span -> X-Ray document blocks: http, aws, fault/error/throttle, cause, annotations and metadata;
every document is validated against the v1.0.0 schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.trace import SpanKind, Status, StatusCode
from spanscope.tracer.xray.documents import (
    TranslationOptions,
    span_document,
    xray_trace_id,
)

from tests.tracer.xray_schema import Recorder, validate


@pytest.fixture
def rec() -> Iterator[Recorder]:
    recorder = Recorder()
    yield recorder
    recorder.provider.shutdown()


def test_server_root_is_a_segment_with_http_origin_and_resource_metadata(rec: Recorder) -> None:
    with rec.tracer.start_as_current_span(
        "GET /orders",
        kind=SpanKind.SERVER,
        attributes={
            "http.request.method": "GET",
            "url.full": "https://shop.example.com/orders?id=7",
            "http.response.status_code": 200,
            "user_agent.original": "curl/8",
            "client.address": "203.0.113.9",
            "enduser.id": "alice",
        },
    ):
        pass
    span = rec.by_name("GET /orders")
    doc = validate(span_document(span))
    assert doc["name"] == "checkout"
    assert "type" not in doc and "parent_id" not in doc
    assert doc["trace_id"] == xray_trace_id(span.context.trace_id)
    assert doc["id"] == format(span.context.span_id, "016x")
    assert doc["start_time"] == pytest.approx((span.start_time or 0) / 1e9)
    assert doc["end_time"] == pytest.approx((span.end_time or 0) / 1e9)
    assert doc["origin"] == "AWS::Lambda::Function"
    assert doc["user"] == "alice"
    assert doc["http"] == {
        "request": {
            "method": "GET",
            "url": "https://shop.example.com/orders?id=7",
            "user_agent": "curl/8",
            "client_ip": "203.0.113.9",
        },
        "response": {"status": 200},
    }
    meta = doc["metadata"]["default"]
    assert meta["otel.span.name"] == "GET /orders"
    assert meta["otel.resource.service.name"] == "checkout"
    assert "http.request.method" not in meta
    assert not any(k in doc for k in ("fault", "error", "throttle"))


def test_server_url_is_built_from_parts_when_there_is_no_full_url(rec: Recorder) -> None:
    attrs: dict[str, Any] = {
        "http.request.method": "POST",
        "url.scheme": "https",
        "server.address": "api.example.com",
        "server.port": 8443,
        "url.path": "/v1/pay",
        "url.query": "retry=1",
    }
    with rec.tracer.start_as_current_span("pay", kind=SpanKind.SERVER, attributes=attrs):
        pass
    doc = validate(span_document(rec.by_name("pay")))
    assert doc["http"]["request"]["url"] == "https://api.example.com:8443/v1/pay?retry=1"


def test_aws_sdk_client_span_is_namespace_aws_named_by_service(rec: Recorder) -> None:
    attrs: dict[str, Any] = {
        "rpc.system": "aws-api",
        "rpc.service": "DynamoDB",
        "rpc.method": "GetItem",
        "aws.region": "eu-west-1",
        "aws.request_id": "REQ123",
        "aws.dynamodb.table_names": ["orders"],
        "aws.account_id": "123456789012",
        "http.response.status_code": 200,
    }
    with (
        rec.tracer.start_as_current_span("h", kind=SpanKind.SERVER),
        rec.tracer.start_as_current_span("DynamoDB.GetItem", kind=SpanKind.CLIENT, attributes=attrs),
    ):
        pass
    doc = validate(span_document(rec.by_name("DynamoDB.GetItem")))
    assert doc["namespace"] == "aws"
    assert doc["name"] == "DynamoDB"
    assert doc["aws"] == {
        "operation": "GetItem",
        "region": "eu-west-1",
        "request_id": "REQ123",
        "table_name": "orders",
        "account_id": "123456789012",
    }
    assert doc["metadata"]["default"]["otel.span.name"] == "DynamoDB.GetItem"


def test_sqs_producer_span_has_queue_url(rec: Recorder) -> None:
    attrs: dict[str, Any] = {
        "rpc.system": "aws-api",
        "rpc.service": "SQS",
        "aws.operation": "SendMessage",
        "aws.sqs.queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/jobs",
    }
    with (
        rec.tracer.start_as_current_span("h", kind=SpanKind.SERVER),
        rec.tracer.start_as_current_span("send", kind=SpanKind.PRODUCER, attributes=attrs),
    ):
        pass
    doc = validate(span_document(rec.by_name("send")))
    assert (doc["namespace"], doc["name"]) == ("aws", "SQS")
    assert doc["aws"]["queue_url"].endswith("/jobs")
    assert doc["aws"]["operation"] == "SendMessage"


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        ({"peer.service": "payments"}, "payments"),
        ({"server.address": "inventory.internal"}, "inventory.internal"),
        ({"url.full": "https://user@api.example.com:8443/x?y=1"}, "api.example.com:8443"),
        ({}, "call"),
    ],
)
def test_other_client_spans_are_namespace_remote(rec: Recorder, attrs: dict[str, Any], expected: str) -> None:
    with (
        rec.tracer.start_as_current_span("h", kind=SpanKind.SERVER),
        rec.tracer.start_as_current_span("call", kind=SpanKind.CLIENT, attributes=attrs),
    ):
        pass
    doc = validate(span_document(rec.by_name("call")))
    assert doc["namespace"] == "remote"
    assert doc["name"] == expected


@pytest.mark.parametrize(
    ("status_code", "span_status", "flags"),
    [
        (200, StatusCode.UNSET, set()),
        (404, StatusCode.UNSET, {"error"}),
        (429, StatusCode.ERROR, {"error", "throttle"}),
        (503, StatusCode.ERROR, {"fault"}),
        (None, StatusCode.ERROR, {"fault"}),
        (None, StatusCode.OK, set()),
        (302, StatusCode.ERROR, {"fault"}),
    ],
)
def test_fault_error_throttle(rec: Recorder, status_code: int | None, span_status: StatusCode, flags: set[str]) -> None:
    attrs: dict[str, Any] = {"http.response.status_code": status_code} if status_code is not None else {}
    with rec.tracer.start_as_current_span("op", kind=SpanKind.SERVER, attributes=attrs) as span:
        span.set_status(Status(span_status, "boom" if span_status == StatusCode.ERROR else None))
    doc = validate(span_document(rec.by_name("op")))
    assert {k for k in ("fault", "error", "throttle") if doc.get(k)} == flags


def test_old_http_status_attribute_is_read(rec: Recorder) -> None:
    with rec.tracer.start_as_current_span("op", kind=SpanKind.SERVER, attributes={"http.status_code": 500}):
        pass
    doc = validate(span_document(rec.by_name("op")))
    assert doc["fault"] is True
    assert doc["http"]["response"]["status"] == 500


def _raise_nested() -> None:
    rules: dict[str, int] = {}
    try:
        rules["missing"]
    except KeyError as error:
        raise RuntimeError("inventory unavailable") from error


def test_exception_events_become_cause_exceptions_with_python_stack(rec: Recorder) -> None:
    with (
        pytest.raises(RuntimeError),
        rec.tracer.start_as_current_span("h", kind=SpanKind.SERVER),
        rec.tracer.start_as_current_span("dep", kind=SpanKind.CLIENT, attributes={"peer.service": "inv"}),
    ):
        _raise_nested()
    dep = validate(span_document(rec.by_name("dep")))
    assert dep["fault"] is True
    (exception,) = dep["cause"]["exceptions"]
    assert exception["type"] == "RuntimeError"
    assert exception["message"] == "inventory unavailable"
    assert exception["remote"] is True
    assert len(exception["id"]) == 16
    assert exception["stack"][0]["label"] == "_raise_nested"
    assert exception["stack"][0]["path"].endswith("test_xray_blocks.py")
    assert all(isinstance(f["line"], int) for f in exception["stack"])
    # Deterministic ids: the same span translates to the same document.
    assert span_document(rec.by_name("dep")) == span_document(rec.by_name("dep"))
    server = validate(span_document(rec.by_name("h")))
    assert server["cause"]["exceptions"][0]["remote"] is False


def test_error_status_without_exception_gives_a_cause_message(rec: Recorder) -> None:
    with rec.tracer.start_as_current_span("job") as span:
        span.set_status(Status(StatusCode.ERROR, "3 records rejected"))
    doc = validate(span_document(rec.by_name("job")))
    assert doc["fault"] is True
    assert doc["cause"]["exceptions"][0]["message"] == "3 records rejected"


def test_annotations_listed_keys_and_legal_values_others_metadata(rec: Recorder) -> None:
    attrs: dict[str, Any] = {
        "aws.xray.annotations": ["customer.tier", "order_total", "tags", "ratio"],
        "customer.tier": "gold",
        "order_total": 42.5,
        "tags": ["a", "b"],  # not a legal annotation value -> metadata
        "ratio": float("nan"),  # not JSON -> metadata as text
        "retries": 3,
    }
    with rec.tracer.start_as_current_span("op", kind=SpanKind.SERVER, attributes=attrs):
        pass
    doc = validate(span_document(rec.by_name("op")))
    assert doc["annotations"] == {"customer_tier": "gold", "order_total": 42.5}
    meta = doc["metadata"]["default"]
    assert meta["tags"] == ["a", "b"]
    assert meta["ratio"] == "nan"
    assert meta["retries"] == 3
    assert "aws.xray.annotations" not in meta
    # Configured indexed keys and index-all, like the collector exporter's options.
    doc2 = validate(span_document(rec.by_name("op"), TranslationOptions(indexed_keys=frozenset({"retries"}))))
    assert doc2["annotations"]["retries"] == 3
    doc3 = validate(span_document(rec.by_name("op"), TranslationOptions(index_all=True)))
    assert "otel_resource_service_name" not in doc3["annotations"]
    assert doc3["annotations"]["retries"] == 3


def test_long_annotation_value_is_cut_to_1000(rec: Recorder) -> None:
    attrs: dict[str, Any] = {"aws.xray.annotations": ("note",), "note": "x" * 5000}
    with rec.tracer.start_as_current_span("op", kind=SpanKind.SERVER, attributes=attrs):
        pass
    doc = validate(span_document(rec.by_name("op")))
    assert len(doc["annotations"]["note"]) == 1000


def test_ec2_resource_fills_aws_ec2_block() -> None:
    recorder = Recorder(**{"cloud.platform": "aws_ec2", "host.id": "i-0abc", "cloud.availability_zone": "use1-az1"})
    with recorder.tracer.start_as_current_span("tick", kind=SpanKind.SERVER):
        pass
    doc = validate(span_document(recorder.by_name("tick")))
    assert doc["origin"] == "AWS::EC2::Instance"
    assert doc["aws"]["ec2"] == {"instance_id": "i-0abc", "availability_zone": "use1-az1"}
    recorder.provider.shutdown()
