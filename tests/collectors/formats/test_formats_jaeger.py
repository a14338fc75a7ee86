"""Jaeger JSON → spans: the real ui_01 sample field by field, references, tags, logs, malformed spans."""

from __future__ import annotations

from pathlib import Path

import orjson
from spanscope.collectors.formats.jaeger import parse_document
from spanscope.collectors.model import Kind, Status

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
TRACE = "0" * 31 + "1"
US = 1485467191639875 * 1000


def test_real_sample_jaeger_ui_01():
    doc = orjson.loads((FIXTURES / "jaeger/jaeger-ui_01.json").read_bytes())
    result = parse_document(doc)  # a bare trace object, as Jaeger's UI model writes it
    assert result.errors == []
    s1, s2, s3, s4, s5 = result.spans
    for s in result.spans:
        assert s.trace_id == TRACE  # 16 hex left-padded to 32
        assert s.start_ns == US
        assert s.kind is Kind.INTERNAL
        assert s.annotations == {} and s.exceptions == [] and s.origin == ""

    assert (s1.span_id, s1.parent_id, s1.service, s1.name) == (
        "0" * 15 + "2",
        None,
        "service-x",
        "test-general-conversion",
    )
    assert s1.end_ns == US + 5_000
    assert [(e.name, e.time_ns, e.attributes) for e in s1.events] == [("some-event", US, {}), ("log", US, {"x": "y"})]
    assert s1.attributes == {} and s1.status is Status.OK
    assert s1.resource == {"service.name": "service-x"}

    # the same span id again (the sample's own duplicate): kept, the model's Trace resolves it
    assert (s2.span_id, s2.name, s2.service) == ("0" * 15 + "2", "some-operation", "service-x")
    assert s2.attributes == {
        "peer.service": "service-y",
        "peer.ipv4": 23456,
        "error": True,
        "temperature": 72.5,
        "blob": "AAAwOQ==",
    }
    assert s2.status is Status.FAULT  # error=true and no HTTP status
    assert s2.events == [] and s2.links == []

    assert (s3.span_id, s3.parent_id, s3.service) == ("0" * 15 + "3", "0" * 15 + "2", "service-y")
    assert s3.links == []

    # CHILD_OF into another trace and FOLLOWS_FROM become links; the same-trace CHILD_OF is the parent
    assert (s4.span_id, s4.parent_id, s4.name) == ("0" * 15 + "4", "0" * 15 + "2", "reference-test")
    assert [(link.trace_id, link.span_id, link.attributes) for link in s4.links] == [
        ("0" * 30 + "ff", "0" * 14 + "ff", {"spanscope.link.kind": "child_of"}),
        (TRACE, "0" * 15 + "2", {"spanscope.link.kind": "follows_from"}),
    ]
    assert (s5.span_id, s5.parent_id, s5.end_ns) == ("0" * 15 + "5", "0" * 15 + "4", US + 4_000)


def span(**extra):
    raw = {
        "traceID": "5b8efff798038103d269b633813fc60c",
        "spanID": "eee19b7ec3c1b174",
        "operationName": "GET /orders",
        "references": [],
        "startTime": 1_700_000_000_000_000,
        "duration": 1500,
        "tags": [],
        "logs": [],
        "processID": "p1",
    }
    raw.update(extra)
    return raw


def doc(*spans, tags=()):
    return {
        "data": [
            {"traceID": "x", "spans": list(spans), "processes": {"p1": {"serviceName": "orders", "tags": list(tags)}}}
        ]
    }


def test_kind_http_status_remote_exception_logs_and_resource():
    raw = span(
        tags=[
            {"key": "span.kind", "type": "string", "value": "client"},
            {"key": "error", "type": "bool", "value": True},
            {"key": "http.status_code", "type": "int64", "value": 429},
            {"key": "peer.service", "type": "string", "value": "payments"},
        ],
        logs=[
            {
                "timestamp": 1_700_000_000_000_500,
                "fields": [
                    {"key": "event", "type": "string", "value": "exception"},
                    {"key": "exception.type", "type": "string", "value": "TimeoutError"},
                    {"key": "exception.message", "type": "string", "value": "slow"},
                    {"key": "exception.stacktrace", "type": "string", "value": "at x"},
                ],
            },
        ],
    )
    result = parse_document(doc(raw, tags=[{"key": "cloud.platform", "type": "string", "value": "aws_lambda"}]))
    (s,) = result.spans
    assert s.kind is Kind.CLIENT and "span.kind" not in s.attributes
    assert s.status is Status.THROTTLE  # the HTTP status says which failure
    assert (s.namespace, s.remote_service) == ("remote", "payments")
    (exc,) = s.exceptions
    assert (exc.type, exc.message, exc.stacktrace, exc.time_ns) == (
        "TimeoutError",
        "slow",
        "at x",
        1_700_000_000_000_500_000,
    )
    assert s.status_message == "slow"
    assert s.origin == "AWS::Lambda::Function"
    assert s.resource == {"cloud.platform": "aws_lambda", "service.name": "orders"}
    assert s.end_ns - s.start_ns == 1_500_000


def test_bad_spans_reported_with_path_and_rest_kept():
    good = span()
    bad_id = span(spanID="zz")
    bad_process = span(spanID="1", processID="p9")
    bad_time = span(spanID="2", startTime="later")
    result = parse_document(doc(bad_id, good, bad_process, bad_time, 7))
    assert [s.span_id for s in result.spans] == ["eee19b7ec3c1b174"]
    assert [e.position for e in result.errors] == [f"data[0].spans[{i}]" for i in (0, 2, 3, 4)]
    assert "spanID" in result.errors[0].reason
    assert "p9" in result.errors[1].reason
    assert "startTime" in result.errors[2].reason
    assert parse_document({"foo": 1}).errors[0].reason.startswith("not a Jaeger document")
