"""The spool's wire rules: where drain requests go (OTLP/HTTP endpoint and headers from the environment), the POST
itself, the clock offset read from a ``Date`` header, and stamping that offset on spans and spooled requests.

Clock skew: devices often run with a wrong clock. The offset ``spanscope.device.clock_offset_ns`` = device
clock - collector clock (positive: the device is ahead; the collector subtracts it) is written on every
forwarded span. It is either configured, or estimated from the ``Date`` header of the collector's answers
(second resolution, so the estimate is within about half a second plus half the round trip).
"""

from __future__ import annotations

import http.client
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from email.utils import parsedate_to_datetime
from typing import Any, Final
from urllib.parse import urlsplit

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter

DEVICE_CLOCK_OFFSET_NS: Final = "spanscope.device.clock_offset_ns"  # = collectors.conventions
DEFAULT_ENDPOINT: Final = "http://127.0.0.1:4318/v1/traces"
CONTENT_TYPE: Final = "application/x-protobuf"
RETRYABLE_STATUS: Final = frozenset({408, 429, 500, 502, 503, 504})


def post(endpoint: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> tuple[int, str | None, int, int]:
    """POST one OTLP request: (HTTP status, ``Date`` header, sent ns, answered ns). Raises OSError/HTTPException."""
    parts = urlsplit(endpoint)
    host = parts.hostname or "127.0.0.1"
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(host, parts.port, timeout=timeout_s)
    else:
        connection = http.client.HTTPConnection(host, parts.port, timeout=timeout_s)
    path = parts.path or "/v1/traces"
    if parts.query:
        path = f"{path}?{parts.query}"
    try:
        sent_ns = time.time_ns()
        connection.request("POST", path, body=body, headers={"Content-Type": CONTENT_TYPE, **headers})
        response = connection.getresponse()
        response.read()
        received_ns = time.time_ns()
        return response.status, response.getheader("Date"), sent_ns, received_ns
    finally:
        connection.close()


def offset_from_date(date: str | None, sent_ns: int, received_ns: int) -> int | None:
    """Device clock - server clock estimated from an answer's ``Date`` header (None when there is none)."""
    if not date:
        return None
    try:
        server_s = parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    # The Date header truncates to the second: the server's time was within [date, date + 1 s).
    server_ns = int(server_s * 1e9) + 500_000_000
    return (sent_ns + received_ns) // 2 - server_ns


def headers_from_environ() -> dict[str, str]:
    """``OTEL_EXPORTER_OTLP_TRACES_HEADERS`` (else ``OTEL_EXPORTER_OTLP_HEADERS``), as the OTLP exporter reads them."""
    text = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS") or os.environ.get("OTEL_EXPORTER_OTLP_HEADERS", "")
    if not text:
        return {}
    from opentelemetry.util.re import parse_env_headers

    return dict(parse_env_headers(text, liberal=True))


def endpoint_of(inner: SpanExporter) -> str:
    endpoint = getattr(inner, "_endpoint", None)
    if isinstance(endpoint, str) and endpoint.startswith(("http://", "https://")):
        return endpoint
    traces = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if traces:
        return traces
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if base:
        return base.rstrip("/") + "/v1/traces"
    return DEFAULT_ENDPOINT


def stamped(spans: Sequence[ReadableSpan], offset_ns: int) -> list[ReadableSpan]:
    """Copies of the spans carrying the device clock offset attribute."""
    out: list[ReadableSpan] = []
    for span in spans:
        attributes = dict(span.attributes or {})
        if DEVICE_CLOCK_OFFSET_NS in attributes:
            out.append(span)
            continue
        attributes[DEVICE_CLOCK_OFFSET_NS] = offset_ns
        out.append(
            ReadableSpan(
                name=span.name,
                context=span.context,
                parent=span.parent,
                resource=span.resource,
                attributes=attributes,
                events=span.events,
                links=span.links,
                kind=span.kind,
                status=span.status,
                start_time=span.start_time,
                end_time=span.end_time,
                instrumentation_scope=span.instrumentation_scope,
            )
        )
    return out


def stamp_payload(payload: bytes, offset_ns: int | None) -> bytes:
    """The spooled request with the clock offset added to spans that lack it (unchanged if unknown)."""
    if offset_ns is None:
        return payload
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(payload)
    except Exception:  # not ours to judge: send it as it is, the collector rejects it (then it is dropped)
        return payload
    changed = False
    for span in _iter_spans(request):
        if not any(kv.key == DEVICE_CLOCK_OFFSET_NS for kv in span.attributes):
            span.attributes.append(KeyValue(key=DEVICE_CLOCK_OFFSET_NS, value=AnyValue(int_value=offset_ns)))
            changed = True
    return request.SerializeToString() if changed else payload


def _iter_spans(request: ExportTraceServiceRequest) -> Iterator[Any]:
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            yield from scope_spans.spans
