"""X-Ray documents from OpenTelemetry exporters keep the span name and kind in metadata; we read them back."""

from __future__ import annotations

from spanscope.collectors.formats.xray import spans_from_document
from spanscope.collectors.model import Kind


def test_original_span_name_and_kind_come_back() -> None:
    doc = {
        "name": "orders-api",
        "id": "70de5b6f19ff9a0a",
        "trace_id": "1-581cf771-a006649127e371903a2de979",
        "start_time": 1478293361.271,
        "end_time": 1478293361.449,
        "metadata": {"default": {"otel.span.name": "POST /orders", "other": 1}},
        "subsegments": [
            {
                "name": "DynamoDB",
                "id": "70de5b6f19ff9a0b",
                "namespace": "aws",
                "start_time": 1478293361.3,
                "end_time": 1478293361.4,
                "metadata": {"default": {"otel.span.name": "DynamoDB.PutItem"}},
            },
            {
                "name": "publish",
                "id": "70de5b6f19ff9a0c",
                "start_time": 1478293361.41,
                "end_time": 1478293361.42,
                "metadata": {"default": {"otel.span.kind": "producer"}},
            },
        ],
    }
    root, call, publish = spans_from_document(doc)
    assert (root.service, root.name, root.kind) == ("orders-api", "POST /orders", Kind.SERVER)
    assert (call.name, call.remote_service, call.kind) == ("DynamoDB.PutItem", "DynamoDB", Kind.CLIENT)
    assert (publish.name, publish.kind) == ("publish", Kind.PRODUCER)
    assert root.attributes["other"] == 1  # default-namespace metadata are the span's attributes
    assert not any(k.startswith(("metadata.default", "otel.span")) for s in (root, call, publish) for k in s.attributes)
