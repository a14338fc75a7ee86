"""@edge_handler with Lambda@Edge event payloads as CloudFront sends them; configuration in code."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from spanscope.tracer.integrations import edge_handler
from spanscope.tracer.propagation import parse_xray_header

from tests.tracer.lambda_fakes import LambdaContext

VIEWER_REQUEST: dict[str, Any] = {
    "Records": [
        {
            "cf": {
                "config": {
                    "distributionDomainName": "d111111abcdef8.cloudfront.net",
                    "distributionId": "EDFDVBD6EXAMPLE",
                    "eventType": "viewer-request",
                    "requestId": "4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ==",
                },
                "request": {
                    "clientIp": "203.0.113.178",
                    "headers": {
                        "host": [{"key": "Host", "value": "d111111abcdef8.cloudfront.net"}],
                        "user-agent": [{"key": "User-Agent", "value": "curl/7.66.0"}],
                        "accept": [{"key": "accept", "value": "*/*"}],
                    },
                    "method": "GET",
                    "querystring": "size=large",
                    "uri": "/picture.jpg",
                },
            }
        }
    ]
}

ORIGIN_RESPONSE: dict[str, Any] = copy.deepcopy(VIEWER_REQUEST)
ORIGIN_RESPONSE["Records"][0]["cf"]["config"]["eventType"] = "origin-response"
ORIGIN_RESPONSE["Records"][0]["cf"]["response"] = {
    "status": "503",
    "statusDescription": "Service Unavailable",
    "headers": {"x-amz-cf-pop": [{"key": "X-Amz-Cf-Pop", "value": "IAD89-C1"}]},
}


@pytest.fixture
def edge_env(clean_env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    # Lambda@Edge sets only the reserved variables: the replica's name is prefixed with us-east-1.
    clean_env.setenv("AWS_LAMBDA_FUNCTION_NAME", "us-east-1.cdn-auth")
    clean_env.setenv("AWS_REGION", "eu-west-2")
    return clean_env


def test_viewer_request_span_and_propagation_to_origin(edge_env: pytest.MonkeyPatch) -> None:
    exporter = InMemorySpanExporter()

    @edge_handler(service="cdn-auth", exporters=[exporter], sampling=1.0)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        request: dict[str, Any] = event["Records"][0]["cf"]["request"]
        return request

    event = copy.deepcopy(VIEWER_REQUEST)
    request = event["Records"][0]["cf"]["request"]
    result = handler(event, LambdaContext(function_name="us-east-1.cdn-auth"))
    assert result is request
    s = exporter.get_finished_spans()[0]
    assert s.name == "cdn-auth" and s.kind is SpanKind.SERVER
    attrs = dict(s.attributes or {})
    assert attrs["spanscope.origin"] == "spanscope::Lambda@Edge::Function"
    assert attrs["aws.cloudfront.distribution_id"] == "EDFDVBD6EXAMPLE"
    assert attrs["aws.cloudfront.event_type"] == "viewer-request"
    assert attrs["aws.cloudfront.request_id"].startswith("4TyzHTaYWb1GX1")  # type: ignore[union-attr]
    assert attrs["http.request.method"] == "GET" and attrs["url.path"] == "/picture.jpg"
    assert attrs["url.full"] == "https://d111111abcdef8.cloudfront.net/picture.jpg?size=large"
    assert attrs["client.address"] == "203.0.113.178" and attrs["user_agent.original"] == "curl/7.66.0"
    assert attrs["spanscope.location"] == "edge:eu-west-2" and attrs["cloud.region"] == "eu-west-2"
    assert attrs["faas.coldstart"] is True
    assert s.resource.attributes["service.name"] == "cdn-auth"
    forwarded = parse_xray_header(result["headers"]["x-amzn-trace-id"][0]["value"])
    assert forwarded is not None and forwarded.parent == f"{s.context.span_id:016x}"
    assert result["headers"]["traceparent"][0]["value"].startswith("00-")


def test_origin_response_status_and_pop(edge_env: pytest.MonkeyPatch) -> None:
    exporter = InMemorySpanExporter()

    @edge_handler(exporters=[exporter], sampling=1.0)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        response: dict[str, Any] = event["Records"][0]["cf"]["response"]
        return response

    handler(copy.deepcopy(ORIGIN_RESPONSE), LambdaContext())
    s = exporter.get_finished_spans()[0]
    attrs = dict(s.attributes or {})
    assert attrs["http.response.status_code"] == 503 and s.status.status_code is StatusCode.ERROR
    assert attrs["spanscope.location"] == "edge:IAD89-C1" and attrs["aws.cloudfront.edge_location"] == "IAD89-C1"


def test_incoming_trace_header_is_continued(edge_env: pytest.MonkeyPatch) -> None:
    exporter = InMemorySpanExporter()

    @edge_handler(exporters=[exporter], sampling=1.0, location="edge:LHR61-P1")
    def handler(event: dict[str, Any], context: Any) -> None:
        return None

    event = copy.deepcopy(VIEWER_REQUEST)
    header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    event["Records"][0]["cf"]["request"]["headers"]["x-amzn-trace-id"] = [{"key": "X-Amzn-Trace-Id", "value": header}]
    handler(event, LambdaContext())
    s = exporter.get_finished_spans()[0]
    assert f"{s.context.trace_id:032x}" == "5759e988bd862e3fe1be46a994272793"
    assert dict(s.attributes or {})["spanscope.location"] == "edge:LHR61-P1"
