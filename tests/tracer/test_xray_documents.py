"""OTel span -> X-Ray segment document translation; every document is validated against the v1.0.0 schema."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from spanscope.tracer.xray import names
from spanscope.tracer.xray.documents import (
    TranslationOptions,
    document_trees,
    fix_segment_name,
    segment_documents,
    span_document,
    xray_trace_id,
)

SCHEMA_PATH = pathlib.Path(__file__).parents[1] / "fixtures" / "xray" / "xray-segmentdocument-schema-v1.0.0.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text())
VALIDATOR = jsonschema.Draft4Validator(SCHEMA)
TRACE_ID = 0x6921F3A0BD862E3FE1BE46A994272793  # epoch seconds first, like X-Ray ids


def validate(document: dict[str, Any] | str | bytes) -> dict[str, Any]:
    """Validate one document (dict or JSON text) against the X-Ray schema; returns the dict."""
    doc = json.loads(document) if isinstance(document, str | bytes) else document
    json.dumps(doc, allow_nan=False)  # must be strict JSON
    errors = sorted(VALIDATOR.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message[:200]}" for e in errors]
    return doc


class Recorder:
    """A real SDK tracer provider recording into memory."""

    def __init__(self, **resource: Any) -> None:
        attrs = {"service.name": "checkout", "cloud.provider": "aws", "cloud.platform": "aws_lambda"}
        attrs.update(resource)
        self.memory = InMemorySpanExporter()
        self.provider = TracerProvider(resource=Resource.create(attrs))
        self.provider.add_span_processor(SimpleSpanProcessor(self.memory))
        self.tracer = self.provider.get_tracer("test")

    def spans(self) -> list[ReadableSpan]:
        return list(self.memory.get_finished_spans())

    def by_name(self, name: str) -> ReadableSpan:
        return next(s for s in self.spans() if s.name == name)


@pytest.fixture
def rec() -> Iterator[Recorder]:
    recorder = Recorder()
    yield recorder
    recorder.provider.shutdown()


def remote_parent(trace_id: int = TRACE_ID, span_id: int = 0x53995C3F42CD8AD8) -> Any:
    ctx = SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    return otel_trace.set_span_in_context(NonRecordingSpan(ctx))


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


def test_trace_id_is_in_xray_form() -> None:
    assert xray_trace_id(TRACE_ID) == "1-6921f3a0-bd862e3fe1be46a994272793"


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


def test_children_are_subsegments_nested_under_their_segment(rec: Recorder) -> None:
    with (
        rec.tracer.start_as_current_span("handler", kind=SpanKind.SERVER),
        rec.tracer.start_as_current_span("validate"),
        rec.tracer.start_as_current_span("load-rules"),
    ):
        pass
    spans = rec.spans()
    docs = segment_documents(spans)
    assert len(docs) == 1
    seg = validate(docs[0])
    assert seg["name"] == "checkout"
    (validate_doc,) = seg["subsegments"]
    assert validate_doc["name"] == "validate"
    assert "trace_id" not in validate_doc and "parent_id" not in validate_doc
    assert validate_doc["subsegments"][0]["name"] == "load-rules"
    # The same spans as independent documents carry type / parent_id / trace_id.
    flat = validate(span_document(rec.by_name("validate")))
    assert flat["type"] == "subsegment"
    assert flat["parent_id"] == seg["id"]
    assert flat["trace_id"] == seg["trace_id"]


def test_subsegment_whose_parent_is_in_another_batch_stands_alone(rec: Recorder) -> None:
    with rec.tracer.start_as_current_span("root"), rec.tracer.start_as_current_span("child"):
        pass
    child = rec.by_name("child")
    trees = document_trees([child])
    assert len(trees) == 1
    doc = validate(trees[0].nested())
    assert doc["type"] == "subsegment"
    assert doc["parent_id"] == format(rec.by_name("root").context.span_id, "016x")


def test_span_with_remote_parent_is_a_segment_with_parent_id(rec: Recorder) -> None:
    with rec.tracer.start_as_current_span("consume", context=remote_parent(), kind=SpanKind.CONSUMER):
        pass
    doc = validate(span_document(rec.by_name("consume")))
    assert "type" not in doc
    assert doc["parent_id"] == "53995c3f42cd8ad8"
    assert doc["trace_id"] == "1-6921f3a0-bd862e3fe1be46a994272793"
    assert doc["metadata"]["default"]["otel.span.kind"] == "consumer"


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
    assert exception["stack"][0]["path"].endswith("test_xray_documents.py")
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


def test_links_are_emitted_with_xray_trace_ids(rec: Recorder) -> None:
    producer = SpanContext(TRACE_ID, 0x1111222233334444, is_remote=True)
    link = Link(producer, attributes={"spanscope.link.kind": "sqs"})
    with rec.tracer.start_as_current_span("consume", kind=SpanKind.CONSUMER, links=[link]):
        pass
    doc = validate(span_document(rec.by_name("consume")))
    assert doc["links"] == [
        {
            "trace_id": "1-6921f3a0-bd862e3fe1be46a994272793",
            "id": "1111222233334444",
            "attributes": {"spanscope.link.kind": "sqs"},
        }
    ]


def test_in_progress_span(rec: Recorder) -> None:
    span = rec.tracer.start_span("long-job", kind=SpanKind.SERVER)
    readable = span._readable_span()  # type: ignore[attr-defined]
    doc = validate(span_document(readable))
    assert doc["in_progress"] is True
    assert "end_time" not in doc
    span.end()
    assert "in_progress" not in validate(span_document(rec.by_name("long-job")))


def test_origin_from_spanscope_origin_overrides_platform() -> None:
    recorder = Recorder(**{"spanscope.origin": "spanscope::Greengrass::Device", "cloud.platform": "aws_ec2"})
    with recorder.tracer.start_as_current_span("tick"):
        pass
    doc = validate(span_document(recorder.by_name("tick")))
    assert doc["origin"] == "spanscope::Greengrass::Device"
    recorder.provider.shutdown()


def test_ec2_resource_fills_aws_ec2_block() -> None:
    recorder = Recorder(**{"cloud.platform": "aws_ec2", "host.id": "i-0abc", "cloud.availability_zone": "use1-az1"})
    with recorder.tracer.start_as_current_span("tick", kind=SpanKind.SERVER):
        pass
    doc = validate(span_document(recorder.by_name("tick")))
    assert doc["origin"] == "AWS::EC2::Instance"
    assert doc["aws"]["ec2"] == {"instance_id": "i-0abc", "availability_zone": "use1-az1"}
    recorder.provider.shutdown()


def test_segment_names_are_made_legal() -> None:
    assert fix_segment_name("GET /a/{b}") == "GET /a/b"
    assert fix_segment_name("\x1b]8;;evil\x07name") == "8evilname"
    assert fix_segment_name("Zürich-日本") == "Zürich-日本"
    assert len(fix_segment_name("a" * 500)) == 200
    assert fix_segment_name("{}") == "span"


def test_deep_chain_translates_without_recursion(rec: Recorder) -> None:
    spans: list[Any] = []
    parent_ctx = None
    for i in range(3000):
        span = rec.tracer.start_span(f"s{i}", context=parent_ctx)
        parent_ctx = otel_trace.set_span_in_context(span)
        spans.append(span)
    for span in reversed(spans):
        span.end()
    trees = document_trees(rec.spans())
    assert len(trees) == 1
    assert trees[0].span_count() == 3000
    nested = trees[0].nested()
    depth = 0
    node = nested
    while "subsegments" in node:
        node = node["subsegments"][0]
        depth += 1
    assert depth == 2999


def test_names_copy_agrees_with_collectors_conventions() -> None:
    from spanscope.collectors import conventions

    shared = [name for name in dir(names) if name.isupper() and hasattr(conventions, name) and not name.startswith("_")]
    assert len(shared) >= 30
    for name in shared:
        assert getattr(names, name) == getattr(conventions, name), name
    for platform, origin in names.PLATFORM_ORIGINS.items():
        assert conventions.PLATFORM_ORIGINS[platform] == origin


_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
_values = st.one_of(
    _text,
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.lists(_text, max_size=3),
    st.lists(st.integers(-100, 100), max_size=3),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=_text,
    kind=st.sampled_from(list(SpanKind)),
    attributes=st.dictionaries(_text.filter(bool), _values, max_size=6),
    annotate=st.lists(_text, max_size=4),
    status=st.sampled_from([StatusCode.UNSET, StatusCode.OK, StatusCode.ERROR]),
    http_status=st.one_of(st.none(), st.integers(100, 599)),
    remote=st.booleans(),
)
def test_any_span_yields_schema_valid_documents(
    rec: Recorder,
    name: str,
    kind: SpanKind,
    attributes: dict[str, Any],
    annotate: list[str],
    status: StatusCode,
    http_status: int | None,
    remote: bool,
) -> None:
    rec.memory.clear()
    attrs = dict(attributes)
    attrs["aws.xray.annotations"] = [*annotate, *list(attributes)[:2]]
    if http_status is not None:
        attrs["http.response.status_code"] = http_status
    ctx = remote_parent() if remote else None
    with (
        rec.tracer.start_as_current_span("outer", context=ctx, kind=SpanKind.SERVER),
        rec.tracer.start_as_current_span(name, kind=kind, attributes=attrs) as span,
    ):
        span.set_status(status)
        span.add_event(name, {"k": name})
    for doc in segment_documents(rec.spans()):
        validate(doc)
    for finished in rec.spans():
        validate(span_document(finished))


def test_module_doctests() -> None:
    import doctest

    from spanscope.tracer.xray import documents, exporter

    for module in (documents, exporter):
        result = doctest.testmod(module)
        assert result.failed == 0, module.__name__


def test_lambda_entry_span_can_be_a_subsegment_of_the_facade() -> None:
    recorder = Recorder(**{"cloud.platform": "aws_lambda", "faas.name": "checkout-fn"})
    facade = remote_parent(span_id=0x2222333344445555)
    with (
        recorder.tracer.start_as_current_span("checkout-fn", context=facade, kind=SpanKind.SERVER),
        recorder.tracer.start_as_current_span("charge"),
    ):
        pass
    spans = recorder.spans()
    default = [validate(d) for d in segment_documents(spans)]
    assert len(default) == 1 and "type" not in default[0] and default[0]["origin"] == "AWS::Lambda::Function"
    options = TranslationOptions(lambda_facade_subsegments=True)
    (doc,) = [validate(d) for d in segment_documents(spans, options)]
    assert doc["type"] == "subsegment"
    assert doc["parent_id"] == "2222333344445555"
    assert doc["name"] == "checkout-fn"
    assert "origin" not in doc
    assert doc["subsegments"][0]["name"] == "charge"
    recorder.provider.shutdown()
