"""Model spans → X-Ray segment documents (for forwarding with PutTraceSegments).

Each span becomes one document: a *segment* when it is a root, a server or a consumer span (the
work of a service), otherwise an independently sent *subsegment* (``"type": "subsegment"`` with its
``trace_id`` and ``parent_id``), which X-Ray joins to its segment by parent id. Names and annotation
keys are sanitized to what the segment document schema allows; a document is kept under 64 KB by
dropping metadata, then exception details.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import orjson
from spanscope.collectors import conventions as conv
from spanscope.collectors.model import Kind, Span, Status, xray_trace_id

__all__ = ["MAX_DOCUMENT_BYTES", "document_from_span", "documents_from_spans", "sanitize_name"]

MAX_DOCUMENT_BYTES = 64 * 1024
_NAME_EXTRA = frozenset("_.:/%&#=+-@ ")
_MAX_NAME = 200
_MAX_ANNOTATION_TEXT = 1000
_MAX_HTTP_TEXT = 250


def sanitize_name(text: str, fallback: str = "unknown") -> str:
    """A segment or subsegment name X-Ray accepts: letters, digits, spaces and ``_.:/%&#=+-@``.

    >>> sanitize_name("GET /orders?id=1")
    'GET /orders_id=1'
    """
    out = "".join(c if (c.isalnum() or c in _NAME_EXTRA) else "_" for c in text[:_MAX_NAME])
    return out if out.strip() else fallback


def _annotation_key(key: str) -> str:
    return "".join(c if (c.isascii() and (c.isalnum() or c == "_")) else "_" for c in key[:500]) or "_"


def _http_block(span: Span) -> dict[str, Any]:
    attrs = span.attributes
    request: dict[str, Any] = {}
    for key, names in (
        ("method", (conv.HTTP_METHOD, conv.HTTP_METHOD_OLD)),
        ("url", (conv.HTTP_URL, conv.HTTP_URL_OLD)),
        ("user_agent", (conv.HTTP_USER_AGENT, conv.HTTP_USER_AGENT_OLD)),
        ("client_ip", (conv.HTTP_CLIENT_IP, conv.HTTP_CLIENT_IP_OLD)),
    ):
        for name in names:
            value = attrs.get(name)
            if isinstance(value, str) and value:
                request[key] = value[:_MAX_HTTP_TEXT]
                break
    block: dict[str, Any] = {}
    if request:
        block["request"] = request
    code = conv.http_status(attrs)
    if code is not None:
        block["response"] = {"status": code}
    return block


def _seconds(ns: int) -> float:
    return ns / 1e9


def document_from_span(span: Span) -> dict[str, Any]:
    """One X-Ray document for one span (see the module docstring for segment vs subsegment)."""
    is_segment = span.parent_id is None or span.kind in (Kind.SERVER, Kind.CONSUMER)
    doc: dict[str, Any] = {
        "trace_id": xray_trace_id(span.trace_id),
        "id": span.span_id,
        "start_time": _seconds(span.start_ns),
    }
    if is_segment:
        doc["name"] = sanitize_name(span.service or span.name)
        if span.origin:
            doc["origin"] = span.origin
        account = span.resource.get(conv.CLOUD_ACCOUNT)
        if isinstance(account, str) and account:
            doc["aws"] = {"account_id": account}
        user = span.attributes.get(conv.USER)
        if isinstance(user, str) and user:
            doc["user"] = user[:_MAX_HTTP_TEXT]
    else:
        doc["type"] = "subsegment"
        if span.namespace in ("aws", "remote"):
            doc["namespace"] = span.namespace
            doc["name"] = sanitize_name(span.remote_service or span.name)
        else:
            doc["name"] = sanitize_name(span.name)
    if span.parent_id:
        doc["parent_id"] = span.parent_id
    if span.in_progress:
        doc["in_progress"] = True
    else:
        doc["end_time"] = _seconds(span.end_ns)
    if span.status is Status.FAULT:
        doc["fault"] = True
    elif span.status is Status.THROTTLE:
        doc["error"] = True
        doc["throttle"] = True
    elif span.status is Status.ERROR:
        doc["error"] = True
    http = _http_block(span)
    if http:
        doc["http"] = http
    if span.annotations:
        annotations: dict[str, Any] = {}
        for key, value in span.annotations.items():
            annotations[_annotation_key(key)] = value[:_MAX_ANNOTATION_TEXT] if isinstance(value, str) else value
        doc["annotations"] = annotations
    metadata: dict[str, Any] = {}
    if span.attributes:
        metadata["default"] = dict(span.attributes)
    if is_segment and span.name and span.name != doc["name"]:
        metadata.setdefault("default", {})["spanscope.operation"] = span.name
    if metadata:
        doc["metadata"] = metadata
    if span.exceptions:
        doc["cause"] = {
            "exceptions": [
                {"id": os.urandom(8).hex(), "type": e.type, "message": e.message, "remote": e.remote}
                for e in span.exceptions
            ]
        }
    if span.links:
        doc.setdefault("metadata", {})["spanscope.links"] = {
            "links": [{"trace_id": link.trace_id, "span_id": link.span_id} for link in span.links]
        }
    return doc


def _encode(doc: dict[str, Any]) -> bytes:
    return orjson.dumps(doc, default=str)


def documents_from_spans(spans: Iterable[Span]) -> list[str]:
    """JSON texts of the documents for ``spans``, each under 64 KB (oversized parts dropped)."""
    out: list[str] = []
    for span in spans:
        doc = document_from_span(span)
        data = _encode(doc)
        if len(data) > MAX_DOCUMENT_BYTES:
            doc.pop("metadata", None)
            data = _encode(doc)
        if len(data) > MAX_DOCUMENT_BYTES:
            doc.pop("cause", None)
            doc.pop("annotations", None)
            data = _encode(doc)
        out.append(data.decode())
    return out
