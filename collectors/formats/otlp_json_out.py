"""Model spans out to OTLP JSON (ExportTraceServiceRequest), for `spanscope export --format otlp-json`.

Ids are hex, 64-bit integers are strings, exceptions become ``exception`` events, annotations are
attributes listed under ``aws.xray.annotations`` (the awsxrayexporter's convention), and the status is
OTel's (ERROR for error/fault/throttle; the HTTP status attribute keeps X-Ray's distinction).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from spanscope.collectors import conventions as conv
from spanscope.collectors.formats import OTEL_EXCEPTION_EVENT
from spanscope.collectors.model import AttrValue, Kind, Span, Status

_KIND_NUMBERS = {Kind.INTERNAL: 1, Kind.SERVER: 2, Kind.CLIENT: 3, Kind.PRODUCER: 4, Kind.CONSUMER: 5}


_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def json_double(value: float) -> float | str:
    """A double as OTLP JSON (proto3 JSON) writes it: a number, or "NaN", "Infinity", "-Infinity".

    >>> json_double(0.5), json_double(float("nan")), json_double(float("-inf"))
    (0.5, 'NaN', '-Infinity')
    """
    return value if math.isfinite(value) else _NON_FINITE[repr(value)]


def json_attributes(attributes: Mapping[str, AttrValue]) -> Mapping[str, Any]:
    """Attributes for a JSON document: non-finite doubles (in nested arrays too) written as ``json_double`` does.

    The mapping itself when it has none (the common case, no copy).
    """
    for value in attributes.values():  # a plain loop: this runs for every attribute map of every span shown
        if type(value) is list or (isinstance(value, float) and not math.isfinite(value)):
            break
    else:
        return attributes
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        if type(value) is float:
            out[key] = json_double(value)
        elif isinstance(value, list):
            out[key] = _json_list(value)
        else:
            out[key] = value
    return out


def _json_list(items: list[AttrValue]) -> list[Any]:
    """A copy of a (possibly nested) attribute array with non-finite doubles as strings (iterative)."""
    root: list[Any] = []
    stack: list[tuple[list[AttrValue], list[Any]]] = [(items, root)]
    while stack:
        source, target = stack.pop()
        for item in source:
            if isinstance(item, list):
                nested: list[Any] = []
                target.append(nested)
                stack.append((item, nested))
            else:
                target.append(json_double(item) if type(item) is float else item)
    return root


def any_value(value: AttrValue) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": json_double(value)}
    if isinstance(value, list):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    if value is None:
        return {}
    return {"stringValue": str(value)}


def key_values(attributes: Mapping[str, AttrValue]) -> list[dict[str, Any]]:
    return [{"key": key, "value": any_value(value)} for key, value in attributes.items()]


def span_to_otlp(span: Span) -> dict[str, Any]:
    attributes: dict[str, AttrValue] = dict(span.attributes)
    if span.annotations:
        attributes.update(span.annotations)
        attributes[conv.XRAY_ANNOTATIONS_KEY] = list(span.annotations)
    if span.origin and span.origin != conv.origin_from_resource(span.resource, {}):
        attributes[conv.ORIGIN] = span.origin
    events = [
        {"name": e.name, "timeUnixNano": str(e.time_ns), "attributes": key_values(e.attributes)} for e in span.events
    ]
    for x in span.exceptions:
        exc_attrs: dict[str, AttrValue] = {"exception.type": x.type, "exception.message": x.message}
        if x.stacktrace:
            exc_attrs["exception.stacktrace"] = x.stacktrace
        events.append(
            {
                "name": OTEL_EXCEPTION_EVENT,
                "timeUnixNano": str(x.time_ns if x.time_ns is not None else span.end_ns),
                "attributes": key_values(exc_attrs),
            }
        )
    doc: dict[str, Any] = {
        "traceId": span.trace_id,
        "spanId": span.span_id,
        "name": span.name,
        "kind": _KIND_NUMBERS[span.kind],
        "startTimeUnixNano": str(span.start_ns),
        "endTimeUnixNano": "0" if span.in_progress else str(span.end_ns),
        "attributes": key_values(attributes),
        "events": events,
        "links": [
            {"traceId": lk.trace_id, "spanId": lk.span_id, "attributes": key_values(lk.attributes)} for lk in span.links
        ],
        "status": {"code": 2 if span.status is not Status.OK else 0, "message": span.status_message},
    }
    if span.parent_id:
        doc["parentSpanId"] = span.parent_id
    return doc


def request_from_spans(spans: Iterable[Span]) -> dict[str, Any]:
    """One ExportTraceServiceRequest grouping spans by (service, resource)."""
    groups: dict[bytes, tuple[dict[str, AttrValue], list[dict[str, Any]]]] = {}
    for span in spans:
        resource = dict(span.resource)
        resource.setdefault(conv.SERVICE_NAME, span.service)
        if resource.get(conv.SERVICE_NAME) != span.service:
            resource[conv.SERVICE_NAME] = span.service
        key = orjson.dumps(resource, option=orjson.OPT_SORT_KEYS)
        groups.setdefault(key, (resource, []))[1].append(span_to_otlp(span))
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": key_values(resource)},
                "scopeSpans": [{"scope": {"name": "spanscope.export"}, "spans": docs}],
            }
            for resource, docs in groups.values()
        ]
    }
