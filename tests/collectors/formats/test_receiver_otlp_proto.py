"""OTLP protobuf ⇔ model conversion used by the OTLP receivers and the OTLP forwarder."""

from __future__ import annotations

import base64

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from spanscope.collectors.formats.otlp_json import parse_request
from spanscope.collectors.formats.otlp_proto import spans_from_request, spans_to_request
from spanscope.collectors.model import Kind, SpanEvent, SpanException, Status

from tests.builders import make_span


def rich_spans():
    root = make_span(
        "root",
        None,
        0,
        100,
        service="web",
        kind=Kind.SERVER,
        origin="AWS::Lambda::Function",
        attributes={"s": "x", "i": 7, "f": 0.5, "b": True, "l": ["a", "b"], "http.response.status_code": 200},
        annotations={"customer": "c-1", "tier": 2},
        resource={"cloud.platform": "aws_lambda", "service.name": "web"},
        links=[("other", "producer")],
    )
    root.events.append(SpanEvent("validated", root.start_ns + 5, {"fields": 3}))
    failing = make_span(
        "pay",
        "root",
        10,
        60,
        service="web",
        kind=Kind.CLIENT,
        status=Status.FAULT,
        attributes={"peer.service": "payments"},
    )
    failing.status_message = "card declined"
    failing.exceptions.append(SpanException("ValueError", "card declined", "Traceback ...", time_ns=failing.end_ns))
    open_span = make_span("open", "root", 70, 70, service="web", in_progress=True)
    return [root, failing, open_span]


def test_model_round_trips_through_protobuf() -> None:
    sent = rich_spans()
    wire = spans_to_request(sent).SerializeToString()
    result = spans_from_request(ExportTraceServiceRequest.FromString(wire))
    assert result.errors == []
    got = {s.span_id: s for s in result.spans}
    for original in sent:
        copy = got[original.span_id]
        for field in (
            "trace_id",
            "parent_id",
            "service",
            "name",
            "kind",
            "start_ns",
            "end_ns",
            "status",
            "status_message",
            "origin",
            "attributes",
            "annotations",
            "events",
            "in_progress",
        ):
            assert getattr(copy, field) == getattr(original, field), field
        assert [(x.type, x.message, x.stacktrace) for x in copy.exceptions] == [
            (x.type, x.message, x.stacktrace) for x in original.exceptions
        ]
        assert [(k.trace_id, k.span_id) for k in copy.links] == [(k.trace_id, k.span_id) for k in original.links]
    assert (got[sent[1].span_id].namespace, got[sent[1].span_id].remote_service) == ("remote", "payments")


def test_protobuf_and_json_decoders_agree() -> None:
    request = spans_to_request(rich_spans())
    kv = request.resource_spans[0].scope_spans[0].spans[0].attributes.add()
    kv.key = "nested"
    inner = kv.value.kvlist_value.values.add()
    inner.key = "depth"
    inner.value.int_value = 2
    raw = request.resource_spans[0].scope_spans[0].spans[0].attributes.add()
    raw.key = "blob"
    raw.value.bytes_value = b"\x00\x01"
    from_proto = spans_from_request(request).spans
    from_json = parse_request(json_format.MessageToDict(request)).spans
    assert from_proto == from_json
    assert from_proto[0].attributes["nested.depth"] == 2
    assert from_proto[0].attributes["blob"] == base64.b64encode(b"\x00\x01").decode()


def test_bad_ids_are_record_errors_with_positions() -> None:
    request = spans_to_request([make_span("ok", None, 0, 1)])
    spans = request.resource_spans[0].scope_spans[0].spans
    bad_trace = spans.add()
    bad_trace.trace_id = bytes(16)
    bad_trace.span_id = b"\x01" * 8
    bad_parent = spans.add()
    bad_parent.trace_id = b"\x01" * 16
    bad_parent.span_id = b"\x02" * 8
    bad_parent.parent_span_id = b"\x03"
    result = spans_from_request(request)
    assert len(result.spans) == 1
    assert [e.position for e in result.errors] == [
        "resource_spans[0].scope_spans[0].spans[1]",
        "resource_spans[0].scope_spans[0].spans[2]",
    ]
