"""Pure translation of finished (or in-progress) OpenTelemetry SDK spans into X-Ray segment documents.

The rules follow the OpenTelemetry Collector's ``awsxrayexporter`` translator:

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

Documents are plain dicts ready for ``json.dumps``; :func:`document_trees` groups a batch of spans into
segments with their subsegments nested, which the exporter splits to fit a UDP datagram.

>>> xray_trace_id(0x5759E988BD862E3FE1BE46A994272793)
'1-5759e988-bd862e3fe1be46a994272793'
>>> fix_annotation_key("customer.tier-id")
'customer_tier_id'
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from spanscope.tracer.xray import names as n

MAX_NAME_CHARS: Final = 200
MAX_HTTP_FIELD_CHARS: Final = 250
MAX_ANNOTATION_KEY_CHARS: Final = 500
MAX_ANNOTATION_VALUE_CHARS: Final = 1000
MAX_STACK_FRAMES: Final = 64
MAX_EVENTS_IN_METADATA: Final = 32
DEFAULT_NAME: Final = "span"

_NAME_SYMBOLS: Final = frozenset(" _.:/%&#=+-@")
_ANNOTATION_KEY_RE: Final = re.compile(r"[^A-Za-z0-9_]")
_PY_FRAME_RE: Final = re.compile(r'^  File "(?P<path>.*)", line (?P<line>\d+)(?:, in (?P<label>.*))?$')
_CHAIN_LINES: Final = (
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
)

# Keys that the http / aws / user blocks consume (they do not reappear in the metadata).
_HTTP_KEYS: Final = frozenset(
    {
        n.HTTP_METHOD,
        n.HTTP_METHOD_OLD,
        n.HTTP_URL,
        n.HTTP_URL_OLD,
        n.HTTP_STATUS,
        n.HTTP_STATUS_OLD,
        n.HTTP_USER_AGENT,
        n.HTTP_USER_AGENT_OLD,
        n.HTTP_CLIENT_IP,
        n.HTTP_CLIENT_IP_OLD,
        n.HTTP_RESPONSE_SIZE,
        n.HTTP_RESPONSE_SIZE_OLD,
    }
)
_AWS_KEYS: Final = frozenset(
    {
        n.AWS_OPERATION,
        n.AWS_REQUEST_ID,
        n.AWS_REQUEST_ID_2,
        n.AWS_REGION,
        n.AWS_ACCOUNT,
        n.AWS_TABLE,
        n.AWS_TABLE_2,
        n.AWS_QUEUE_URL,
        n.AWS_QUEUE_URL_2,
    }
)


def xray_trace_id(trace_id: int) -> str:
    """An OpenTelemetry trace id (128-bit int) in X-Ray form ``1-<8 hex epoch>-<24 hex>``."""
    text = format(trace_id, "032x")
    return f"1-{text[:8]}-{text[8:]}"


def span_id_hex(span_id: int) -> str:
    """A 64-bit span id as 16 lowercase hex digits (X-Ray segment id form)."""
    return format(span_id, "016x")


def is_segment(span: ReadableSpan) -> bool:
    """True when the span becomes an X-Ray segment: server kind, no parent, or a remote parent."""
    parent = span.parent
    return span.kind == SpanKind.SERVER or parent is None or bool(parent.is_remote)


def fix_segment_name(name: str) -> str:
    """Keep the characters X-Ray allows in a segment name (letters, digits, spaces, ``_.:/%&#=+-@``).

    >>> fix_segment_name("GET /orders/{id}?x=1")
    'GET /orders/idx=1'
    >>> fix_segment_name("\\x1b[31m")
    '31m'
    >>> fix_segment_name("")
    'span'
    """
    kept = [c for c in name if _name_char_ok(c)]
    fixed = "".join(kept)[:MAX_NAME_CHARS]
    return fixed or DEFAULT_NAME


def _name_char_ok(c: str) -> bool:
    if c.isascii():
        return c.isalnum() or c in _NAME_SYMBOLS
    # Letters, digits and spaces of the Basic Multilingual Plane known to Unicode 3.2: a subset of the
    # characters the X-Ray schema's name pattern lists.
    if ord(c) > 0xFFFF:
        return False
    category = unicodedata.ucd_3_2_0.category(c)
    return category[0] in "LN" or category == "Zs"


def fix_annotation_key(key: str) -> str:
    """An attribute key made legal as an X-Ray annotation key (``[A-Za-z0-9_]{1,500}``); "" if empty."""
    return _ANNOTATION_KEY_RE.sub("_", key)[:MAX_ANNOTATION_KEY_CHARS]


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


def span_document(span: ReadableSpan, options: TranslationOptions = DEFAULT_OPTIONS) -> dict[str, Any]:
    """One span as an independent X-Ray document (a segment, or a subsegment with ``parent_id``)."""
    attributes: dict[str, Any] = dict(span.attributes or {})
    resource: dict[str, Any] = dict(span.resource.attributes) if span.resource is not None else {}
    segment = is_segment(span) and not (options.lambda_facade_subsegments and _under_lambda_facade(span))
    context = span.context
    if context is None:  # pragma: no cover - the SDK always sets a context
        raise ValueError("span without a context")
    kind = span.kind

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

    consumed: set[str] = {n.XRAY_ANNOTATIONS_KEY}
    aws_api = attributes.get(n.RPC_SYSTEM) == "aws-api"

    # --- name and namespace ---
    name = ""
    namespace = ""
    if segment:
        name = _str(resource.get(n.SERVICE_NAME)) or span.name
    elif kind in (SpanKind.CLIENT, SpanKind.PRODUCER) or aws_api:
        namespace, name = _remote(attributes)
        name = name or span.name
    else:
        name = span.name
    doc["name"] = fix_segment_name(name)
    if namespace:
        doc["namespace"] = namespace

    # --- origin ---
    if segment:
        origin = _origin(resource, attributes)
        if origin:
            doc["origin"] = origin
            consumed.add(n.ORIGIN)

    # --- http ---
    http = _http(span, attributes)
    if http:
        doc["http"] = http
        consumed.update(_HTTP_KEYS)

    # --- aws ---
    aws = _aws(attributes, resource, segment)
    if aws:
        doc["aws"] = aws
        consumed.update(_AWS_KEYS)

    # --- fault / error / throttle / cause ---
    status_code = _http_status(attributes)
    error_status = span.status.status_code == StatusCode.ERROR
    if status_code is not None and 400 <= status_code <= 499:
        doc["error"] = True
        if status_code == 429:
            doc["throttle"] = True
    elif (status_code is not None and 500 <= status_code <= 599) or error_status:
        doc["fault"] = True
    cause = _cause(span, kind in (SpanKind.CLIENT, SpanKind.PRODUCER), error_status)
    if cause:
        doc["cause"] = cause

    # --- user ---
    user = attributes.get(n.USER)
    if segment and isinstance(user, str) and user:
        doc["user"] = user[:MAX_HTTP_FIELD_CHARS]
        consumed.add(n.USER)

    # --- annotations vs metadata ---
    indexed = set(options.indexed_keys)
    listed = attributes.get(n.XRAY_ANNOTATIONS_KEY)
    if isinstance(listed, str):
        indexed.add(listed)
    elif isinstance(listed, Sequence):
        indexed.update(k for k in listed if isinstance(k, str))
    annotations: dict[str, Any] = {}
    default_meta: dict[str, Any] = {}
    for key, value in attributes.items():
        if key in consumed:
            continue
        if options.index_all or key in indexed:
            fixed = fix_annotation_key(key)
            legal = _annotation_value(value)
            if fixed and legal is not None:
                annotations[fixed] = legal
                continue
        default_meta[key] = _metadata_value(value)
    if segment and options.resource_metadata:
        for key, value in resource.items():
            default_meta[n.RESOURCE_METADATA_PREFIX + key] = _metadata_value(value)
    if doc["name"] != span.name:
        default_meta[n.SPAN_NAME_METADATA_KEY] = span.name
    implied = SpanKind.SERVER if segment else (SpanKind.CLIENT if namespace else SpanKind.INTERNAL)
    if kind != implied:
        default_meta["otel.span.kind"] = kind.name.lower()
    events = [e for e in span.events if e.name != "exception"][:MAX_EVENTS_IN_METADATA]
    if events:
        default_meta["otel.events"] = [
            {
                "name": e.name,
                "time": e.timestamp / 1e9,
                "attributes": {k: _metadata_value(v) for k, v in (e.attributes or {}).items()},
            }
            for e in events
        ]
    if annotations:
        doc["annotations"] = annotations
    if default_meta:
        doc["metadata"] = {"default": default_meta}

    # --- links ---
    if span.links:
        links: list[dict[str, Any]] = []
        for link in span.links:
            entry: dict[str, Any] = {
                "trace_id": xray_trace_id(link.context.trace_id),
                "id": span_id_hex(link.context.span_id),
            }
            if link.attributes:
                entry["attributes"] = {k: _metadata_value(v) for k, v in link.attributes.items()}
            links.append(entry)
        doc["links"] = links
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
    stack = list(roots)
    while stack:
        node = stack.pop()
        if id(node) in reachable:
            continue
        reachable.add(id(node))
        stack.extend(node.children)
    for _span, node in spans_in_order:
        if id(node) not in reachable:
            _detach(node, nodes.values())
            roots.append(node)
            stack = [node]
            while stack:
                current = stack.pop()
                if id(current) in reachable:
                    continue
                reachable.add(id(current))
                stack.extend(current.children)
    return roots


def _detach(node: DocumentTree, candidates: Iterable[DocumentTree]) -> None:
    for candidate in candidates:
        if node in candidate.children:
            candidate.children.remove(node)


def segment_documents(
    spans: Iterable[ReadableSpan], options: TranslationOptions = DEFAULT_OPTIONS
) -> list[dict[str, Any]]:
    """The batch as documents with subsegments nested (no size limit applied; see the exporter)."""
    return [tree.nested() for tree in document_trees(spans, options)]


# --- pieces ----------------------------------------------------------------------------------------------


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _remote(attributes: Mapping[str, Any]) -> tuple[str, str]:
    if attributes.get(n.RPC_SYSTEM) == "aws-api":
        service = _str(attributes.get(n.RPC_SERVICE))
        for prefix in ("AWS.SDK.", "AWS::"):
            if service.startswith(prefix):
                service = service[len(prefix) :]
        return "aws", service or "AWS"
    for key in (n.PEER_SERVICE, n.SERVER_ADDRESS, n.NET_PEER_NAME_OLD):
        value = _str(attributes.get(key))
        if value:
            return "remote", value
    for key in (n.HTTP_URL, n.HTTP_URL_OLD):
        url = _str(attributes.get(key))
        if "://" in url:
            host = url.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0].split("@")[-1]
            if host:
                return "remote", host
    return "remote", ""


def _origin(resource: Mapping[str, Any], attributes: Mapping[str, Any]) -> str:
    for source in (attributes, resource):
        explicit = _str(source.get(n.ORIGIN))
        if explicit:
            return explicit
    provider = _str(resource.get(n.CLOUD_PROVIDER))
    if provider and provider != "aws":
        return ""
    return n.PLATFORM_ORIGINS.get(_str(resource.get(n.CLOUD_PLATFORM)), "")


def _first(attributes: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = attributes.get(key)
        if value is not None and value != "":
            return value
    return None


def _http_status(attributes: Mapping[str, Any]) -> int | None:
    for key in (n.HTTP_STATUS, n.HTTP_STATUS_OLD):
        value = attributes.get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.isdigit():
            return int(value)
    return None


def _http(span: ReadableSpan, attributes: Mapping[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = {}
    response: dict[str, Any] = {}
    method = _first(attributes, n.HTTP_METHOD, n.HTTP_METHOD_OLD)
    if method is not None:
        request["method"] = str(method)[:MAX_HTTP_FIELD_CHARS]
    url = _str(_first(attributes, n.HTTP_URL, n.HTTP_URL_OLD))
    if not url and request and span.kind == SpanKind.SERVER:
        url = _server_url(attributes)
    if url:
        request["url"] = url[:MAX_HTTP_FIELD_CHARS]
    agent = _first(attributes, n.HTTP_USER_AGENT, n.HTTP_USER_AGENT_OLD)
    if agent is not None:
        request["user_agent"] = str(agent)[:MAX_HTTP_FIELD_CHARS]
    forwarded = attributes.get(n.HTTP_CLIENT_IP_OLD)
    client_ip = forwarded if forwarded is not None else attributes.get(n.HTTP_CLIENT_IP)
    if client_ip is not None:
        request["client_ip"] = str(client_ip)[:MAX_HTTP_FIELD_CHARS]
        if forwarded is not None:
            request["x_forwarded_for"] = True
    status = _http_status(attributes)
    if status is not None:
        response["status"] = status
    size = _first(attributes, n.HTTP_RESPONSE_SIZE, n.HTTP_RESPONSE_SIZE_OLD)
    if isinstance(size, int) and not isinstance(size, bool):
        response["content_length"] = size
    http: dict[str, Any] = {}
    if request:
        http["request"] = request
    if response:
        http["response"] = response
    return http


def _server_url(attributes: Mapping[str, Any]) -> str:
    scheme = _str(_first(attributes, n.URL_SCHEME, n.HTTP_SCHEME_OLD)) or "http"
    host = _str(_first(attributes, n.HTTP_HOST_OLD, n.SERVER_ADDRESS))
    if not host:
        return _str(_first(attributes, n.URL_PATH, n.HTTP_TARGET_OLD))
    port = attributes.get(n.SERVER_PORT)
    if port is not None and ":" not in host and (scheme, str(port)) not in (("http", "80"), ("https", "443")):
        host = f"{host}:{port}"
    target = _str(attributes.get(n.HTTP_TARGET_OLD))
    if not target:
        target = _str(attributes.get(n.URL_PATH)) or "/"
        query = _str(attributes.get(n.URL_QUERY))
        if query:
            target = f"{target}?{query}"
    return f"{scheme}://{host}{target}"


def _aws(attributes: Mapping[str, Any], resource: Mapping[str, Any], segment: bool) -> dict[str, Any]:
    aws: dict[str, Any] = {}
    operation = _first(attributes, n.AWS_OPERATION)
    if operation is None and attributes.get(n.RPC_SYSTEM) == "aws-api":
        operation = attributes.get(n.RPC_METHOD)
    if operation is not None:
        aws["operation"] = str(operation)
    region = _first(attributes, n.AWS_REGION)
    if region is not None:
        aws["region"] = str(region)
    request_id = _first(attributes, n.AWS_REQUEST_ID, n.AWS_REQUEST_ID_2)
    if request_id is not None:
        aws["request_id"] = str(request_id)
    queue_url = _first(attributes, n.AWS_QUEUE_URL, n.AWS_QUEUE_URL_2)
    if queue_url is not None:
        aws["queue_url"] = str(queue_url)
    tables = attributes.get(n.AWS_TABLE)
    if isinstance(tables, str) and tables:
        aws["table_name"] = tables
    elif isinstance(tables, Sequence) and tables:
        names = [str(t) for t in tables]
        if len(names) == 1:
            aws["table_name"] = names[0]
        else:
            aws["table_names"] = names
    elif attributes.get(n.AWS_TABLE_2):
        aws["table_name"] = str(attributes[n.AWS_TABLE_2])
    account = _first(attributes, n.AWS_ACCOUNT)
    if account is None and segment:
        account = _first(resource, n.CLOUD_ACCOUNT)
    if account is not None:
        aws["account_id"] = str(account)
    if segment:
        platform = _str(resource.get(n.CLOUD_PLATFORM))
        host_id = _str(resource.get(n.HOST_ID))
        if platform == "aws_ec2" or host_id:
            ec2: dict[str, Any] = {}
            if host_id:
                ec2["instance_id"] = host_id
            zone = _str(resource.get(n.CLOUD_AZ))
            if zone:
                ec2["availability_zone"] = zone
            aws["ec2"] = ec2
        if platform == "aws_ecs":
            container = _str(resource.get(n.CONTAINER_NAME))
            aws["ecs"] = {"container": container} if container else {}
        sdk = _str(resource.get(n.TELEMETRY_SDK_NAME))
        if sdk:
            aws["xray"] = {
                "sdk": f"{sdk} for python (spanscope)",
                "sdk_version": _str(resource.get(n.TELEMETRY_SDK_VERSION)),
            }
    return aws


def _cause(span: ReadableSpan, remote: bool, error_status: bool) -> dict[str, Any]:
    context = span.context
    base = span_id_hex(context.span_id) if context is not None else ""
    exceptions: list[dict[str, Any]] = []
    for index, event in enumerate(span.events):
        if event.name != "exception":
            continue
        attrs = event.attributes or {}
        exception: dict[str, Any] = {
            "id": _exception_id(base, index),
            "type": _str(attrs.get("exception.type")),
            "message": _str(attrs.get("exception.message")),
            "remote": remote,
        }
        stack, skipped = _python_stack(_str(attrs.get("exception.stacktrace")))
        if stack:
            exception["stack"] = stack
        if skipped:
            exception["truncated"] = skipped
        exceptions.append(exception)
    if not exceptions and error_status and span.status.description:
        exceptions.append({"id": _exception_id(base, -1), "message": span.status.description})
    return {"exceptions": exceptions} if exceptions else {}


def _exception_id(base: str, index: int) -> str:
    """Deterministic 16-hex id, so re-sending a span yields the same document."""
    return hashlib.blake2b(f"{base}:{index}".encode(), digest_size=8).hexdigest()


def _python_stack(stacktrace: str) -> tuple[list[dict[str, Any]], int]:
    """Frames of the last exception in a Python traceback, innermost first; (frames, frames left out)."""
    if not stacktrace:
        return [], 0
    lines = stacktrace.split("\n")
    start = 0
    for index, line in enumerate(lines):
        if line.strip() in _CHAIN_LINES:
            start = index + 1
    frames: list[dict[str, Any]] = []
    for line in lines[start:]:
        match = _PY_FRAME_RE.match(line)
        if match:
            frame: dict[str, Any] = {"path": match["path"], "line": int(match["line"])}
            if match["label"]:
                frame["label"] = match["label"]
            frames.append(frame)
    frames.reverse()
    skipped = max(0, len(frames) - MAX_STACK_FRAMES)
    return frames[:MAX_STACK_FRAMES], skipped


def _annotation_value(value: object) -> str | int | float | bool | None:
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value[:MAX_ANNOTATION_VALUE_CHARS]
    return None


def _metadata_value(value: object) -> Any:
    """A JSON-safe copy of an attribute value (sequences become lists, non-finite floats strings)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str | bool | int) or value is None:
        return value
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Sequence):
        return [_metadata_value(v) for v in value if not isinstance(v, Sequence) or isinstance(v, str)]
    return str(value)
