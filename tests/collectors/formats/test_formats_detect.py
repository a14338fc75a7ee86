"""Format auto-detection from content: every real sample, JSON Lines, headers, and what is not a trace file."""

from __future__ import annotations

from pathlib import Path

import pytest
from spanscope.collectors.errors import ImportFormatError
from spanscope.collectors.formats.detect import detect_format

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("otlp_json/opentelemetry-proto-trace.json", "otlp-json"),
        ("xray_import/aws-cli-batch-get-traces.json", "xray"),
        ("xray_import/awsxrayreceiver-put-trace-segments.json", "xray"),
        ("jaeger/jaeger-ui_01.json", "jaeger"),
        ("zipkin/skew.json", "zipkin"),
        ("zipkin/simple-db-p6.json", "zipkin"),
    ],
)
def test_real_samples(name, fmt):
    assert detect_format((FIXTURES / name).read_bytes()) == fmt


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        (b'{"name":"api","id":"70de5b6f19ff9a0a","start_time":1.5e9}\n{"name":"b"}', "xray"),
        (b'[{"name":"api","id":"70de5b6f19ff9a0a","trace_id":"1-5759e988-bd862e3fe1be46a994272793"}]', "xray"),
        (b'{"format": "json", "version": 1}\n{"trace_id": "1-5759e988-bd862e3fe1be46a994272793"}', "xray"),
        (b'\xef\xbb\xbf  {"data": [{"traceID": "1", "spans": []}]}', "jaeger"),
        (b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"ab"}]}]}]}\n', "otlp-json"),
        (b'[\n  {\n    "traceId": "1e223ff1f80f1c69",\n    "parentId": "1"', "zipkin"),  # truncated head is fine
    ],
)
def test_markers(text, fmt):
    assert detect_format(text) == fmt


@pytest.mark.parametrize(
    ("text", "reason"),
    [(b"", "empty"), (b"  \n", "empty"), (b"hello", "not JSON"), (b'{"a": 1}', "no known trace format")],
)
def test_unrecognised(text, reason):
    with pytest.raises(ImportFormatError, match=reason):
        detect_format(text)
