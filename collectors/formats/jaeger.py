"""Jaeger JSON (the query service's ``{"data": [trace, ...]}`` and a bare trace object) into spans.

Rules (Jaeger's JSON model, ``model/json``):

- ids shorter than 32 (trace) or 16 (span) hex digits are left-padded with zeros (Jaeger drops them);
- the first ``CHILD_OF`` reference within the same trace is the parent; every other reference
  (``FOLLOWS_FROM``, a ``CHILD_OF`` into another trace, a second ``CHILD_OF``) becomes a link whose
  ``spanscope.link.kind`` attribute is the reference type; an old-style ``parentSpanID`` field is honoured;
- the process's ``serviceName`` is the service and its tags the resource; tags become attributes;
- ``span.kind`` gives the kind; ``error=true`` (or ``otel.status_code=ERROR``) is a fault unless an HTTP
  status >= 400 says which failure it was;
- logs become events named by their ``event`` field; a log with ``event=exception``/``error`` or with
  ``exception.*``/``error.*`` fields becomes a SpanException;
- ``startTime`` and ``duration`` are microseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spanscope.collectors import conventions as conv
from spanscope.collectors.errors import InvalidSpanError
from spanscope.collectors.formats import RECORD_ERRORS, ParseResult, RecordError, hex_id, record_reason
from spanscope.collectors.model import (
    Attributes,
    AttrValue,
    Kind,
    Span,
    SpanEvent,
    SpanException,
    SpanLink,
    Status,
)

__all__ = ["parse_document", "parse_trace"]

_KINDS = {
    "server": Kind.SERVER,
    "client": Kind.CLIENT,
    "producer": Kind.PRODUCER,
    "consumer": Kind.CONSUMER,
    "internal": Kind.INTERNAL,
}
_US = 1_000
_EXCEPTION_EVENTS = frozenset(("exception", "error"))


def parse_document(doc: object) -> ParseResult:
    """Every trace of ``{"data": [...]}`` (or one bare trace object); bad spans are reported by path."""
    result = ParseResult()
    if isinstance(doc, dict) and isinstance(doc.get("data"), list):
        for i, trace in enumerate(doc["data"]):
            parse_trace(trace, f"data[{i}]", result)
    elif isinstance(doc, dict) and "spans" in doc:
        parse_trace(doc, "", result)
    else:
        result.errors.append(RecordError("", 'not a Jaeger document: expected {"data": [...]}'))
    return result


def parse_trace(trace: object, path: str, result: ParseResult) -> None:
    """Append the spans of one Jaeger trace object to ``result``."""
    if not isinstance(trace, dict):
        result.errors.append(RecordError(path, "trace is not a JSON object"))
        return
    processes_raw = trace.get("processes")
    processes: dict[str, tuple[str, Attributes]] = {}
    if isinstance(processes_raw, dict):
        for key, process in processes_raw.items():
            if isinstance(process, dict):
                name = process.get("serviceName")
                processes[str(key)] = (
                    name if isinstance(name, str) and name else "unknown_service",
                    _tags(process.get("tags")),
                )
    spans = trace.get("spans")
    prefix = f"{path}.spans" if path else "spans"
    if not isinstance(spans, list):
        result.errors.append(RecordError(prefix, "missing or not a list"))
        return
    for i, raw in enumerate(spans):
        try:
            result.spans.append(_span(raw, processes))
        except RECORD_ERRORS as exc:
            result.errors.append(RecordError(f"{prefix}[{i}]", record_reason(exc)))


def _tag_value(tag: Mapping[str, Any]) -> AttrValue:
    value = tag.get("value")
    kind = tag.get("type")
    if kind == "bool" and isinstance(value, str):
        return value.lower() == "true"
    if kind == "int64" and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return value
    if kind == "float64" and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


def _tags(raw: object) -> Attributes:
    out: Attributes = {}
    if isinstance(raw, list):
        for tag in raw:
            if isinstance(tag, dict) and isinstance(tag.get("key"), str):
                out[tag["key"]] = _tag_value(tag)
    return out


def _micros(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidSpanError(f"{what} is missing or not a number: {value!r}")
    try:
        return int(value) * _US if not isinstance(value, float) else round(value * _US)
    except ValueError:
        raise InvalidSpanError(f"{what} is not a number: {value!r}") from None


def _span(raw: object, processes: Mapping[str, tuple[str, Attributes]]) -> Span:
    if not isinstance(raw, dict):
        raise InvalidSpanError("span is not a JSON object")
    trace_id = hex_id(raw.get("traceID"), 32, "traceID")
    span_id = hex_id(raw.get("spanID"), 16, "spanID")
    name = raw.get("operationName")
    if not isinstance(name, str):
        raise InvalidSpanError(f"operationName is missing or not a string: {name!r}")
    start_ns = _micros(raw.get("startTime"), "startTime")
    end_ns = start_ns + _micros(raw.get("duration", 0), "duration")

    parent_id: str | None = None
    links: list[SpanLink] = []
    references = raw.get("references")
    if isinstance(references, list):
        for j, ref in enumerate(references):
            if not isinstance(ref, dict):
                raise InvalidSpanError(f"references[{j}] is not a JSON object")
            ref_trace = hex_id(ref.get("traceID"), 32, f"references[{j}].traceID")
            ref_span = hex_id(ref.get("spanID"), 16, f"references[{j}].spanID")
            ref_type = str(ref.get("refType") or "CHILD_OF")
            if ref_type == "CHILD_OF" and parent_id is None and ref_trace == trace_id:
                parent_id = ref_span
            else:
                links.append(SpanLink(ref_trace, ref_span, {conv.LINK_KIND: ref_type.lower()}))
    if parent_id is None and raw.get("parentSpanID") not in (None, "", "0"):
        parent_id = hex_id(raw.get("parentSpanID"), 16, "parentSpanID")

    process_id = raw.get("processID")
    process = raw.get("process")
    if isinstance(process, dict):  # embedded process (older exports)
        service_raw = process.get("serviceName")
        service = service_raw if isinstance(service_raw, str) and service_raw else "unknown_service"
        resource = _tags(process.get("tags"))
    elif isinstance(process_id, str) and process_id in processes:
        service, resource = processes[process_id]
        resource = dict(resource)
    else:
        raise InvalidSpanError(f"processID {process_id!r} names no process of this trace")
    resource.setdefault(conv.SERVICE_NAME, service)

    attributes = _tags(raw.get("tags"))
    kind_raw = attributes.pop("span.kind", None)
    kind = _KINDS.get(str(kind_raw).lower(), Kind.INTERNAL) if kind_raw is not None else Kind.INTERNAL
    error_tag = attributes.get("error")
    failed = error_tag is True or (isinstance(error_tag, str) and error_tag.lower() == "true")
    otel_code = attributes.get("otel.status_code")
    if isinstance(otel_code, str) and otel_code.upper() == "ERROR":
        failed = True
    message = attributes.get("otel.status_description")
    status = conv.span_status(attributes, failed=failed)

    events, exceptions = _logs(raw.get("logs"))
    namespace, remote_service = conv.downstream(kind, attributes)
    if not message and exceptions and status is not Status.OK:
        message = exceptions[0].message

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
        status_message=message if isinstance(message, str) else "",
        origin=conv.origin_from_resource(resource, attributes),
        namespace=namespace,
        remote_service=remote_service,
        attributes=attributes,
        resource=resource,
        events=events,
        exceptions=exceptions,
        links=links,
    )


def _logs(raw: object) -> tuple[list[SpanEvent], list[SpanException]]:
    events: list[SpanEvent] = []
    exceptions: list[SpanException] = []
    if not isinstance(raw, list):
        return events, exceptions
    for j, log in enumerate(raw):
        if not isinstance(log, dict):
            raise InvalidSpanError(f"logs[{j}] is not a JSON object")
        time_ns = _micros(log.get("timestamp", 0), f"logs[{j}].timestamp")
        fields = _tags(log.get("fields"))
        event = fields.pop("event", None)
        is_exception = (isinstance(event, str) and event.lower() in _EXCEPTION_EVENTS) or any(
            key.startswith(("exception.", "error.")) for key in fields
        )
        if is_exception:
            exceptions.append(
                SpanException(
                    type=str(fields.get("exception.type") or fields.get("error.kind") or ""),
                    message=str(
                        fields.get("exception.message") or fields.get("message") or fields.get("error.object") or ""
                    ),
                    stacktrace=str(fields.get("exception.stacktrace") or fields.get("stack") or ""),
                    time_ns=time_ns,
                )
            )
        else:
            name = event if isinstance(event, str) and event else str(fields.pop("message", "") or "log")
            events.append(SpanEvent(name, time_ns, fields))
    return events, exceptions
