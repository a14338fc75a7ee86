"""Recognising a trace file's format from its content: X-Ray, OTLP JSON, Jaeger JSON or Zipkin v2.

The decision is made on the first bytes of the file (not its name): each format has keys no other
uses, and the one that appears first in the text wins. This works on pretty-printed documents that
cannot be parsed from a prefix, on JSON Lines, and on gzip-compressed files once decompressed.

>>> detect_format(b'{"resourceSpans": [{"resource": {}}]}')
'otlp-json'
>>> detect_format(b'[{"traceId": "1e223ff1f80f1c69", "id": "43210ae0c10d1234"}]')
'zipkin'
"""

from __future__ import annotations

import re

from spanscope.collectors.errors import ImportFormatError

__all__ = ["FORMATS", "detect_format"]

FORMATS = ("xray", "otlp-json", "jaeger", "zipkin")

# Keys that only one format uses, as they appear in the text ("key" followed by a colon).
_MARKERS: dict[bytes, str] = {
    b"resourceSpans": "otlp-json",
    b"scopeSpans": "otlp-json",
    b"instrumentationLibrarySpans": "otlp-json",
    b"Traces": "xray",
    b"TraceSegmentDocuments": "xray",
    b"trace_id": "xray",
    b"start_time": "xray",
    b"subsegments": "xray",
    b"traceID": "jaeger",
    b"spanID": "jaeger",
    b"operationName": "jaeger",
    b"processes": "jaeger",
    b"traceId": "zipkin",
    b"localEndpoint": "zipkin",
    b"remoteEndpoint": "zipkin",
    b"parentId": "zipkin",
}
_KEY = re.compile(rb'"(' + b"|".join(re.escape(k) for k in _MARKERS) + rb')"\s*:')
_XRAY_HEADER = re.compile(rb'^\s*\{\s*"format"\s*:\s*"json"\s*,\s*"version"\s*:\s*1\s*\}')


def detect_format(head: bytes) -> str:
    """The format of a file whose first bytes are ``head`` (64 KiB is plenty); ImportFormatError if none."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text:
        raise ImportFormatError("the file is empty")
    if text[:1] not in (b"{", b"["):
        raise ImportFormatError("not JSON: trace files start with '{' or '['")
    if _XRAY_HEADER.match(text):
        return "xray"
    match = _KEY.search(text)
    if match is None:
        raise ImportFormatError(
            "no known trace format: expected X-Ray segment documents, OTLP JSON, Jaeger JSON or Zipkin v2"
        )
    return _MARKERS[match.group(1)]
