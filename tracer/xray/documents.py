"""Pure translation of finished (or in-progress) OpenTelemetry SDK spans into X-Ray segment documents.

The rules follow the OpenTelemetry Collector's ``awsxrayexporter`` translator; the limits, name rules and
attribute blocks come from the translation core the collector's forwarder shares (:mod:`.core`):

- a span is a **segment** when it is a server span, has no parent, or its parent is remote (it entered
  this process); every other span is a **subsegment** (``"type": "subsegment"`` with ``parent_id``);
- segments are named after the service (``service.name``); the span name is kept in
  ``metadata.default["otel.span.name"]`` whenever it differs from the document's name;
- client and producer spans get a ``namespace``: ``aws`` for AWS SDK calls (``rpc.system == "aws-api"``,
  named by ``rpc.service``), ``remote`` for the rest (named by ``peer.service``, the server address or
  the URL host);
- ``http`` and ``aws`` blocks are filled from their attributes, which then leave the metadata;
- fault / error / throttle come from the HTTP status (429 throttle + error, other 4xx error, 5xx fault)
  and, without an HTTP status, from the span status (error -> fault); ``cause.exceptions`` from
  ``exception`` events (Python tracebacks are parsed into stack frames);
- attributes named in ``aws.xray.annotations`` (or in ``indexed_keys``) become annotations when their
  value is a string, number or boolean; everything else goes to ``metadata.default``; segments also
  keep their resource attributes as ``otel.resource.*`` metadata;
- span links become ``links`` (``trace_id`` in X-Ray form, ``id``, ``attributes``);
- the origin comes from ``spanscope.origin`` (span or resource) or the resource's ``cloud.platform``.

:func:`span_document` applies :data:`RULES`, one small named rule per part of the document, in order.
Documents are plain dicts ready for ``json.dumps``; :func:`document_trees` groups a batch of spans into
segments with their subsegments nested, which the exporter splits to fit a UDP datagram.

>>> xray_trace_id(0x5759E988BD862E3FE1BE46A994272793)
'1-5759e988-bd862e3fe1be46a994272793'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from spanscope.tracer.xray import names as n
from spanscope.tracer.xray.core.blocks import (
    AWS_KEYS,
    HTTP_KEYS,
    aws_block,
    exception_entry,
    exception_id,
    http_block,
    http_status,
    indexed_keys,
    split_annotations,
    status_flags,
    status_of,
    text_of,
)
from spanscope.tracer.xray.core.ids import span_id_hex, xray_trace_id
from spanscope.tracer.xray.core.text import (
    MAX_EVENTS_IN_METADATA,
    MAX_HTTP_FIELD_CHARS,
    fix_segment_name,
    metadata_value,
)

__all__ = [
    "DEFAULT_OPTIONS",
    "RULES",
    "DocumentTree",
    "TranslationOptions",
    "document_trees",
    "is_segment",
    "segment_documents",
    "span_document",
    "xray_trace_id",
]


def is_segment(span: ReadableSpan) -> bool:
    """True when the span becomes an X-Ray segment: server kind, no parent, or a remote parent."""
    parent = span.parent
    return span.kind == SpanKind.SERVER or parent is None or bool(parent.is_remote)


@dataclass(frozen=True)
class TranslationOptions:
    """Choices the collector's exporter exposes as configuration.

    ``indexed_keys``: attribute keys always turned into annotations (besides ``aws.xray.annotations``);
    ``index_all``: every attribute with a string/number/boolean value becomes an annotation;
    ``resource_metadata``: keep the resource attributes of segments as ``otel.resource.*`` metadata;
    ``lambda_facade_subsegments``: in Lambda (resource ``cloud.platform`` ``aws_lambda``), send the
    invocation's entry span as a subsegment of Lambda's facade segment (its remote parent), like the X-Ray
    SDK does, instead of a segment of its own. Use it when the documents go to AWS X-Ray, where Lambda
    itself records the function segment; spanscope's collector prefers the default (a segment with origin).
    """

    indexed_keys: frozenset[str] = frozenset()
    index_all: bool = False
    resource_metadata: bool = True
    lambda_facade_subsegments: bool = False


DEFAULT_OPTIONS: Final = TranslationOptions()


@dataclass
class DocumentTree:
    """One span's document in independent form plus the subsegment trees nested under it in a batch."""

    document: dict[str, Any]
    children: list[DocumentTree] = field(default_factory=list)

    def nested(self) -> dict[str, Any]:
        """The document with its children nested as ``subsegments`` (built iteratively, any depth)."""
        out: dict[int, dict[str, Any]] = {}
        order: list[DocumentTree] = []
        stack: list[DocumentTree] = [self]
        while stack:
            node = stack.pop()
            order.append(node)
            stack.extend(node.children)
        for node in reversed(order):  # children before parents
            doc = dict(node.document) if node is self else _as_nested_child(node.document)
            if node.children:
                doc["subsegments"] = [out.pop(id(child)) for child in node.children]
            out[id(node)] = doc
        return out[id(self)]

    def span_count(self) -> int:
        """How many spans this tree holds."""
        count = 0
        stack: list[DocumentTree] = [self]
        while stack:
            node = stack.pop()
            count += 1
            stack.extend(node.children)
        return count


def _under_lambda_facade(span: ReadableSpan) -> bool:
    parent = span.parent
    if parent is None or not parent.is_remote or span.resource is None:
        return False
    return span.resource.attributes.get(n.CLOUD_PLATFORM) == "aws_lambda"


def _as_nested_child(document: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in ("trace_id", "parent_id", "type")}


@dataclass
class _Facts:
    """What the rules read of one span, worked out once, and the attribute keys the blocks consumed."""

    span: ReadableSpan
    options: TranslationOptions
    attributes: dict[str, Any]
    resource: dict[str, Any]
    segment: bool
    namespace: str = ""
    consumed: set[str] = field(default_factory=lambda: {n.XRAY_ANNOTATIONS_KEY})


Rule = Callable[[_Facts, dict[str, Any]], None]


def name_and_namespace(facts: _Facts, doc: dict[str, Any]) -> None:
    """Segments are named after the service; calls out (client, producer, AWS SDK) get a ``namespace`` and
    are named after what they call; other subsegments keep the span name."""
    span, attributes = facts.span, facts.attributes
    if facts.segment:
        name = text_of(facts.resource.get(n.SERVICE_NAME)) or span.name
    elif span.kind in (SpanKind.CLIENT, SpanKind.PRODUCER) or attributes.get(n.RPC_SYSTEM) == "aws-api":
        facts.namespace, name = _remote(attributes)
        name = name or span.name
    else:
        name = span.name
    doc["name"] = fix_segment_name(name)
    if facts.namespace:
        doc["namespace"] = facts.namespace


def origin(facts: _Facts, doc: dict[str, Any]) -> None:
    """A segment's ``origin``: ``spanscope.origin`` (span, then resource), else the resource's platform."""
    if facts.segment:
        found = _origin(facts.resource, facts.attributes)
        if found:
            doc["origin"] = found
            facts.consumed.add(n.ORIGIN)


def http(facts: _Facts, doc: dict[str, Any]) -> None:
    """The ``http`` block; its attributes leave the metadata."""
    block = http_block(facts.attributes, server=facts.span.kind == SpanKind.SERVER)
    if block:
        doc["http"] = block
        facts.consumed.update(HTTP_KEYS)


def aws(facts: _Facts, doc: dict[str, Any]) -> None:
    """The ``aws`` block, plus for segments the SDK that recorded them; its attributes leave the metadata."""
    block = aws_block(facts.attributes, facts.resource, segment=facts.segment)
    sdk = text_of(facts.resource.get(n.TELEMETRY_SDK_NAME)) if facts.segment else ""
    if sdk:
        block["xray"] = {
            "sdk": f"{sdk} for python (spanscope)",
            "sdk_version": text_of(facts.resource.get(n.TELEMETRY_SDK_VERSION)),
        }
    if block:
        doc["aws"] = block
        facts.consumed.update(AWS_KEYS)


def error_and_cause(facts: _Facts, doc: dict[str, Any]) -> None:
    """fault / error / throttle from the HTTP status, else the span status; ``cause`` from exception events
    (or the status description when an error span recorded none)."""
    span = facts.span
    error_status = span.status.status_code == StatusCode.ERROR
    doc.update(status_flags(status_of(http_status(facts.attributes), error_status=error_status)))
    context = span.context
    base = span_id_hex(context.span_id) if context is not None else ""
    remote = span.kind in (SpanKind.CLIENT, SpanKind.PRODUCER)
    exceptions: list[dict[str, Any]] = []
    for index, event in enumerate(span.events):
        if event.name != "exception":
            continue
        attrs = event.attributes or {}
        exceptions.append(
            exception_entry(
                base,
                index,
                type_name=text_of(attrs.get("exception.type")),
                message=text_of(attrs.get("exception.message")),
                remote=remote,
                stacktrace=text_of(attrs.get("exception.stacktrace")),
            )
        )
    if not exceptions and error_status and span.status.description:
        exceptions.append({"id": exception_id(base, -1), "message": span.status.description})
    if exceptions:
        doc["cause"] = {"exceptions": exceptions}


def user(facts: _Facts, doc: dict[str, Any]) -> None:
    """A segment's ``user`` from ``enduser.id``."""
    value = facts.attributes.get(n.USER)
    if facts.segment and isinstance(value, str) and value:
        doc["user"] = value[:MAX_HTTP_FIELD_CHARS]
        facts.consumed.add(n.USER)


def annotations_and_metadata(facts: _Facts, doc: dict[str, Any]) -> None:
    """Indexed attributes become annotations, the rest ``metadata.default`` with what X-Ray has no field for:
    the resource (segments), the span name when the document's differs, an unexpected kind, the events."""
    span, options = facts.span, facts.options
    annotations, default_meta = split_annotations(
        facts.attributes,
        consumed=facts.consumed,
        indexed=indexed_keys(facts.attributes, options.indexed_keys),
        index_all=options.index_all,
    )
    if facts.segment and options.resource_metadata:
        for key, value in facts.resource.items():
            default_meta[n.RESOURCE_METADATA_PREFIX + key] = metadata_value(value)
    if doc["name"] != span.name:
        default_meta[n.SPAN_NAME_METADATA_KEY] = span.name
    implied = SpanKind.SERVER if facts.segment else (SpanKind.CLIENT if facts.namespace else SpanKind.INTERNAL)
    if span.kind != implied:
        default_meta["otel.span.kind"] = span.kind.name.lower()
    events = [e for e in span.events if e.name != "exception"][:MAX_EVENTS_IN_METADATA]
    if events:
        default_meta["otel.events"] = [
            {
                "name": e.name,
                "time": e.timestamp / 1e9,
                "attributes": {k: metadata_value(v) for k, v in (e.attributes or {}).items()},
            }
            for e in events
        ]
    if annotations:
        doc["annotations"] = annotations
    if default_meta:
        doc["metadata"] = {"default": default_meta}


def links(facts: _Facts, doc: dict[str, Any]) -> None:
    """Span links as ``links`` (trace id in X-Ray form, span id, attributes)."""
    if not facts.span.links:
        return
    out: list[dict[str, Any]] = []
    for link in facts.span.links:
        entry: dict[str, Any] = {
            "trace_id": xray_trace_id(link.context.trace_id),
            "id": span_id_hex(link.context.span_id),
        }
        if link.attributes:
            entry["attributes"] = {k: metadata_value(v) for k, v in link.attributes.items()}
        out.append(entry)
    doc["links"] = out


# The order is the documents' key order. annotations_and_metadata comes after every block that consumes keys.
RULES: Final[tuple[Rule, ...]] = (
    name_and_namespace,
    origin,
    http,
    aws,
    error_and_cause,
    user,
    annotations_and_metadata,
    links,
)


def span_document(span: ReadableSpan, options: TranslationOptions = DEFAULT_OPTIONS) -> dict[str, Any]:
    """One span as an independent X-Ray document (a segment, or a subsegment with ``parent_id``)."""
    context = span.context
    if context is None:  # pragma: no cover - the SDK always sets a context
        raise ValueError("span without a context")
    segment = is_segment(span) and not (options.lambda_facade_subsegments and _under_lambda_facade(span))
    doc: dict[str, Any] = {
        "name": "",
        "id": span_id_hex(context.span_id),
        "trace_id": xray_trace_id(context.trace_id),
        "start_time": (span.start_time or 0) / 1e9,
    }
    if span.end_time is None:
        doc["in_progress"] = True
    else:
        doc["end_time"] = span.end_time / 1e9
    if span.parent is not None:
        doc["parent_id"] = span_id_hex(span.parent.span_id)
    if not segment:
        doc["type"] = "subsegment"
    facts = _Facts(
        span=span,
        options=options,
        attributes=dict(span.attributes or {}),
        resource=dict(span.resource.attributes) if span.resource is not None else {},
        segment=segment,
    )
    for rule in RULES:
        rule(facts, doc)
    return doc


def document_trees(
    spans: Iterable[ReadableSpan],
    options: TranslationOptions = DEFAULT_OPTIONS,
    *,
    on_error: Callable[[Exception], object] | None = None,
) -> list[DocumentTree]:
    """Group a batch of spans: each subsegment is nested under its parent when the parent is in the batch.

    Segments and subsegments whose parent is elsewhere (another batch, another process) are roots; their
    documents carry ``trace_id`` and ``parent_id`` so X-Ray can attach them. Order follows the input.
    With ``on_error``, a span that cannot be translated is passed over (its error handed to ``on_error``)
    instead of failing the batch.
    """
    nodes: dict[tuple[int, int], DocumentTree] = {}
    spans_in_order: list[tuple[ReadableSpan, DocumentTree]] = []
    for span in spans:
        context = span.context
        if context is None:  # pragma: no cover
            continue
        try:
            node = DocumentTree(span_document(span, options))
        except Exception as error:
            if on_error is None:
                raise
            on_error(error)
            continue
        key = (context.trace_id, context.span_id)
        if key in nodes:  # a duplicated id: keep both, the second as its own root
            spans_in_order.append((span, node))
            continue
        nodes[key] = node
        spans_in_order.append((span, node))
    roots: list[DocumentTree] = []
    attached: set[int] = set()
    for span, node in spans_in_order:
        parent = span.parent
        context = span.context
        assert context is not None
        parent_node = None
        if parent is not None and node.document.get("type") == "subsegment":
            parent_node = nodes.get((context.trace_id, parent.span_id))
        if parent_node is None or parent_node is node:
            roots.append(node)
        else:
            parent_node.children.append(node)
            attached.add(id(node))
    # Nodes caught in a parent cycle are reachable from no root: make them roots too.
    reachable: set[int] = set()
    _mark_reachable(roots, reachable)
    for _span, node in spans_in_order:
        if id(node) not in reachable:
            _detach(node, nodes.values())
            roots.append(node)
            _mark_reachable([node], reachable)
    return roots


def _mark_reachable(starts: Iterable[DocumentTree], reachable: set[int]) -> None:
    """Add the ids of every node under ``starts`` to ``reachable`` (iteratively, cycles included)."""
    stack = list(starts)
    while stack:
        node = stack.pop()
        if id(node) in reachable:
            continue
        reachable.add(id(node))
        stack.extend(node.children)


def _detach(node: DocumentTree, candidates: Iterable[DocumentTree]) -> None:
    for candidate in candidates:
        if node in candidate.children:
            candidate.children.remove(node)


def segment_documents(
    spans: Iterable[ReadableSpan], options: TranslationOptions = DEFAULT_OPTIONS
) -> list[dict[str, Any]]:
    """The batch as documents with subsegments nested (no size limit applied; see the exporter)."""
    return [tree.nested() for tree in document_trees(spans, options)]


# --- namespace and origin ----------------------------------------------------------------------------


def _remote(attributes: Mapping[str, Any]) -> tuple[str, str]:
    if attributes.get(n.RPC_SYSTEM) == "aws-api":
        service = text_of(attributes.get(n.RPC_SERVICE))
        for prefix in ("AWS.SDK.", "AWS::"):
            if service.startswith(prefix):
                service = service[len(prefix) :]
        return "aws", service or "AWS"
    for key in (n.PEER_SERVICE, n.SERVER_ADDRESS, n.NET_PEER_NAME_OLD):
        value = text_of(attributes.get(key))
        if value:
            return "remote", value
    for key in (n.HTTP_URL, n.HTTP_URL_OLD):
        url = text_of(attributes.get(key))
        if "://" in url:
            host = url.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0].split("@")[-1]
            if host:
                return "remote", host
    return "remote", ""


def _origin(resource: Mapping[str, Any], attributes: Mapping[str, Any]) -> str:
    for source in (attributes, resource):
        explicit = text_of(source.get(n.ORIGIN))
        if explicit:
            return explicit
    provider = text_of(resource.get(n.CLOUD_PROVIDER))
    if provider and provider != "aws":
        return ""
    return n.PLATFORM_ORIGINS.get(text_of(resource.get(n.CLOUD_PLATFORM)), "")
