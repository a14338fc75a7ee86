"""Model spans → X-Ray segment documents (for forwarding with PutTraceSegments).

Each span becomes one document: a *segment* when it is a root, a server or a consumer span (the
work of a service), otherwise an independently sent *subsegment* (``"type": "subsegment"`` with its
``trace_id`` and ``parent_id``), which X-Ray joins to its segment by parent id. Names and annotation
keys are sanitized to what the segment document schema allows; a document is kept under 64 KB by
dropping metadata, then exception details. Limits, ids, name rules and the ``http``, ``aws`` and ``cause``
blocks are the X-Ray translation core the tracer uses too (:mod:`spanscope.tracer.xray.core`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from spanscope.collectors import conventions as conv
from spanscope.collectors.model import Kind, Span
from spanscope.tracer.xray.core.blocks import aws_block, exception_entry, http_block, status_flags
from spanscope.tracer.xray.core.ids import xray_trace_id
from spanscope.tracer.xray.core.text import (
    MAX_DOCUMENT_BYTES,
    MAX_HTTP_FIELD_CHARS,
    annotation_value,
    fix_annotation_key,
    fix_segment_name,
)

__all__ = ["MAX_DOCUMENT_BYTES", "document_from_span", "documents_from_spans", "sanitize_name"]


def sanitize_name(text: str, fallback: str = "unknown") -> str:
    """A segment or subsegment name X-Ray accepts (the core's rule), other characters replaced by ``_``.

    >>> sanitize_name("GET /orders?id=1")
    'GET /orders_id=1'
    """
    return fix_segment_name(text, replacement="_", fallback=fallback)


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
        user = span.attributes.get(conv.USER)
        if isinstance(user, str) and user:
            doc["user"] = user[:MAX_HTTP_FIELD_CHARS]
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
    doc.update(status_flags(str(span.status)))
    http = http_block(span.attributes, server=span.kind is Kind.SERVER)
    if http:
        doc["http"] = http
    aws = aws_block(span.attributes, span.resource, segment=is_segment)
    if aws:
        doc["aws"] = aws
    annotations: dict[str, Any] = {}
    for key, value in span.annotations.items():
        legal = annotation_value(value)
        if legal is not None:
            annotations[fix_annotation_key(key) or "_"] = legal
    if annotations:
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
                exception_entry(
                    span.span_id, index, type_name=e.type, message=e.message, remote=e.remote, stacktrace=e.stacktrace
                )
                for index, e in enumerate(span.exceptions)
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
