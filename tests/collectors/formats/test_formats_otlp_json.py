"""OTLP JSON ExportTraceServiceRequest → spans: ids, int64 strings, AnyValues, kinds, status, events."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
from spanscope.collectors.formats.otlp_json import parse_request
from spanscope.collectors.model import Kind, Status

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
TRACE = "5b8efff798038103d269b633813fc60c"


def kv(key, value):
    return {"key": key, "value": value}


def request(spans, resource=None):
    attrs = resource if resource is not None else [kv("service.name", {"stringValue": "checkout"})]
    return {"resourceSpans": [{"resource": {"attributes": attrs}, "scopeSpans": [{"scope": {}, "spans": spans}]}]}


def span(**extra):
    raw = {
        "traceId": TRACE.upper(),
        "spanId": "EEE19B7EC3C1B174",
        "name": "op",
        "kind": 2,
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": 1544712661000000000,
    }
    raw.update(extra)
    return raw


def test_basic_fields_and_upper_case_ids():
    result = parse_request(request([span(parentSpanId="EEE19B7EC3C1B173")]))
    assert result.errors == []
    (s,) = result.spans
    assert (s.trace_id, s.span_id, s.parent_id) == (TRACE, "eee19b7ec3c1b174", "eee19b7ec3c1b173")
    assert (s.service, s.name, s.kind) == ("checkout", "op", Kind.SERVER)
    assert (s.start_ns, s.end_ns) == (1544712660000000000, 1544712661000000000)
    assert s.resource == {"service.name": "checkout"}
    assert not s.in_progress


def test_any_values_and_annotations():
    attrs = [
        kv("s", {"stringValue": "x"}),
        kv("i", {"intValue": "42"}),
        kv("d", {"doubleValue": 1.5}),
        kv("b", {"boolValue": True}),
        kv("a", {"arrayValue": {"values": [{"stringValue": "p"}, {"intValue": 2}]}}),
        kv("k", {"kvlistValue": {"values": [kv("inner", {"stringValue": "v"})]}}),
        kv("y", {"bytesValue": "AAE="}),
        kv("customer", {"stringValue": "c1"}),
        kv("aws.xray.annotations", {"arrayValue": {"values": [{"stringValue": "customer"}]}}),
    ]
    (s,) = parse_request(request([span(attributes=attrs)])).spans
    assert s.attributes == {
        "s": "x",
        "i": 42,
        "d": 1.5,
        "b": True,
        "a": ["p", 2],
        "k.inner": "v",
        "y": "AAE=",
    }
    assert s.annotations == {"customer": "c1"}


def test_kind_names_status_and_remote():
    attrs = [kv("rpc.system", {"stringValue": "aws-api"}), kv("rpc.service", {"stringValue": "DynamoDB"})]
    raw = span(kind="SPAN_KIND_CLIENT", attributes=attrs, status={"code": "STATUS_CODE_ERROR", "message": "boom"})
    (s,) = parse_request(request([raw])).spans
    assert s.kind is Kind.CLIENT
    assert (s.namespace, s.remote_service) == ("aws", "DynamoDB")
    assert s.status is Status.FAULT and s.status_message == "boom"


def test_http_status_overrides_error_code():
    raw = span(status={"code": 2}, attributes=[kv("http.response.status_code", {"intValue": "404"})])
    (s,) = parse_request(request([raw])).spans
    assert s.status is Status.ERROR
    raw = span(attributes=[kv("http.status_code", {"intValue": 429})])
    (s,) = parse_request(request([raw])).spans
    assert s.status is Status.THROTTLE


def test_events_exceptions_links_origin():
    resource = [
        kv("service.name", {"stringValue": "fn"}),
        kv("cloud.platform", {"stringValue": "aws_lambda"}),
    ]
    raw = span(
        events=[
            {
                "timeUnixNano": "1544712660500000000",
                "name": "retry",
                "attributes": [kv("n", {"intValue": "1"})],
            },
            {
                "timeUnixNano": "1544712660600000000",
                "name": "exception",
                "attributes": [
                    kv("exception.type", {"stringValue": "KeyError"}),
                    kv("exception.message", {"stringValue": "'k'"}),
                    kv("exception.stacktrace", {"stringValue": "Traceback..."}),
                ],
            },
        ],
        links=[
            {
                "traceId": "5759e988bd862e3fe1be46a994272793",
                "spanId": "0123456789abcdef",
                "attributes": [kv("spanscope.link.kind", {"stringValue": "sqs"})],
            }
        ],
    )
    (s,) = parse_request(request([raw], resource)).spans
    assert s.origin == "AWS::Lambda::Function"
    (ev,) = s.events
    assert (ev.name, ev.time_ns, ev.attributes) == ("retry", 1544712660500000000, {"n": 1})
    (exc,) = s.exceptions
    assert (exc.type, exc.message, exc.stacktrace, exc.time_ns) == (
        "KeyError",
        "'k'",
        "Traceback...",
        1544712660600000000,
    )
    (link,) = s.links
    assert (link.trace_id, link.span_id, link.attributes) == (
        "5759e988bd862e3fe1be46a994272793",
        "0123456789abcdef",
        {"spanscope.link.kind": "sqs"},
    )


def test_base64_ids_are_accepted():
    raw = span(
        traceId=base64.b64encode(bytes.fromhex(TRACE)).decode(),
        spanId=base64.b64encode(bytes.fromhex("eee19b7ec3c1b174")).decode(),
    )
    (s,) = parse_request(request([raw])).spans
    assert (s.trace_id, s.span_id) == (TRACE, "eee19b7ec3c1b174")


def test_bad_spans_are_reported_and_the_rest_kept():
    good = span()
    result = parse_request(
        request([span(traceId="xyz"), good, span(startTimeUnixNano="soon"), "nope", span(kind=9)], resource=[])
    )
    assert len(result.spans) == 1 and result.spans[0].service == "unknown_service"
    positions = [e.position for e in result.errors]
    assert positions == [f"resourceSpans[0].scopeSpans[0].spans[{i}]" for i in (0, 2, 3, 4)]
    assert "traceId" in result.errors[0].reason
    assert "startTimeUnixNano" in result.errors[1].reason


def test_missing_end_time_is_in_progress_and_bad_top_level():
    (s,) = parse_request(request([span(endTimeUnixNano="0")])).spans
    assert s.in_progress and s.end_ns == s.start_ns
    assert parse_request({"foo": 1}).errors[0].position == "resourceSpans"


def test_real_sample_opentelemetry_proto_trace_json():
    """examples/trace.json of opentelemetry-proto, field by field (see tests/fixtures/SOURCES.md)."""
    doc = orjson.loads((FIXTURES / "otlp_json/opentelemetry-proto-trace.json").read_bytes())
    result = parse_request(doc)
    assert result.errors == []
    (s,) = result.spans
    assert s.trace_id == "5b8efff798038103d269b633813fc60c"
    assert s.span_id == "eee19b7ec3c1b174"
    assert s.parent_id == "eee19b7ec3c1b173"
    assert s.service == "my.service"
    assert s.name == "I'm a server span"
    assert s.kind is Kind.SERVER
    assert (s.start_ns, s.end_ns) == (1544712660000000000, 1544712661000000000)
    assert s.attributes == {"my.span.attr": "some value"}
    assert s.resource == {"service.name": "my.service"}
    assert s.status is Status.OK and s.status_message == ""
    assert (s.origin, s.namespace, s.remote_service) == ("", "", "")
    assert s.events == [] and s.exceptions == [] and s.links == [] and s.annotations == {}
    assert not s.in_progress


def test_reasons_stay_one_short_line():
    from spanscope.collectors.formats import record_reason

    result = parse_request(request([span(traceId="z" * 10_000 + "\n")]))
    (error,) = result.errors
    assert len(error.reason) <= 300 and "\n" not in error.reason
    assert record_reason(TypeError("x")) == "unexpected structure (TypeError: x)"


def test_round_trip_through_spanscope_export_writer():
    """Spans written by `spanscope export --format otlp-json` come back field by field."""
    import dataclasses

    from spanscope.collectors.formats.otlp_json_out import request_from_spans
    from spanscope.collectors.formats.xray import spans_from_document
    from spanscope.collectors.model import SpanEvent, SpanException, SpanLink

    batch = orjson.loads((FIXTURES / "xray_import/aws-cli-batch-get-traces.json").read_bytes())
    spans = spans_from_document(orjson.loads(batch["Traces"][0]["Segments"][0]["Document"]))
    root, ddb = spans
    root.annotations = {"customer": "c1", "n": 3}
    root.exceptions = [SpanException("ValueError", "bad", "tb", time_ns=root.start_ns)]
    root.status = Status.FAULT
    ddb.links = [SpanLink("5759e988bd862e3fe1be46a994272793", "0123456789abcdef", {"spanscope.link.kind": "sqs"})]
    ddb.events = [SpanEvent("retry", ddb.start_ns, {"n": 1})]
    back = parse_request(orjson.loads(orjson.dumps(request_from_spans(spans))))
    assert back.errors == []
    assert [dataclasses.asdict(s) for s in back.spans] == [dataclasses.asdict(s) for s in spans]
