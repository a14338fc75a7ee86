"""An OpenTelemetry span exporter speaking the X-Ray daemon's UDP protocol, and 64 KB document packing.

Every datagram is ``{"format":"json","version":1}\\n`` followed by one segment document and never exceeds
:data:`MAX_DATAGRAM_BYTES`. A segment travels with its subsegments nested when the whole fits; when it
does not, the parent is sent alone and its subsegments are streamed as independent documents
(``"type": "subsegment"`` with ``trace_id`` and ``parent_id``), subtree by subtree; a single span that is
still too large has its metadata, stacks and links trimmed (counted in ``truncated_documents``).

The exporter never raises into the host program: failures are logged once per kind and counted in
:attr:`XRayUdpExporter.stats`.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from spanscope.tracer.health import WarnOnce
from spanscope.tracer.xray.documents import (
    DEFAULT_OPTIONS,
    DocumentTree,
    TranslationOptions,
    document_trees,
    is_segment,
)

_logger = logging.getLogger(__name__)

HEADER: Final = b'{"format":"json","version":1}\n'
# 64 KB is X-Ray's limit for one document; 64,000 also stays under the 65,507-byte IPv4 UDP payload cap.
MAX_DATAGRAM_BYTES: Final = 64_000
MAX_DOCUMENT_BYTES: Final = MAX_DATAGRAM_BYTES - len(HEADER)
# Nested subsegments deeper than this are streamed: JSON encoders and X-Ray's parser recurse per level.
MAX_NESTING_DEPTH: Final = 32
DEFAULT_DAEMON_ADDRESS: Final = ("127.0.0.1", 2000)
SEND_TIMEOUT_S: Final = 0.5
DAEMON_ADDRESS_ENV: Final = "AWS_XRAY_DAEMON_ADDRESS"

_SUBSEGMENTS_OVERHEAD: Final = len(b',"subsegments":[]')
_TRUNCATED_KEY: Final = "spanscope.truncated"
_ESSENTIAL_KEYS: Final = (
    "name",
    "id",
    "trace_id",
    "parent_id",
    "type",
    "start_time",
    "end_time",
    "in_progress",
    "fault",
    "error",
    "throttle",
    "namespace",
    "origin",
)


def parse_daemon_address(text: str | None) -> tuple[str, int]:
    """``host:port`` or the daemon's ``udp:host:port tcp:host:port`` form -> the UDP (host, port).

    >>> parse_daemon_address("udp:10.0.0.5:3000 tcp:10.0.0.5:2000")
    ('10.0.0.5', 3000)
    >>> parse_daemon_address("[::1]:2000")
    ('::1', 2000)
    >>> parse_daemon_address(None)
    ('127.0.0.1', 2000)
    """
    if not text or not text.strip():
        return DEFAULT_DAEMON_ADDRESS
    parts = text.split()
    chosen = parts[0]
    for part in parts:
        if part.lower().startswith("udp:"):
            chosen = part
            break
    if chosen.lower().startswith(("udp:", "tcp:")):
        chosen = chosen[4:]
    host, sep, port_text = chosen.rpartition(":")
    if not sep or not port_text.isdigit():
        raise ValueError(f"not a daemon address (host:port): {text!r}")
    port = int(port_text)
    if not 0 < port < 65536:
        raise ValueError(f"daemon port out of range: {text!r}")
    host = host.strip("[]") or DEFAULT_DAEMON_ADDRESS[0]
    return host, port


@dataclass
class XRayExportStats:
    """Counters of one exporter (a snapshot; see :attr:`XRayUdpExporter.stats`)."""

    spans: int = 0
    documents: int = 0
    datagrams: int = 0
    bytes_sent: int = 0
    max_datagram_bytes: int = 0
    streamed_subsegments: int = 0
    truncated_documents: int = 0
    dropped_spans: int = 0
    send_failures: int = 0
    export_failures: int = 0


def dumps(document: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON of a document (lone surrogates become "?")."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8", "replace")


def pack_documents(
    trees: Iterable[DocumentTree],
    limit_bytes: int = MAX_DOCUMENT_BYTES,
    stats: XRayExportStats | None = None,
) -> list[bytes]:
    """Serialized documents, each at most ``limit_bytes``: whole trees when they fit, else streamed."""
    counters = stats if stats is not None else XRayExportStats()
    out: list[bytes] = []
    for root in trees:
        flat, total, depth = _measure(root)
        stack: list[DocumentTree] = [root]
        while stack:
            node = stack.pop()
            key = id(node)
            if node.children and total[key] <= limit_bytes and depth[key] <= MAX_NESTING_DEPTH:
                data = dumps(node.nested())
                if len(data) <= limit_bytes:
                    out.append(data)
                    continue
            data = flat[key]
            if len(data) > limit_bytes:
                data = trim_document(node.document, limit_bytes)
                counters.truncated_documents += 1
                out.append(data)
                counters.streamed_subsegments += len(node.children)
                stack.extend(reversed(node.children))
                continue
            # The node with as many whole child subtrees as fit (in order); the others are streamed.
            budget = limit_bytes - len(data) - _SUBSEGMENTS_OVERHEAD
            kept: list[DocumentTree] = []
            streamed: list[DocumentTree] = []
            for child in node.children:
                cost = total[id(child)] + 1
                if cost <= budget and depth[id(child)] < MAX_NESTING_DEPTH:
                    kept.append(child)
                    budget -= cost
                else:
                    streamed.append(child)
            out.append(dumps(DocumentTree(node.document, kept).nested()) if kept else data)
            counters.streamed_subsegments += len(streamed)
            stack.extend(reversed(streamed))
    return out


def _measure(root: DocumentTree) -> tuple[dict[int, bytes], dict[int, int], dict[int, int]]:
    """Per node: its independent serialization, an upper bound of its nested size, its subtree height."""
    order: list[DocumentTree] = []
    stack = [root]
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(node.children)
    flat: dict[int, bytes] = {}
    total: dict[int, int] = {}
    depth: dict[int, int] = {}
    for node in reversed(order):
        key = id(node)
        data = dumps(node.document)
        flat[key] = data
        size = len(data)
        height = 1
        if node.children:
            size += _SUBSEGMENTS_OVERHEAD + len(node.children)
            for child in node.children:
                size += total[id(child)]
                height = max(height, depth[id(child)] + 1)
        total[key] = size
        depth[key] = height
    return flat, total, depth


def trim_document(document: dict[str, Any], limit_bytes: int) -> bytes:
    """A single document cut down to ``limit_bytes``: shorter metadata, stacks and links, then essentials."""
    doc = dict(document)
    doc["metadata"] = _shortened_metadata(doc.get("metadata"))
    if "cause" in doc:
        doc["cause"] = _shortened_cause(doc["cause"], frames=8, message_chars=1024, count=16)
    if "links" in doc:
        doc["links"] = doc["links"][:16]
    if "annotations" in doc:
        doc["annotations"] = {
            k[:100]: (v[:256] if isinstance(v, str) else v) for k, v in list(doc["annotations"].items())[:50]
        }
    data = dumps(doc)
    if len(data) <= limit_bytes:
        return data
    doc["metadata"] = {"default": {_TRUNCATED_KEY: True}}
    doc.pop("links", None)
    doc.pop("annotations", None)
    if "cause" in doc:
        doc["cause"] = _shortened_cause(doc["cause"], frames=0, message_chars=256, count=4)
    data = dumps(doc)
    if len(data) <= limit_bytes:
        return data
    essentials: dict[str, Any] = {k: document[k] for k in _ESSENTIAL_KEYS if k in document}
    essentials["metadata"] = {"default": {_TRUNCATED_KEY: True}}
    return dumps(essentials)


def _shortened_metadata(metadata: Any) -> dict[str, Any]:
    shortened: dict[str, Any] = {}
    if isinstance(metadata, dict):
        for namespace, values in metadata.items():
            if isinstance(values, dict):
                shortened[namespace] = {k[:256]: _shorten(v) for k, v in values.items()}
    shortened.setdefault("default", {})[_TRUNCATED_KEY] = True
    return shortened


def _shorten(value: Any) -> Any:
    """Strings to 256 characters, lists to 16 items, nested containers summarized as text."""
    if isinstance(value, str):
        return value[:256]
    if isinstance(value, list):
        return [_shorten_leaf(v) for v in value[:16]]
    if isinstance(value, dict):
        return json.dumps(value, default=str)[:256]
    return value


def _shorten_leaf(value: Any) -> Any:
    if isinstance(value, str):
        return value[:256]
    if isinstance(value, list | dict):
        return json.dumps(value, default=str)[:256]
    return value


def _shortened_cause(cause: Any, *, frames: int, message_chars: int, count: int) -> Any:
    if not isinstance(cause, dict):
        return cause
    exceptions = []
    for exception in cause.get("exceptions", [])[:count]:
        copy = dict(exception)
        if isinstance(copy.get("message"), str):
            copy["message"] = copy["message"][:message_chars]
        stack = copy.get("stack")
        if isinstance(stack, list):
            if frames:
                copy["stack"] = stack[:frames]
            else:
                copy.pop("stack")
            copy["truncated"] = int(copy.get("truncated", 0)) + max(0, len(stack) - frames)
        exceptions.append(copy)
    return {"exceptions": exceptions}


def documents_for_put_trace_segments(
    spans: Sequence[ReadableSpan],
    options: TranslationOptions = DEFAULT_OPTIONS,
    *,
    limit_bytes: int = MAX_DATAGRAM_BYTES,
) -> list[str]:
    """JSON strings for the ``TraceSegmentDocuments`` of PutTraceSegments, each at most ``limit_bytes``."""
    return [data.decode("utf-8") for data in pack_documents(document_trees(spans, options), limit_bytes)]


class XRayUdpExporter(SpanExporter):
    """Sends finished spans to an X-Ray daemon (or spanscope's collector) over UDP.

    ``address`` is ``host:port`` or ``udp:host:port tcp:host:port``; default ``$AWS_XRAY_DAEMON_ADDRESS``,
    else ``127.0.0.1:2000``. A bad address is logged and counted, and the exporter then drops spans.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        options: TranslationOptions = DEFAULT_OPTIONS,
        max_datagram_bytes: int = MAX_DATAGRAM_BYTES,
    ) -> None:
        self._options = options
        self._limit = max(1024, min(max_datagram_bytes, MAX_DATAGRAM_BYTES)) - len(HEADER)
        self._lock = threading.Lock()
        self._stats = XRayExportStats()
        self._warn_once = WarnOnce(_logger)
        self._shutdown = False
        self._socket: socket.socket | None = None
        self._target: tuple[Any, ...] | None = None
        text = address if address is not None else os.environ.get(DAEMON_ADDRESS_ENV)
        try:
            self._address: tuple[str, int] | None = parse_daemon_address(text)
        except ValueError as error:
            self._address = None
            self._warn_once("address", "X-Ray exporter disabled: %s", error)

    @property
    def address(self) -> tuple[str, int] | None:
        """The daemon's (host, port), or None when the configured address was unusable."""
        return self._address

    @property
    def stats(self) -> XRayExportStats:
        """A snapshot of the counters."""
        with self._lock:
            return replace(self._stats)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            return self._export(spans)
        except Exception as error:  # never into the host
            with self._lock:
                self._stats.export_failures += 1
            self._warn_once(f"export:{type(error).__name__}", "X-Ray export failed: %r", error)
            return SpanExportResult.FAILURE

    def _export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown or self._address is None:
            with self._lock:
                self._stats.dropped_spans += len(spans)
            return SpanExportResult.FAILURE
        errors: list[Exception] = []
        trees = document_trees(spans, self._options, on_error=errors.append)
        dropped = len(errors)
        for error in errors:
            self._warn_once(f"translate:{type(error).__name__}", "span not translatable: %r", error)
        local = XRayExportStats()
        payloads = pack_documents(trees, self._limit, local)
        sock, target = self._connect()
        failures = 0
        sent_bytes = 0
        largest = 0
        for payload in payloads:
            datagram = HEADER + payload
            try:
                sock.sendto(datagram, target)
            except OSError as error:
                failures += 1
                self._warn_once(f"send:{type(error).__name__}", "X-Ray datagram not sent: %r", error)
                continue
            sent_bytes += len(datagram)
            largest = max(largest, len(datagram))
        with self._lock:
            stats = self._stats
            stats.spans += len(spans) - dropped
            stats.dropped_spans += dropped
            stats.documents += len(payloads)
            stats.datagrams += len(payloads) - failures
            stats.bytes_sent += sent_bytes
            stats.max_datagram_bytes = max(stats.max_datagram_bytes, largest)
            stats.streamed_subsegments += local.streamed_subsegments
            stats.truncated_documents += local.truncated_documents
            stats.send_failures += failures
        return SpanExportResult.FAILURE if failures else SpanExportResult.SUCCESS

    def _connect(self) -> tuple[socket.socket, tuple[Any, ...]]:
        with self._lock:
            if self._socket is not None and self._target is not None:
                return self._socket, self._target
            assert self._address is not None
            host, port = self._address
            family, _type, _proto, _name, target = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
            sock = socket.socket(family, socket.SOCK_DGRAM)
            # Blocking with a bound: a burst waits briefly for send-buffer space instead of dropping.
            sock.settimeout(SEND_TIMEOUT_S)
            self._socket, self._target = sock, tuple(target)
            return sock, self._target

    def shutdown(self) -> None:
        self._shutdown = True
        with self._lock:
            if self._socket is not None:
                try:
                    self._socket.close()
                except OSError:
                    pass
                self._socket = None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered: every export is sent at once."""
        return True


class InProgressSegmentProcessor(SpanProcessor):
    """Sends an ``in_progress`` document when a segment starts, so long jobs show up before they end.

    Add it next to the processor that exports finished spans; the completed document sent at the end
    replaces the in-progress one (in X-Ray and in spanscope's store). Only segments (entry spans) are
    announced, never their subsegments.
    """

    def __init__(self, exporter: XRayUdpExporter) -> None:
        self._exporter = exporter

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            if is_segment(span):
                self._exporter.export([span])
        except Exception as error:  # never into the host
            self._exporter._warn_once(f"in-progress:{type(error).__name__}", "in-progress segment: %r", error)

    # on_end and shutdown: the SDK's SpanProcessor does nothing, as wanted.

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
