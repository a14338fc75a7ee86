"""OTLP JSON (ExportTraceServiceRequest, as OTLP/HTTP JSON and the file exporter write it) into spans.

Rules (OTLP JSON encoding, and the awsxrayexporter's OTel → X-Ray rules for status and remotes):

- ids are hex (upper case tolerated; base64 as the generic protobuf JSON mapping writes is accepted too);
  64-bit integers may be strings or numbers; kinds and status codes may be enum ints or names;
- the resource's ``service.name`` is the service (``unknown_service`` when absent);
- AnyValue variants become model attributes: scalars as is, arrays of scalars as lists, kvlists
  flattened to dotted keys, bytes kept as their base64 text, anything else nested as JSON text;
- status: an HTTP status >= 400 decides (4xx error, 429 throttle, 5xx fault); otherwise ``ERROR``
  is a fault;
- ``exception`` events become SpanExceptions, other events SpanEvents; links are kept;
- client and producer spans name their downstream node through ``conventions.remote_from_attributes``;
- the keys listed in ``aws.xray.annotations`` move from the attributes to the annotations.

A span that cannot be converted is reported as a RecordError with its JSON path; the rest is kept.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import orjson
from spanscope.collectors import conventions as conv
from spanscope.collectors.errors import InvalidSpanError
from spanscope.collectors.formats import (
    RECORD_ERRORS,
    ParseResult,
    RecordError,
    add_otel_event,
    hex_id,
    put_flattened,
    record_reason,
    take_annotations,
)
from spanscope.collectors.model import (
    Attributes,
    AttrValue,
    Kind,
    Span,
    SpanEvent,
    SpanException,
    SpanLink,
)

__all__ = ["attributes_from_kvlist", "parse_request", "spans_from_resource_spans"]

_KINDS: dict[object, Kind] = {
    0: Kind.INTERNAL,
    1: Kind.INTERNAL,
    2: Kind.SERVER,
    3: Kind.CLIENT,
    4: Kind.PRODUCER,
    5: Kind.CONSUMER,
    "SPAN_KIND_UNSPECIFIED": Kind.INTERNAL,
    "SPAN_KIND_INTERNAL": Kind.INTERNAL,
    "SPAN_KIND_SERVER": Kind.SERVER,
    "SPAN_KIND_CLIENT": Kind.CLIENT,
    "SPAN_KIND_PRODUCER": Kind.PRODUCER,
    "SPAN_KIND_CONSUMER": Kind.CONSUMER,
}
_HEX_DIGITS = frozenset("0123456789abcdef")
_ZEROS = {16: "0" * 16, 32: "0" * 32}
_STATUS_ERROR = frozenset((2, "2", "STATUS_CODE_ERROR"))


def parse_request(doc: Mapping[str, Any]) -> ParseResult:
    """All spans of one ExportTraceServiceRequest; bad spans are skipped and reported by JSON path.

    >>> r = parse_request({"resourceSpans": [{"resource": {"attributes": [
    ...     {"key": "service.name", "value": {"stringValue": "api"}}]},
    ...     "scopeSpans": [{"spans": [{"traceId": "5B8EFFF798038103D269B633813FC60C",
    ...     "spanId": "EEE19B7EC3C1B174", "name": "GET /", "kind": 2,
    ...     "startTimeUnixNano": "1544712660000000000", "endTimeUnixNano": "1544712661000000000"}]}]}]})
    >>> s = r.spans[0]; (s.trace_id, s.service, s.kind.value, s.end_ns - s.start_ns, r.errors)
    ('5b8efff798038103d269b633813fc60c', 'api', 'server', 1000000000, [])
    """
    result = ParseResult()
    if not isinstance(doc, dict) and isinstance(doc, Mapping):
        doc = dict(doc)
    if not isinstance(doc, dict):
        result.errors.append(RecordError("", f"not a JSON object but {type(doc).__name__}"))
        return result
    resource_spans = doc.get("resourceSpans")
    if not isinstance(resource_spans, list):
        result.errors.append(RecordError("resourceSpans", "missing or not a list"))
        return result
    for i, rs in enumerate(resource_spans):
        spans_from_resource_spans(rs, f"resourceSpans[{i}]", result)
    return result


def spans_from_resource_spans(rs: object, path: str, result: ParseResult) -> None:
    """Append the spans of one ResourceSpans to ``result`` (errors too)."""
    if not isinstance(rs, dict):
        result.errors.append(RecordError(path, "not a JSON object"))
        return
    resource_obj = rs.get("resource")
    resource: Attributes = {}
    if isinstance(resource_obj, dict):
        resource = attributes_from_kvlist(resource_obj.get("attributes"))
    service = resource.get(conv.SERVICE_NAME)
    service_name = service if isinstance(service, str) and service else "unknown_service"
    resource_origin = conv.origin_from_resource(resource, {})
    scopes = rs.get("scopeSpans")
    scope_key = "scopeSpans"
    if scopes is None:  # OTLP before 0.15 (some old files still have it)
        scopes = rs.get("instrumentationLibrarySpans")
        scope_key = "instrumentationLibrarySpans"
    if not isinstance(scopes, list):
        result.errors.append(RecordError(f"{path}.scopeSpans", "missing or not a list"))
        return
    for j, scope in enumerate(scopes):
        scope_path = f"{path}.{scope_key}[{j}]"
        if not isinstance(scope, dict):
            result.errors.append(RecordError(scope_path, "not a JSON object"))
            continue
        spans = scope.get("spans")
        if spans is None:
            continue
        if not isinstance(spans, list):
            result.errors.append(RecordError(f"{scope_path}.spans", "not a list"))
            continue
        for k, raw in enumerate(spans):
            try:
                result.spans.append(_span(raw, service_name, resource, resource_origin))
            except RECORD_ERRORS as exc:
                result.errors.append(RecordError(f"{scope_path}.spans[{k}]", record_reason(exc)))


# --- values -------------------------------------------------------------------------------------------


def _int64(value: object, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise InvalidSpanError(f"{what} is not an integer: {value!r}")


def _time_ns(value: object, what: str) -> int:
    number = _int64(value, what)
    if not -(2**63) <= number < 2**63:  # the store's time columns are signed 64-bit
        raise InvalidSpanError(f"{what} is out of range: {value!r:.60}")
    return number


_MAX_ARRAY_DEPTH = 64  # arrays nested deeper are kept as their JSON text (the converter recurses per level)


def _any_value(value: object, depth: int = 0) -> AttrValue:
    """One OTLP AnyValue as an attribute value (kvlists are flattened by the caller; inside arrays, JSON text).

    Doubles are kept as sent, NaN and ±Infinity included (OTLP JSON writes them as "NaN", "Infinity",
    "-Infinity"); arrays of arrays stay nested lists.
    """
    if not isinstance(value, dict) or not value:
        return None
    if "stringValue" in value:
        return str(value["stringValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "intValue" in value:
        try:
            return _int64(value["intValue"], "intValue")
        except InvalidSpanError:
            return str(value["intValue"])
    if "doubleValue" in value:
        raw = value["doubleValue"]
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return float(raw)
        try:
            return float(raw)
        except (TypeError, ValueError):
            return str(raw)
    if "bytesValue" in value:
        return str(value["bytesValue"])
    if "arrayValue" in value:
        if depth >= _MAX_ARRAY_DEPTH:
            return orjson.dumps(value).decode()
        array = value["arrayValue"]
        items = array.get("values") if isinstance(array, dict) else None
        return [_any_value(v, depth + 1) for v in items] if isinstance(items, list) else []
    return orjson.dumps(value).decode()


def attributes_from_kvlist(raw: object, prefix: str = "") -> Attributes:
    """OTLP ``[{"key": ..., "value": AnyValue}]`` as attributes; nested kvlists become dotted keys.

    The top-level keys are set first; a key flattened out of a kvlist that is already taken (a real
    ``"a.b"`` next to ``"a": {"b": ...}``) gets a ``#2`` suffix instead of overwriting it.
    """
    out: Attributes = {}
    if not isinstance(raw, list):
        return out
    stack: list[tuple[str, list[Any]]] = [(prefix, raw)]
    while stack:
        base, items = stack.pop()
        for item in items:
            if not isinstance(item, dict):
                continue
            key = item.get("key")
            if not isinstance(key, str):
                continue
            full = f"{base}.{key}" if base else key
            value = item.get("value")
            if type(value) is dict and len(value) == 1:  # the common case: one plain string
                text = value.get("stringValue")
                if type(text) is str:
                    if base is prefix:
                        out[full] = text
                    else:  # flattened out of a kvlist: a real dotted key set first keeps its value
                        put_flattened(out, full, text)
                    continue
            if isinstance(value, dict) and "kvlistValue" in value:
                kv = value["kvlistValue"]
                nested = kv.get("values") if isinstance(kv, dict) else None
                stack.append((full, nested if isinstance(nested, list) else []))
            elif base is not prefix:
                put_flattened(out, full, _any_value(value))
            else:
                out[full] = _any_value(value)
    return out


def _id(value: object, width: int, what: str) -> str:
    """A hex id; a base64 id (generic protobuf JSON) of the right byte length is decoded."""
    if type(value) is str and len(value) == width:  # the common case, checked inline
        low = value.lower()
        if _HEX_DIGITS.issuperset(low) and low != _ZEROS[width]:
            return low
    if isinstance(value, str) and len(value) != width and len(value) == 4 * ((width // 2 + 2) // 3):
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) == width // 2:
            value = raw.hex()
    if isinstance(value, str) and len(value) != width:
        raise InvalidSpanError(f"invalid {what} {value!r}: expected {width} hex digits")
    return hex_id(value, width, what)


# --- spans --------------------------------------------------------------------------------------------


def _span(raw: object, service: str, resource: Attributes, resource_origin: str) -> Span:
    if not isinstance(raw, dict):
        raise InvalidSpanError("span is not a JSON object")
    trace_id = _id(raw.get("traceId"), 32, "traceId")
    span_id = _id(raw.get("spanId"), 16, "spanId")
    parent_raw = raw.get("parentSpanId")
    parent_id = _id(parent_raw, 16, "parentSpanId") if parent_raw else None
    name = raw.get("name")
    if not isinstance(name, str):
        raise InvalidSpanError(f"name is missing or not a string: {name!r}")
    start_ns = _time_ns(raw.get("startTimeUnixNano"), "startTimeUnixNano")
    end_raw = raw.get("endTimeUnixNano")
    end_ns = _time_ns(end_raw, "endTimeUnixNano") if end_raw not in (None, "", 0, "0") else 0
    in_progress = end_ns == 0
    if in_progress:
        end_ns = start_ns
    kind = _KINDS.get(raw.get("kind", 0))
    if kind is None:
        raise InvalidSpanError(f"unknown span kind {raw.get('kind')!r}")

    attributes = attributes_from_kvlist(raw.get("attributes"))
    annotations = take_annotations(attributes)

    status_obj = raw.get("status")
    code: object = None
    message = ""
    if isinstance(status_obj, dict):
        code = status_obj.get("code")
        message = str(status_obj.get("message") or "")
    status = conv.span_status(attributes, failed=code in _STATUS_ERROR)

    events, exceptions = _events(raw.get("events"))
    namespace, remote_service = conv.downstream(kind, attributes)

    origin = attributes.get(conv.ORIGIN)  # a span's own spanscope.origin outranks its resource's
    if isinstance(origin, str) and origin:
        del attributes[conv.ORIGIN]  # it is the span's origin field now
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_id=parent_id,
        service=service,
        name=name,
        kind=kind,
        start_ns=start_ns,
        end_ns=end_ns,
        status=status,
        status_message=message,
        origin=origin if isinstance(origin, str) and origin else resource_origin,
        namespace=namespace,
        remote_service=remote_service,
        attributes=attributes,
        annotations=annotations,
        resource=resource,
        events=events,
        exceptions=exceptions,
        links=_links(raw.get("links")),
        in_progress=in_progress,
    )


def _events(raw: object) -> tuple[list[SpanEvent], list[SpanException]]:
    events: list[SpanEvent] = []
    exceptions: list[SpanException] = []
    if not isinstance(raw, list):
        return events, exceptions
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InvalidSpanError(f"events[{i}] is not a JSON object")
        time_ns = _int64(item.get("timeUnixNano", 0), f"events[{i}].timeUnixNano")
        name = str(item.get("name") or "")
        attributes = attributes_from_kvlist(item.get("attributes"))
        add_otel_event(name, time_ns, attributes, events, exceptions)
    return events, exceptions


def _links(raw: object) -> list[SpanLink]:
    links: list[SpanLink] = []
    if not isinstance(raw, list):
        return links
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InvalidSpanError(f"links[{i}] is not a JSON object")
        links.append(
            SpanLink(
                _id(item.get("traceId"), 32, f"links[{i}].traceId"),
                _id(item.get("spanId"), 16, f"links[{i}].spanId"),
                attributes_from_kvlist(item.get("attributes")),
            )
        )
    return links
