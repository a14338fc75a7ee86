"""AWS X-Ray segment documents (segments, nested and independent subsegments) converted into spans.

Rules (following the X-Ray segment document schema and the awsxrayreceiver's translation):

- a segment becomes a ``server`` span whose service is the segment's ``name``; its nested subsegments
  become spans of the same service, parented to the enclosing (sub)segment;
- an independently sent subsegment (``"type": "subsegment"`` with ``trace_id`` and ``parent_id``) keeps
  service ``""``: the store gives it its nearest ancestor's service when it is read back (without a
  ``parent_id`` it is a root and its ``name`` is also its service);
- an ``inferred`` segment (added by X-Ray to ``BatchGetTraces`` output for a downstream node) gives no
  spans: the client subsegment it was inferred from already names that node;
- a subsegment with ``namespace`` ``aws`` or ``remote`` is a ``client`` span calling an inferred
  downstream node named by the subsegment (``remote_service``); AWS calls also get ``rpc.*`` attributes;
- ``http`` request/response become the conventions' attribute names; status comes from the
  ``error``/``throttle``/``fault`` flags, else from the HTTP status, else ``fault`` when an exception
  was recorded; ``cause.exceptions`` become SpanExceptions;
- ``annotations`` stay annotations; ``metadata`` of the ``default`` namespace become attributes (that is
  where OpenTelemetry's X-Ray exporters put span attributes), other namespaces are flattened to
  ``metadata.<namespace>.<key...>``;
  the ``aws`` block to ``aws.<key...>``, ``sql`` to ``sql.<key...>``; the segment's ``service`` block
  (``service.version``, ``process.runtime.*``) and the ``aws`` blocks that describe the process
  (``aws.xray.sdk``, ``aws.ec2.*``, ``aws.elastic_beanstalk.*``, ...) are also its resource;
- times are Unix seconds converted to integer nanoseconds exactly as written (no float drift); an
  ``in_progress`` document without ``end_time`` ends at its start.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spanscope.collectors import conventions as conv
from spanscope.collectors.errors import InvalidIdError, InvalidSpanError
from spanscope.collectors.formats import flatten_into, hex_id, seconds_to_ns
from spanscope.collectors.model import (
    AnnotationValue,
    Attributes,
    Kind,
    Span,
    SpanException,
    SpanLink,
    Status,
    normalize_trace_id,
    status_from_flags,
    status_from_http,
)

__all__ = ["spans_from_document"]

_REMOTE_NAMESPACES = frozenset(("aws", "remote"))
_HEX_DIGITS = frozenset("0123456789abcdef")
_ZERO_ID = "0" * 16
_SCALARS = frozenset((str, int, float, bool))
_HTTP_REQUEST_NAMES = {
    "method": conv.HTTP_METHOD,
    "url": conv.HTTP_URL,
    "user_agent": conv.HTTP_USER_AGENT,
    "client_ip": conv.HTTP_CLIENT_IP,
}
_HTTP_RESPONSE_NAMES = {
    "status": conv.HTTP_STATUS,
    "content_length": "http.response.body.size",
}
# aws block keys with a conventions name of their own (they are also kept as aws.<key>).
_AWS_NAMES = {
    "queue_url": conv.AWS_QUEUE_URL,
}
# The segment's ``service`` block, in OTel resource names.
_SERVICE_NAMES = {
    "version": "service.version",
    "runtime": "process.runtime.name",
    "runtime_version": "process.runtime.version",
}
# Keys of the aws block that describe the process rather than the call: kept in the resource too.
_AWS_RESOURCE_BLOCKS = ("xray", "ec2", "ecs", "eks", "elastic_beanstalk", "cloudwatch_logs")


def spans_from_document(doc: Mapping[str, Any]) -> list[Span]:
    """The spans of ONE X-Ray segment document (a segment or an independent subsegment).

    Nested subsegments are walked iteratively. Raises InvalidSpanError naming the JSON path of the
    first problem (the whole document is rejected: its spans would be inconsistent otherwise).

    >>> doc = {"name": "api", "id": "70de5b6f19ff9a0a", "trace_id": "1-581cf771-a006649127e371903a2de979",
    ...        "start_time": 1478293361.271, "end_time": 1478293361.449,
    ...        "subsegments": [{"name": "DynamoDB", "id": "70de5b6f19ff9a0b", "namespace": "aws",
    ...                         "start_time": 1478293361.3, "end_time": 1478293361.4}]}
    >>> [(s.service, s.name, s.kind.value, s.remote_service) for s in spans_from_document(doc)]
    [('api', 'api', 'server', ''), ('api', 'DynamoDB', 'client', 'DynamoDB')]
    """
    if not isinstance(doc, dict):
        if not isinstance(doc, Mapping):
            raise InvalidSpanError(f"segment document is not a JSON object but {type(doc).__name__}")
        doc = dict(doc)
    independent = doc.get("type") == "subsegment"
    raw_trace = doc.get("trace_id")
    if raw_trace is None:
        raise InvalidSpanError("trace_id is missing")
    try:
        trace_id = normalize_trace_id(raw_trace)
    except InvalidIdError as exc:
        raise InvalidSpanError(str(exc)) from None
    if doc.get("inferred") is True:
        return []
    top_parent: str | None = None
    raw_parent = doc.get("parent_id")
    if raw_parent is not None and raw_parent != "":
        top_parent = hex_id(raw_parent, 16, "parent_id")
    # A subsegment sent on its own takes its service from its ancestors (the store fills it in);
    # one without a parent has no ancestor, so it stands for its own service like a segment does.
    service = "" if independent and top_parent else _text(doc.get("name"), "name")
    resource = {} if independent else _resource(doc, service)

    spans: list[Span] = []
    # (node, parent span id, JSON path, is the document's top node)
    stack: list[tuple[object, str | None, str, bool]] = [(doc, top_parent, "", True)]
    while stack:
        node, parent_id, path, top = stack.pop()
        if not isinstance(node, dict):
            raise InvalidSpanError(f"{path or 'document'} is not a JSON object")
        try:
            span = _convert(node, trace_id, parent_id, service, resource, top and not independent)
        except InvalidSpanError as exc:
            raise InvalidSpanError(f"{path}: {exc}" if path else str(exc)) from None
        spans.append(span)
        subsegments = node.get("subsegments")
        if subsegments:
            if not isinstance(subsegments, list):
                raise InvalidSpanError(f"{path + '.' if path else ''}subsegments is not a list")
            base = f"{path}.subsegments" if path else "subsegments"
            for i in range(len(subsegments) - 1, -1, -1):
                stack.append((subsegments[i], span.span_id, f"{base}[{i}]", False))
    return spans


_INT64_MAX = 2**63 - 1


def _time_ns(value: object, what: str) -> int:
    """``seconds_to_ns`` with the common case inline: a float of plain digits (what the SDKs send)."""
    if type(value) is float:
        whole, _dot, frac = repr(value).partition(".")
        if len(frac) <= 9 and frac.isdigit() and whole.isdigit():
            ns = int(whole) * 1_000_000_000 + int(frac.ljust(9, "0"))
            if ns <= _INT64_MAX:
                return ns
    return seconds_to_ns(value, what)


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidSpanError(f"{what} is missing or not a string: {value!r}")
    return value


def _resource(doc: Mapping[str, Any], service: str) -> Attributes:
    resource: Attributes = {conv.SERVICE_NAME: service}
    svc = doc.get("service")
    if isinstance(svc, dict):
        for key, value in svc.items():
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                resource[_SERVICE_NAMES.get(key, f"service.{key}")] = value
    aws = doc.get("aws")
    if isinstance(aws, dict):
        for block in _AWS_RESOURCE_BLOCKS:
            if block in aws:
                flatten_into(resource, f"aws.{block}", aws[block])
    return resource


def _convert(
    node: Mapping[str, Any],
    trace_id: str,
    parent_id: str | None,
    service: str,
    resource: Attributes,
    is_segment: bool,
) -> Span:
    raw_id = node.get("id")
    if type(raw_id) is str and len(raw_id) == 16 and _HEX_DIGITS.issuperset(raw_id) and raw_id != _ZERO_ID:
        span_id = raw_id  # the common case, checked inline
    else:
        span_id = hex_id(raw_id, 16, "id")
    name = node.get("name")
    if type(name) is not str or not name:
        name = _text(name, "name")
    if "start_time" not in node:
        raise InvalidSpanError("start_time is missing")
    start_ns = _time_ns(node["start_time"], "start_time")
    in_progress = node.get("in_progress") is True
    end = node.get("end_time")
    if end is None:
        if not in_progress:
            raise InvalidSpanError("end_time is missing and the document is not in_progress")
        end_ns = start_ns
    else:
        end_ns = _time_ns(end, "end_time")

    namespace = node.get("namespace")
    namespace = namespace if isinstance(namespace, str) else ""
    remote = namespace in _REMOTE_NAMESPACES
    if is_segment:
        kind = Kind.SERVER
    elif remote:
        kind = Kind.CLIENT
    else:
        kind = Kind.INTERNAL

    attributes: Attributes = {}
    http_code = _http(node.get("http"), attributes)
    aws = node.get("aws")
    if isinstance(aws, dict) and aws:
        for key, value in aws.items():
            if value is None or type(value) in _SCALARS:
                attributes[f"aws.{key}"] = value
            else:
                flatten_into(attributes, f"aws.{key}", value)
        for key, attr in _AWS_NAMES.items():
            if key in aws and isinstance(aws[key], str):
                attributes[attr] = aws[key]
    if namespace == "aws":
        attributes[conv.RPC_SYSTEM] = "aws-api"
        attributes[conv.RPC_SERVICE] = name
        operation = attributes.get(conv.AWS_OPERATION)
        if isinstance(operation, str):
            attributes[conv.RPC_METHOD] = operation
    sql = node.get("sql")
    if isinstance(sql, dict) and sql:
        flatten_into(attributes, "sql", sql)
    user = node.get("user")
    if isinstance(user, str) and user:
        attributes[conv.USER] = user
    metadata = node.get("metadata")
    span_name = name
    if isinstance(metadata, dict) and metadata:
        flatten_into(attributes, "metadata", metadata)
        # What OpenTelemetry's X-Ray exporters keep of the span that the document's shape cannot say.
        for name_key in ("metadata.default.otel.span.name", "metadata.default.spanscope.operation"):
            original = attributes.pop(name_key, None)
            if isinstance(original, str) and original:
                span_name = original
        kind = _KIND_NAMES.get(str(attributes.pop("metadata.default.otel.span.kind", "")).lower(), kind)
        # OpenTelemetry's X-Ray exporters (and ours, forwarding) write span attributes as metadata of the
        # "default" namespace: read them back as attributes. Other namespaces stay metadata.<ns>.<key>.
        for key in [k for k in attributes if k.startswith(_DEFAULT_METADATA)]:
            plain = key[len(_DEFAULT_METADATA) :]
            value = attributes.pop(key)
            attributes.setdefault(plain, value)
    precursors = node.get("precursor_ids")
    if isinstance(precursors, list) and precursors:
        attributes["aws.xray.precursor_ids"] = [str(p) for p in precursors]
    if is_segment:
        for key in ("service.version", "process.runtime.name", "process.runtime.version"):
            if key in resource:
                attributes.setdefault(key, resource[key])

    cause = node.get("cause")
    exceptions = _exceptions(cause) if cause else []
    error = node.get("error") is True
    fault = node.get("fault") is True
    throttle = node.get("throttle") is True
    if error or fault or throttle:
        status = status_from_flags(error=error, fault=fault, throttle=throttle)
    elif http_code is not None:
        status = status_from_http(http_code)
    elif exceptions:
        status = Status.FAULT
    else:
        status = Status.OK

    origin = node.get("origin")
    annotations = node.get("annotations")
    links = node.get("links")
    return Span(  # positional: half the cost of keywords, on every segment received
        trace_id,
        span_id,
        parent_id,
        service,
        span_name,
        kind,
        start_ns,
        end_ns,
        status,
        exceptions[0].message if exceptions and status is not Status.OK else "",  # status_message
        origin if isinstance(origin, str) else "",
        namespace if remote else "",
        name if remote else "",  # remote_service
        attributes,
        _annotations(annotations) if annotations else {},
        resource,
        [],  # events
        exceptions,
        _links(links) if links else [],
        in_progress,
    )


_KIND_NAMES = {k.value: k for k in Kind}
_DEFAULT_METADATA = "metadata.default."


def _http(http: object, attributes: Attributes) -> int | None:
    if not isinstance(http, dict):
        return None
    code: int | None = None
    for block_name, names in (("request", _HTTP_REQUEST_NAMES), ("response", _HTTP_RESPONSE_NAMES)):
        block = http.get(block_name)
        if not isinstance(block, dict):
            continue
        for key, value in block.items():
            if value is None or isinstance(value, (dict, list)):
                continue
            attributes[names.get(key, f"http.{block_name}.{key}")] = value
            if key == "status":
                if isinstance(value, int) and not isinstance(value, bool):
                    code = value
                elif isinstance(value, str) and value.isdigit():
                    code = int(value)
    return code


def _annotations(raw: object) -> dict[str, AnnotationValue]:
    if not isinstance(raw, dict):
        return {}
    return {str(k): v for k, v in raw.items() if isinstance(v, (str, bool, int, float))}


def _exceptions(cause: object) -> list[SpanException]:
    """``cause.exceptions`` as SpanExceptions (a cause given as an exception id refers elsewhere)."""
    if not isinstance(cause, dict):
        return []
    raw = cause.get("exceptions")
    if not isinstance(raw, list):
        return []
    out = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        frames = item.get("stack")
        lines = []
        if isinstance(frames, list):
            for frame in frames:
                if isinstance(frame, dict):
                    label = frame.get("label", "")
                    where = frame.get("path", "")
                    line = frame.get("line")
                    location = f"{where}:{line}" if line is not None else str(where)
                    lines.append(f"  at {label} ({location})")
        out.append(
            SpanException(
                type=str(item.get("type") or ""),
                message=str(item.get("message") or ""),
                stacktrace="\n".join(lines),
                remote=item.get("remote") is True,
            )
        )
    return out


def _links(raw: object) -> list[SpanLink]:
    if not isinstance(raw, list):
        return []
    links = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InvalidSpanError(f"links[{i}] is not a JSON object")
        try:
            trace_id = normalize_trace_id(item.get("trace_id"))  # type: ignore[arg-type]
        except InvalidIdError as exc:
            raise InvalidSpanError(f"links[{i}]: {exc}") from None
        attributes: Attributes = {}
        if isinstance(item.get("attributes"), dict):
            flatten_into(attributes, "", item["attributes"])
        links.append(SpanLink(trace_id, hex_id(item.get("id"), 16, f"links[{i}].id"), attributes))
    return links
