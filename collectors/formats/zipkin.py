"""Zipkin v2 JSON (a list of spans as ``POST /api/v2/spans`` takes it, or ``/api/v2/traces``' list of lists).

Rules (Zipkin's v2 model):

- 64-bit trace ids are left-padded to 32 hex digits; ``timestamp`` and ``duration`` are microseconds;
- ``localEndpoint.serviceName`` is the service; a CLIENT/PRODUCER span's ``remoteEndpoint.serviceName``
  names its downstream node (``remote`` namespace), else the tags do (``remote_from_attributes``);
- ``annotations`` become events; ``tags`` become attributes; an ``error`` tag is a fault unless an HTTP
  status >= 400 says which failure it was (its value becomes the status message);
- **fragments.** Zipkin lets one span be reported in parts (a tracer that reports the start and the end
  separately, a proxy that adds tags later). As Zipkin's own UI does before drawing a trace, fragments with
  the same trace id and span id are merged when one of them lacks ``timestamp`` or ``duration`` and they
  do not contradict each other (same ``shared`` flag, same kind and local service where both say one):
  missing fields are filled from the other fragment, tags and annotations are united (the first fragment
  wins a conflict). A merged span still without ``timestamp`` takes its interval from its annotations;
  only a span with neither is reported (once, at the position of its first fragment).
- **shared span ids.** Zipkin lets an RPC's client and server halves share one span id (the server half
  says ``"shared": true``). The model needs distinct ids, so when both halves are in the input the server
  half gets a derived id: ``server_half_id(id)``, the first 16 hex digits of SHA-256 over
  ``"zipkin-shared:" + id``. It is parented to the client half (the original id). Spans of the server's
  service whose parent is the shared id are re-parented to the server half. A shared SERVER half with no
  CLIENT half in the input (Envoy's and a gateway's root span: the caller is not instrumented) keeps its
  own id and parent, so its children stay attached to it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from spanscope.collectors import conventions as conv
from spanscope.collectors.errors import InvalidSpanError
from spanscope.collectors.formats import RECORD_ERRORS, ParseResult, RecordError, hex_id, record_reason
from spanscope.collectors.model import (
    Attributes,
    Kind,
    Span,
    SpanEvent,
)

__all__ = ["parse_spans", "server_half_id"]

_KINDS = {
    "SERVER": Kind.SERVER,
    "CLIENT": Kind.CLIENT,
    "PRODUCER": Kind.PRODUCER,
    "CONSUMER": Kind.CONSUMER,
}
_US = 1_000


def server_half_id(span_id: str) -> str:
    """The derived id of the server half of a shared Zipkin span (deterministic, never all zeros).

    >>> server_half_id("74280ae0c10d8062") == server_half_id("74280ae0c10d8062") != "74280ae0c10d8062"
    True
    """
    digest = hashlib.sha256(f"zipkin-shared:{span_id}".encode()).hexdigest()
    return digest[:16] if digest[:16] != "0" * 16 else digest[16:32]


def parse_spans(doc: object, base: str = "") -> ParseResult:
    """Every span of a Zipkin v2 list (or of a list of such lists, as ``/api/v2/traces`` returns);
    bad spans are reported by index (``[i]``, ``[i][j]``) and skipped."""
    result = ParseResult()
    if not isinstance(doc, list):
        result.errors.append(RecordError(base, "not a Zipkin v2 span list"))
        return result
    if doc and all(isinstance(item, list) for item in doc):  # GET /api/v2/traces: a list of traces
        for i, trace in enumerate(doc):
            result.extend(parse_spans(trace, f"{base}[{i}]"))
        return result
    converted: list[tuple[Span, bool]] = []
    for i, raw in _merge_fragments(doc):
        try:
            converted.append(_span(raw))
        except RECORD_ERRORS as exc:
            result.errors.append(RecordError(f"{base}[{i}]", record_reason(exc)))
    result.spans = _split_shared(converted)
    return result


def _split_shared(converted: Sequence[tuple[Span, bool]]) -> list[Span]:
    clients = {(s.trace_id, s.span_id) for s, _ in converted if s.kind is Kind.CLIENT}
    # (trace, shared id, server service) -> derived id of the server half
    halves: dict[tuple[str, str], dict[str, str]] = {}
    for span, _shared in converted:
        key = (span.trace_id, span.span_id)
        if span.kind is Kind.SERVER and key in clients:
            derived = server_half_id(span.span_id)
            halves.setdefault(key, {})[span.service] = derived
            span.attributes["zipkin.shared_span_id"] = span.span_id
            span.parent_id = span.span_id
            span.span_id = derived
    if not halves:
        return [s for s, _ in converted]
    for span, _ in converted:
        if span.parent_id is None or "zipkin.shared_span_id" in span.attributes:
            continue
        by_service = halves.get((span.trace_id, span.parent_id))
        if by_service and span.service in by_service:
            span.parent_id = by_service[span.service]
    return [s for s, _ in converted]


def _fragment_key(raw: object) -> tuple[str, str] | None:
    if not isinstance(raw, dict):
        return None
    trace_id, span_id = raw.get("traceId"), raw.get("id")
    if not isinstance(trace_id, str) or not isinstance(span_id, str):
        return None
    return trace_id.lower().zfill(32), span_id.lower().zfill(16)


def _incomplete(raw: dict[str, Any]) -> bool:
    return raw.get("timestamp") is None or raw.get("duration") is None


def _compatible(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Two fragments of one span: one is incomplete and nothing they both say disagrees."""
    if not (_incomplete(a) or _incomplete(b)) or (a.get("shared") is True) != (b.get("shared") is True):
        return False
    kind_a, kind_b = a.get("kind"), b.get("kind")
    if kind_a and kind_b and str(kind_a).upper() != str(kind_b).upper():
        return False
    service_a, service_b = _endpoint_service(a.get("localEndpoint")), _endpoint_service(b.get("localEndpoint"))
    return not (service_a and service_b and service_a != service_b)


def _merged(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Fragment ``a`` completed by fragment ``b`` (``a`` wins where both say something)."""
    out = dict(a)
    for key, value in b.items():
        held = out.get(key)
        if key == "tags" and isinstance(value, dict):
            out[key] = {**value, **held} if isinstance(held, dict) else value
        elif key == "annotations" and isinstance(value, list):
            mine = held if isinstance(held, list) else []
            out[key] = mine + [item for item in value if item not in mine]
        elif key in ("localEndpoint", "remoteEndpoint") and isinstance(value, dict) and isinstance(held, dict):
            out[key] = {**value, **held}
        elif held is None or held == "" or (key == "name" and held == "unknown"):
            out[key] = value
    return out


def _merge_fragments(doc: list[Any]) -> list[tuple[int, object]]:
    """(position of the first fragment, span) with the fragments of each span merged (see the module doc)."""
    out: list[tuple[int, object]] = []
    groups: dict[tuple[str, str], list[int]] = {}
    for i, raw in enumerate(doc):
        key = _fragment_key(raw)
        if key is None:
            out.append((i, raw))
            continue
        for slot in groups.get(key, ()):
            first, held = out[slot]
            if isinstance(held, dict) and _compatible(held, raw):
                out[slot] = (first, _merged(held, raw))
                break
        else:
            groups.setdefault(key, []).append(len(out))
            out.append((i, raw))
    return out


def _annotation_interval(raw: object) -> tuple[int, int] | None:
    """(first, last) annotation timestamp in microseconds, for a span reported without ``timestamp``."""
    if not isinstance(raw, list):
        return None
    stamps = [
        item["timestamp"]
        for item in raw
        if isinstance(item, dict)
        and isinstance(item.get("timestamp"), (int, float))
        and not isinstance(item.get("timestamp"), bool)
    ]
    return (int(min(stamps)), int(max(stamps))) if stamps else None


def _micros(value: object, what: str, default: int | None = None) -> int:
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidSpanError(f"{what} is missing or not a number: {value!r}")
    return int(value) * _US


def _endpoint_service(endpoint: object) -> str:
    if isinstance(endpoint, dict):
        name = endpoint.get("serviceName")
        if isinstance(name, str):
            return name
    return ""


def _span(raw: object) -> tuple[Span, bool]:
    if not isinstance(raw, dict):
        raise InvalidSpanError("span is not a JSON object")
    trace_id = hex_id(raw.get("traceId"), 32, "traceId")
    span_id = hex_id(raw.get("id"), 16, "id")
    parent_raw = raw.get("parentId")
    parent_id = hex_id(parent_raw, 16, "parentId") if parent_raw else None
    interval = _annotation_interval(raw.get("annotations")) if raw.get("timestamp") is None else None
    if interval is not None:
        start_ns, end_ns = interval[0] * _US, interval[1] * _US
    else:
        start_ns = _micros(raw.get("timestamp"), "timestamp")
        end_ns = start_ns + _micros(raw.get("duration"), "duration", default=0)
    kind_raw = raw.get("kind")
    kind = _KINDS.get(str(kind_raw).upper(), Kind.INTERNAL) if kind_raw else Kind.INTERNAL
    name = raw.get("name")
    name = name if isinstance(name, str) else ""

    local = raw.get("localEndpoint")
    service = _endpoint_service(local) or "unknown_service"
    resource: Attributes = {conv.SERVICE_NAME: service}
    if isinstance(local, dict):
        for key in ("ipv4", "ipv6", "port"):
            value = local.get(key)
            if isinstance(value, (str, int)) and not isinstance(value, bool):
                resource[f"zipkin.local_endpoint.{key}"] = value

    attributes: Attributes = {}
    tags = raw.get("tags")
    if isinstance(tags, dict):
        for key, value in tags.items():
            attributes[str(key)] = value if isinstance(value, (str, bool, int, float)) else str(value)
    remote = raw.get("remoteEndpoint")
    if isinstance(remote, dict):
        for key in ("serviceName", "ipv4", "ipv6", "port"):
            value = remote.get(key)
            if isinstance(value, (str, int)) and not isinstance(value, bool):
                attributes[f"zipkin.remote_endpoint.{key}"] = value
    if raw.get("debug") is True:
        attributes["zipkin.debug"] = True

    error = attributes.get("error")
    status = conv.span_status(attributes, failed=error is not None)

    namespace = remote_service = ""
    if kind in (Kind.CLIENT, Kind.PRODUCER):
        named = _endpoint_service(remote)
        if named:
            namespace, remote_service = "remote", named
        else:
            namespace, remote_service = conv.downstream(kind, attributes)

    span = Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_id=parent_id,
        service=service,
        name=name,
        kind=kind,
        start_ns=start_ns,
        end_ns=end_ns,
        status=status,
        status_message=str(error) if error not in (None, "", True, "true") else "",
        origin=conv.origin_from_resource(resource, attributes),
        namespace=namespace,
        remote_service=remote_service,
        attributes=attributes,
        resource=resource,
        events=_annotations(raw.get("annotations")),
    )
    return span, raw.get("shared") is True


def _annotations(raw: Any) -> list[SpanEvent]:
    events: list[SpanEvent] = []
    if not isinstance(raw, list):
        return events
    for j, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InvalidSpanError(f"annotations[{j}] is not a JSON object")
        events.append(
            SpanEvent(str(item.get("value") or ""), _micros(item.get("timestamp"), f"annotations[{j}].timestamp"))
        )
    return events
