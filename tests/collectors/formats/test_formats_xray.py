"""X-Ray segment documents → spans: segments, nested/independent subsegments, remotes, status, times."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from spanscope.collectors.errors import InvalidSpanError
from spanscope.collectors.formats import seconds_to_ns
from spanscope.collectors.formats.xray import spans_from_document
from spanscope.collectors.model import Kind, Status

TRACE = "1-581cf771-a006649127e371903a2de979"
OTEL_TRACE = "581cf771a006649127e371903a2de979"


def segment(**extra):
    doc = {
        "name": "orders",
        "id": "70de5b6f19ff9a0a",
        "trace_id": TRACE,
        "start_time": 1478293361.271,
        "end_time": 1478293361.449,
    }
    doc.update(extra)
    return doc


def test_segment_is_server_span_with_exact_times():
    (span,) = spans_from_document(segment(origin="AWS::EC2::Instance", service={"version": "1.2"}))
    assert span.trace_id == OTEL_TRACE
    assert span.span_id == "70de5b6f19ff9a0a"
    assert span.parent_id is None
    assert (span.service, span.name, span.kind) == ("orders", "orders", Kind.SERVER)
    assert span.start_ns == 1_478_293_361_271_000_000
    assert span.end_ns == 1_478_293_361_449_000_000
    assert span.origin == "AWS::EC2::Instance"
    assert span.resource["service.version"] == "1.2"
    assert span.status is Status.OK


def test_nested_subsegments_and_remote_namespaces():
    doc = segment(
        subsegments=[
            {
                "name": "handler",
                "id": "0000000000000001",
                "start_time": 1478293361.3,
                "end_time": 1478293361.4,
                "subsegments": [
                    {
                        "name": "DynamoDB",
                        "id": "0000000000000002",
                        "namespace": "aws",
                        "start_time": 1478293361.31,
                        "end_time": 1478293361.32,
                        "aws": {"operation": "GetItem", "table_name": "t", "request_id": "R"},
                    },
                    {
                        "name": "api.example.com",
                        "id": "0000000000000003",
                        "namespace": "remote",
                        "start_time": 1478293361.33,
                        "end_time": 1478293361.34,
                        "http": {
                            "request": {"method": "GET", "url": "https://api.example.com/x"},
                            "response": {"status": 429, "content_length": 10},
                        },
                    },
                ],
            }
        ]
    )
    spans = spans_from_document(doc)
    by_name = {s.name: s for s in spans}
    assert [s.name for s in spans] == ["orders", "handler", "DynamoDB", "api.example.com"]
    handler, ddb, api = by_name["handler"], by_name["DynamoDB"], by_name["api.example.com"]
    assert handler.parent_id == "70de5b6f19ff9a0a" and handler.kind is Kind.INTERNAL
    assert handler.service == "orders" and handler.namespace == ""
    assert ddb.parent_id == handler.span_id and api.parent_id == handler.span_id
    assert (ddb.kind, ddb.namespace, ddb.remote_service) == (Kind.CLIENT, "aws", "DynamoDB")
    assert ddb.attributes["aws.operation"] == "GetItem"
    assert ddb.attributes["aws.request_id"] == "R"
    assert ddb.attributes["rpc.system"] == "aws-api" and ddb.attributes["rpc.method"] == "GetItem"
    assert (api.kind, api.namespace, api.remote_service) == (Kind.CLIENT, "remote", "api.example.com")
    assert api.attributes["http.request.method"] == "GET"
    assert api.attributes["url.full"] == "https://api.example.com/x"
    assert api.attributes["http.response.status_code"] == 429
    assert api.status is Status.THROTTLE


def test_independent_in_progress_subsegment():
    doc = {
        "type": "subsegment",
        "name": "work",
        "id": "1111111111111111",
        "trace_id": TRACE,
        "parent_id": "70de5b6f19ff9a0a",
        "start_time": 1478293361.5,
        "in_progress": True,
    }
    (span,) = spans_from_document(doc)
    assert span.service == ""
    assert span.parent_id == "70de5b6f19ff9a0a"
    assert span.in_progress and span.end_ns == span.start_ns


def test_parentless_subsegment_is_its_own_service_and_inferred_segments_give_nothing():
    doc = {
        "type": "subsegment",
        "name": "gen",
        "id": "1111111111111111",
        "trace_id": TRACE,
        "namespace": "remote",
        "start_time": 1,
        "end_time": 2,
    }
    (span,) = spans_from_document(doc)
    assert (span.service, span.parent_id, span.kind) == ("gen", None, Kind.CLIENT)
    assert spans_from_document(segment(inferred=True, parent_id="2d6900034ccfe558")) == []


def test_flags_cause_annotations_metadata():
    doc = segment(
        fault=True,
        http={"response": {"status": 200}},
        cause={
            "working_directory": "/app",
            "exceptions": [
                {
                    "id": "e1",
                    "type": "ValueError",
                    "message": "bad",
                    "remote": True,
                    "stack": [{"path": "app.py", "line": 3, "label": "handler"}],
                }
            ],
        },
        annotations={"customer": "c1", "n": 3, "bad": {"x": 1}},
        metadata={"debug": {"a": {"b": [1, 2]}, "c": None}},
        user="alice",
    )
    (span,) = spans_from_document(doc)
    assert span.status is Status.FAULT
    assert span.status_message == "bad"
    (exc,) = span.exceptions
    assert (exc.type, exc.message, exc.remote) == ("ValueError", "bad", True)
    assert "handler" in exc.stacktrace and "app.py:3" in exc.stacktrace
    assert span.annotations == {"customer": "c1", "n": 3}
    assert span.attributes["metadata.debug.a.b"] == [1, 2]
    assert span.attributes["metadata.debug.c"] is None
    assert span.attributes["enduser.id"] == "alice"


@pytest.mark.parametrize(
    ("extra", "status"),
    [
        ({"error": True}, Status.ERROR),
        ({"throttle": True, "error": True}, Status.THROTTLE),
        ({"http": {"response": {"status": 503}}}, Status.FAULT),
        ({"http": {"response": {"status": 404}}}, Status.ERROR),
        ({"cause": {"exceptions": [{"message": "x"}]}}, Status.FAULT),
    ],
)
def test_status_rules(extra, status):
    (span,) = spans_from_document(segment(**extra))
    assert span.status is status


def test_links_and_otel_trace_id_form():
    doc = segment(
        trace_id=OTEL_TRACE,
        links=[
            {
                "trace_id": "1-5759e988-bd862e3fe1be46a994272793",
                "id": "0123456789abcdef",
                "attributes": {"spanscope.link.kind": "sqs"},
            }
        ],
    )
    (span,) = spans_from_document(doc)
    assert span.trace_id == OTEL_TRACE
    (link,) = span.links
    assert link.trace_id == "5759e988bd862e3fe1be46a994272793"
    assert link.span_id == "0123456789abcdef"
    assert link.attributes == {"spanscope.link.kind": "sqs"}


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ([], "not a JSON object"),
        ({"name": "x", "id": "70de5b6f19ff9a0a", "start_time": 1, "end_time": 2}, "trace_id"),
        (segment(trace_id="1-zz"), "invalid trace id"),
        (segment(id="nothex"), "invalid id"),
        (segment(end_time=None), "end_time"),
        (segment(start_time="soon"), "start_time"),
        (segment(name=""), "name"),
        (segment(parent_id="xyz"), "invalid parent_id"),
        (
            segment(subsegments=[{"name": "s", "id": "2222222222222222", "start_time": 1}]),
            "subsegments[0]: end_time",
        ),
        (segment(subsegments={"a": 1}), "subsegments is not a list"),
    ],
)
def test_invalid_documents_name_the_reason(doc, reason):
    with pytest.raises(InvalidSpanError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        spans_from_document(doc)


def test_deeply_nested_subsegments_do_not_recurse():
    doc = segment()
    node = doc
    for i in range(5000):
        child = {"name": f"s{i}", "id": f"{i + 1:016x}", "start_time": 1478293361.3, "end_time": 1478293361.4}
        node["subsegments"] = [child]
        node = child
    spans = spans_from_document(doc)
    assert len(spans) == 5001
    assert spans[-1].parent_id == spans[-2].span_id


@pytest.mark.parametrize(
    ("value", "ns"),
    [
        (1478293361.271, 1_478_293_361_271_000_000),
        (1478293361.271123, 1_478_293_361_271_123_000),
        (1700000000, 1_700_000_000_000_000_000),
        (1.5e9, 1_500_000_000_000_000_000),
        ("1478293361.000000001", 1_478_293_361_000_000_001),
    ],
)
def test_seconds_to_ns_is_exact(value, ns):
    assert seconds_to_ns(value) == ns


# --- real samples (tests/fixtures/SOURCES.md) ----------------------------------------------------------

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "xray_import"


def _documents(name):
    doc = orjson.loads((FIXTURES / name).read_bytes())
    if "Traces" in doc:
        return [orjson.loads(seg["Document"]) for t in doc["Traces"] for seg in t["Segments"]]
    return [orjson.loads(text) for text in doc["TraceSegmentDocuments"]]


def test_real_sample_aws_cli_batch_get_traces():
    segment_doc, inferred_doc = _documents("aws-cli-batch-get-traces.json")
    assert spans_from_document(inferred_doc) == []  # X-Ray's inferred DynamoDB node: the subsegment names it
    root, ddb = spans_from_document(segment_doc)
    tid = "5d82881a0a9126e92a73e971eed891b9"

    assert (root.trace_id, root.span_id, root.parent_id) == (tid, "54aff5735b12dd28", None)
    assert (root.service, root.name, root.kind) == ("Scorekeep", "Scorekeep", Kind.SERVER)
    assert (root.start_ns, root.end_ns) == (1_568_835_610_432_000_000, 1_568_835_610_664_000_000)
    assert root.origin == "AWS::ElasticBeanstalk::Environment"
    assert root.status is Status.OK and root.status_message == ""
    assert root.attributes["url.full"] == ("http://scorekeep-env-1.m4fg2pfzpv.us-east-2.elasticbeanstalk.com/api/user")
    assert root.attributes["http.request.method"] == "POST"
    assert root.attributes["user_agent.original"] == "curl/7.59.0"
    assert root.attributes["client.address"] == "52.95.4.28"
    assert root.attributes["http.request.x_forwarded_for"] is True
    assert root.attributes["http.response.status_code"] == 200
    assert root.attributes["aws.elastic_beanstalk.version_label"] == "Sample Application-1"
    assert root.attributes["aws.elastic_beanstalk.deployment_id"] == 3
    assert root.attributes["aws.ec2.instance_id"] == "i-0e3cf4d2de0f3f37a"
    assert root.attributes["aws.ec2.availability_zone"] == "us-east-2b"
    assert root.attributes["aws.xray.sdk"] == "X-Ray for Java"
    assert root.attributes["aws.xray.sdk_version"] == "1.1.0"
    assert root.resource["service.name"] == "Scorekeep"
    assert root.resource["aws.xray.sdk"] == "X-Ray for Java"
    assert root.resource["aws.elastic_beanstalk.environment_name"] == "Scorekeep-env-1"
    assert root.resource["process.runtime.name"] == "OpenJDK 64-Bit Server VM"
    assert root.resource["process.runtime.version"] == "1.8.0_222"
    assert root.attributes["process.runtime.version"] == "1.8.0_222"
    assert root.annotations == {} and root.exceptions == [] and root.links == []
    assert not root.in_progress

    assert (ddb.trace_id, ddb.span_id, ddb.parent_id) == (tid, "2d6900034ccfe558", "54aff5735b12dd28")
    assert (ddb.service, ddb.name, ddb.kind) == ("Scorekeep", "DynamoDB", Kind.CLIENT)
    assert (ddb.namespace, ddb.remote_service) == ("aws", "DynamoDB")
    assert (ddb.start_ns, ddb.end_ns) == (1_568_835_610_658_000_000, 1_568_835_610_664_000_000)
    assert ddb.status is Status.OK
    assert ddb.attributes["aws.operation"] == "UpdateItem"
    assert ddb.attributes["aws.table_name"] == "scorekeep-user"
    assert ddb.attributes["aws.request_id"] == "TPEIDNDUROMLPOV17U4A79555NVV4KQNSO5AEMVJF66Q9ASUAAJG"
    assert ddb.attributes["aws.resource_names"] == ["scorekeep-user"]
    assert ddb.attributes["rpc.system"] == "aws-api"
    assert ddb.attributes["rpc.service"] == "DynamoDB"
    assert ddb.attributes["rpc.method"] == "UpdateItem"
    assert ddb.attributes["http.response.status_code"] == 200
    assert ddb.attributes["http.response.body.size"] == 61
    assert ddb.origin == ""


def test_real_sample_put_trace_segments_independent_subsegments():
    docs = _documents("awsxrayreceiver-put-trace-segments.json")
    spans = [s for d in docs for s in spans_from_document(d)]
    assert [s.span_id for s in spans] == ["0100000000000000", "0200000000000000", "0300000000000000"]
    first = spans[0]
    assert first.trace_id == "5f06099f000000000000000000000000"
    assert first.parent_id is None  # sent without parent_id: a root of its own
    assert (first.service, first.name, first.kind) == ("load-generator-span", "load-generator-span", Kind.CLIENT)
    assert (first.namespace, first.remote_service) == ("remote", "load-generator-span")
    assert first.origin == "AWS::EC2::Instance"
    # 1594231199.5614452 s, exactly as written (float arithmetic would give ...561445120 ns)
    assert (first.start_ns, first.end_ns) == (1_594_231_199_561_445_200, 1_594_231_199_562_445_200)
    assert first.annotations == {"load_generator_span_seq_num": "", "load_generator_trace_seq_num": ""}
    assert first.attributes == {}
    assert spans[1].start_ns == 1_594_231_199_561_463_000
