"""OTLP protobuf (ExportTraceServiceRequest) ⇔ the span model, for the OTLP receivers and forwarder.

The mapping follows the OTLP JSON importer (``formats.otlp_json``) and the awsxrayexporter's rules:
``service.name`` of the resource is the service; the origin comes from ``spanscope.origin`` or
``cloud.platform``; client and producer spans name their downstream node; an HTTP status code
decides error / throttle / fault, else an OTel ERROR status is a fault. Exception events become
``SpanException`` records, other events ``SpanEvent``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status as PbStatus
from spanscope.collectors import conventions as conv
from spanscope.collectors.errors import InvalidIdError, InvalidSpanError
from spanscope.collectors.formats import (
    OTEL_EXCEPTION_EVENT,
    ParseResult,
    RecordError,
    add_otel_event,
    put_flattened,
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
    Status,
)

__all__ = ["spans_from_request", "spans_to_request"]

_KIND_FROM_PB: dict[int, Kind] = {
    PbSpan.SPAN_KIND_UNSPECIFIED: Kind.INTERNAL,
    PbSpan.SPAN_KIND_INTERNAL: Kind.INTERNAL,
    PbSpan.SPAN_KIND_SERVER: Kind.SERVER,
    PbSpan.SPAN_KIND_CLIENT: Kind.CLIENT,
    PbSpan.SPAN_KIND_PRODUCER: Kind.PRODUCER,
    PbSpan.SPAN_KIND_CONSUMER: Kind.CONSUMER,
}
_KIND_TO_PB: dict[Kind, int] = {
    Kind.INTERNAL: PbSpan.SPAN_KIND_INTERNAL,
    Kind.SERVER: PbSpan.SPAN_KIND_SERVER,
    Kind.CLIENT: PbSpan.SPAN_KIND_CLIENT,
    Kind.PRODUCER: PbSpan.SPAN_KIND_PRODUCER,
    Kind.CONSUMER: PbSpan.SPAN_KIND_CONSUMER,
}
_UNKNOWN_SERVICE = "unknown_service"
_DOWNSTREAM_KINDS = frozenset((Kind.CLIENT, Kind.PRODUCER))  # conv.downstream is ("", "") for the others


# --- protobuf -> model --------------------------------------------------------------------------------


def _scalar(value: AnyValue) -> AttrValue:
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "int_value":
        return value.int_value
    if which == "bool_value":
        return value.bool_value
    if which == "double_value":
        return value.double_value
    if which == "array_value":  # arrays of arrays stay nested (protobuf's parser bounds the depth at 100)
        return [_scalar(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return json.dumps(_plain(value), sort_keys=True, default=str)
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return None


def _plain(value: AnyValue) -> Any:
    """A JSON-able rendering of a nested AnyValue (kvlists inside arrays). Iterative."""
    root: list[Any] = [None]
    stack: list[tuple[AnyValue, list[Any] | dict[str, Any], int | str]] = [(value, root, 0)]
    while stack:
        node, holder, slot = stack.pop()
        which = node.WhichOneof("value")
        if which == "kvlist_value":
            mapping: dict[str, Any] = {}
            holder[slot] = mapping  # type: ignore[index]
            for kv in node.kvlist_value.values:
                mapping[kv.key] = None
                stack.append((kv.value, mapping, kv.key))
        elif which == "array_value":
            seq: list[Any] = [None] * len(node.array_value.values)
            holder[slot] = seq  # type: ignore[index]
            for i, item in enumerate(node.array_value.values):
                stack.append((item, seq, i))
        else:
            holder[slot] = _scalar(node)  # type: ignore[index]
    return root[0]


def _attributes(kvs: Iterable[KeyValue]) -> Attributes:
    """Attributes as the OTLP JSON importer reads them: nested kvlists become dotted keys."""
    out: Attributes = {}
    stack: list[tuple[str, Iterable[KeyValue]]] = []
    for kv in kvs:  # the common flat case first, without the stack
        value = kv.value
        which = value.WhichOneof("value")
        if which == "string_value":
            out[kv.key] = value.string_value
        elif which == "int_value":
            out[kv.key] = value.int_value
        elif which == "kvlist_value":
            stack.append((kv.key, value.kvlist_value.values))
        else:
            out[kv.key] = _scalar(value)
    while stack:
        base, items = stack.pop()
        for kv in items:
            key = f"{base}.{kv.key}" if base else kv.key
            if kv.value.WhichOneof("value") == "kvlist_value":
                stack.append((key, kv.value.kvlist_value.values))
            else:  # a real dotted key (set above, first) keeps its value; this one takes key#2
                put_flattened(out, key, _scalar(kv.value))
    return out


_STATUS_ERROR = PbStatus.STATUS_CODE_ERROR


_ZERO_TRACE = bytes(16)
_ZERO_SPAN = bytes(8)


def _span(pb: PbSpan, service: str, resource: Attributes, resource_origin: str) -> Span:
    """One span; each protobuf field is read once (every read of a upb field builds a Python object)."""
    trace_id = pb.trace_id
    if len(trace_id) != 16 or trace_id == _ZERO_TRACE:
        raise InvalidIdError(f"invalid trace id {trace_id.hex()!r}: expected 16 non-zero bytes")
    span_id = pb.span_id
    if len(span_id) != 8 or span_id == _ZERO_SPAN:
        raise InvalidIdError(f"invalid span id {span_id.hex()!r}: expected 8 non-zero bytes")
    parent = pb.parent_span_id
    if parent and (len(parent) != 8 or parent == _ZERO_SPAN):
        raise InvalidIdError(f"invalid parent span id {parent.hex()!r}: expected 8 bytes")
    start = pb.start_time_unix_nano
    end = pb.end_time_unix_nano
    if start >= 2**63 or end >= 2**63:  # fixed64, but the store's columns are signed 64-bit
        raise InvalidSpanError(f"span times out of range: start {start}, end {end}")
    attributes = _attributes(pb.attributes)
    kind = _KIND_FROM_PB.get(pb.kind, Kind.INTERNAL)
    if kind in _DOWNSTREAM_KINDS:  # conv.downstream's rule, its kind test already made
        namespace, remote = conv.remote_from_attributes(attributes)
        if not remote:
            namespace = ""
    else:
        namespace = remote = ""
    events: list[SpanEvent] = []
    exceptions: list[SpanException] = []
    pb_events = pb.events
    if pb_events:
        for ev in pb_events:
            add_otel_event(ev.name, ev.time_unix_nano, _attributes(ev.attributes), events, exceptions)
    pb_links = pb.links
    links = (
        [
            SpanLink(link.trace_id.hex(), link.span_id.hex(), _attributes(link.attributes))
            for link in pb_links
            if len(link.trace_id) == 16 and len(link.span_id) == 8
        ]
        if pb_links
        else []
    )
    annotations = take_annotations(attributes) if conv.XRAY_ANNOTATIONS_KEY in attributes else {}
    explicit_origin = attributes.get(conv.ORIGIN)
    origin = explicit_origin if isinstance(explicit_origin, str) and explicit_origin else resource_origin
    status = pb.status
    failed = status.code == _STATUS_ERROR
    if conv.HTTP_STATUS in attributes or conv.HTTP_STATUS_OLD in attributes:
        span_status = conv.span_status(attributes, failed=failed)
    else:  # no HTTP status to decide which failure: conv.span_status's answer without the calls
        span_status = Status.FAULT if failed else Status.OK
    return Span(
        trace_id.hex(),
        span_id.hex(),
        parent.hex() if parent else None,
        service,
        pb.name,
        kind,
        start,
        end if end else start,
        span_status,
        status.message,
        origin,
        namespace,
        remote,
        attributes,
        annotations,
        resource,
        events,
        exceptions,
        links,
        end == 0,
    )


def spans_from_request(req: ExportTraceServiceRequest) -> ParseResult:
    """Every span of an OTLP request; a span that cannot be converted is a RecordError, not a failure.

    Positions read ``resource_spans[i].scope_spans[j].spans[k]``.
    """
    spans: list[Span] = []
    errors: list[RecordError] = []
    for i, rs in enumerate(req.resource_spans):
        resource = _attributes(rs.resource.attributes)
        service_value = resource.get(conv.SERVICE_NAME)
        service = service_value if isinstance(service_value, str) and service_value else _UNKNOWN_SERVICE
        resource_origin = conv.origin_from_resource(resource, {})
        for j, ss in enumerate(rs.scope_spans):
            for k, pb in enumerate(ss.spans):
                try:
                    spans.append(_span(pb, service, resource, resource_origin))
                except (ValueError, TypeError) as exc:
                    errors.append(RecordError(f"resource_spans[{i}].scope_spans[{j}].spans[{k}]", str(exc)))
    return ParseResult(spans=spans, errors=errors)


# --- model -> protobuf --------------------------------------------------------------------------------


def _any_value(value: AttrValue, out: AnyValue) -> None:
    if isinstance(value, bool):
        out.bool_value = value
    elif isinstance(value, int):
        if -(2**63) <= value < 2**63:
            out.int_value = value
        else:
            out.string_value = str(value)
    elif isinstance(value, float):
        out.double_value = value
    elif isinstance(value, str):
        out.string_value = value
    elif isinstance(value, list):
        array = out.array_value
        for item in value:
            _any_value(item, array.values.add())
    # None: left empty (OTLP's "empty value")


def _fill(attributes: Mapping[str, AttrValue], target: Any) -> None:
    for key, value in attributes.items():
        kv = target.add()
        kv.key = key
        _any_value(value, kv.value)


def _pb_span(span: Span, out: PbSpan) -> None:
    out.trace_id = bytes.fromhex(span.trace_id)
    out.span_id = bytes.fromhex(span.span_id)
    if span.parent_id:
        out.parent_span_id = bytes.fromhex(span.parent_id)
    out.name = span.name
    out.kind = _KIND_TO_PB[Kind(span.kind)]  # type: ignore[assignment]
    out.start_time_unix_nano = span.start_ns
    out.end_time_unix_nano = 0 if span.in_progress else span.end_ns
    attributes: dict[str, AttrValue] = dict(span.attributes)
    for key, value in span.annotations.items():
        attributes.setdefault(key, value)
    if span.annotations:
        attributes[conv.XRAY_ANNOTATIONS_KEY] = list(span.annotations)
    if span.origin and conv.ORIGIN not in attributes and span.origin != conv.origin_from_resource(span.resource, {}):
        attributes[conv.ORIGIN] = span.origin  # only when the resource does not already imply it
    _fill(attributes, out.attributes)
    for ev in span.events:
        pe = out.events.add()
        pe.name = ev.name
        pe.time_unix_nano = ev.time_ns
        _fill(ev.attributes, pe.attributes)
    for exc in span.exceptions:
        pe = out.events.add()
        pe.name = OTEL_EXCEPTION_EVENT
        pe.time_unix_nano = exc.time_ns or span.end_ns
        _fill(
            {"exception.type": exc.type, "exception.message": exc.message, "exception.stacktrace": exc.stacktrace},
            pe.attributes,
        )
    for link in span.links:
        pl = out.links.add()
        pl.trace_id = bytes.fromhex(link.trace_id)
        pl.span_id = bytes.fromhex(link.span_id)
        _fill(link.attributes, pl.attributes)
    if span.status is not Status.OK:
        out.status.code = PbStatus.STATUS_CODE_ERROR
    if span.status_message:
        out.status.message = span.status_message


def spans_to_request(spans: Sequence[Span], *, scope_name: str = "spanscope.collector") -> ExportTraceServiceRequest:
    """An OTLP request carrying ``spans``, one ResourceSpans per (service, resource)."""
    req = ExportTraceServiceRequest()
    groups: dict[str, tuple[ResourceSpans, ScopeSpans]] = {}
    for span in spans:
        resource = dict(span.resource)
        if span.service:
            resource[conv.SERVICE_NAME] = span.service
        key = json.dumps(resource, sort_keys=True, default=str)
        held = groups.get(key)
        if held is None:
            rs = req.resource_spans.add()
            _fill(resource, rs.resource.attributes)
            ss = rs.scope_spans.add()
            ss.scope.CopyFrom(InstrumentationScope(name=scope_name))
            held = groups[key] = (rs, ss)
        _pb_span(span, held[1].spans.add())
    return req
