"""The `show --json` document of one trace (DESIGN.md §4): spans in tree order, failure roles, critical path."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

import orjson
from spanscope.collectors.formats.otlp_json_out import json_attributes
from spanscope.collectors.model import Span, Trace


class PathSegment(Protocol):
    """A stretch of the critical path (analysis.CriticalSegment satisfies it)."""

    @property
    def span_id(self) -> str: ...
    @property
    def start_ns(self) -> int: ...
    @property
    def end_ns(self) -> int: ...


def span_to_json(span: Span, *, failure_role: str | None, depth: int | None) -> dict[str, Any]:
    return {
        "span_id": span.span_id,
        "parent_id": span.parent_id,
        "service": span.service,
        "name": span.name,
        "kind": span.kind.value,
        "start": span.start_ns / 1e9,
        "end": span.end_ns / 1e9,
        "status": span.status.value,
        "origin": span.origin or None,
        "attributes": json_attributes(span.attributes),  # NaN / ±Infinity as OTLP JSON writes them
        "failure_role": failure_role,
        "annotations": json_attributes(span.annotations),
        "namespace": span.namespace or None,
        "remote_service": span.remote_service or None,
        "status_message": span.status_message or None,
        "in_progress": span.in_progress,
        "depth": depth,
        "exceptions": [
            {"type": x.type, "message": x.message, "stacktrace": x.stacktrace, "remote": x.remote}
            for x in span.exceptions
        ],
        "events": [
            {"name": e.name, "time": e.time_ns / 1e9, "attributes": json_attributes(e.attributes)} for e in span.events
        ],
        "links": [
            {"trace_id": lk.trace_id, "span_id": lk.span_id, "attributes": json_attributes(lk.attributes)}
            for lk in span.links
        ],
        "resource": json_attributes(span.resource),
    }


SpanExtra = Mapping[str, Mapping[str, Any]]


def trace_to_json(
    trace: Trace,
    path: Sequence[PathSegment],
    roles: Mapping[str, Any],
    *,
    span_extra: SpanExtra | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Spans in depth-first order (duplicated records last, marked), then the critical path.

    ``span_extra`` adds keys to the entries of the spans it names (``clock_skew_s``); ``extra`` adds or
    replaces keys of the document (a workflow's ``critical_path`` and ``workflow``).
    """
    doc = _document(trace, path, list(_span_entries(trace, roles, span_extra)))
    doc.update(extra or {})
    return doc


def iter_trace_json(
    trace: Trace,
    path: Sequence[PathSegment],
    roles: Mapping[str, Any],
    *,
    span_extra: SpanExtra | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Iterator[bytes]:
    """``trace_to_json`` as indented JSON (orjson ``OPT_INDENT_2``), byte for byte, in pieces: one per span.

    Only one span's entry exists at a time, so a million-span trace is written without holding a
    million dicts and the whole text (issue 15). Strings in JSON hold no raw newline, so a span's
    text is indented for its depth in the document by indenting each of its lines.
    """
    option = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
    doc = _document(trace, path, [])
    doc.update(extra or {})
    keys = list(doc)
    at = keys.index("spans")
    head = orjson.dumps({k: doc[k] for k in keys[:at]}, option=option)
    yield head[: -len(b"\n}")] + b',\n  "spans": ['
    separator = b"\n    "
    for entry in _span_entries(trace, roles, span_extra):
        yield separator + orjson.dumps(entry, option=option).replace(b"\n", b"\n    ")
        separator = b",\n    "
    yield b"]" if separator == b"\n    " else b"\n  ]"
    tail = orjson.dumps({k: doc[k] for k in keys[at + 1 :]}, option=option)
    yield b",\n" + tail[len(b"{\n") :]


def _span_entries(trace: Trace, roles: Mapping[str, Any], span_extra: SpanExtra | None) -> Iterator[dict[str, Any]]:
    for node, depth in trace.preorder():
        span = trace.spans[node]
        role = roles.get(span.span_id)
        entry = span_to_json(span, failure_role=_role_text(role), depth=depth)
        if span_extra and span.span_id in span_extra:
            entry.update(span_extra[span.span_id])
        yield entry
    for node in trace.duplicates:
        entry = span_to_json(trace.spans[node], failure_role=None, depth=None)
        entry["duplicate"] = True
        yield entry


def _document(trace: Trace, path: Sequence[PathSegment], spans: list[dict[str, Any]]) -> dict[str, Any]:
    root = trace.root
    return {
        "trace_id": trace.trace_id,
        "xray_id": f"1-{trace.trace_id[:8]}-{trace.trace_id[8:]}",
        "root_service": root.service if root else None,
        "root_name": root.name if root else None,
        "start": trace.start_ns / 1e9,
        "duration": max(0, trace.end_ns - trace.start_ns) / 1e9,
        "spans": spans,
        "critical_path": [{"span_id": s.span_id, "start": s.start_ns / 1e9, "end": s.end_ns / 1e9} for s in path],
        "anomalies": {
            "missing_parent": [trace.spans[i].span_id for i in trace.missing_parent],
            "cycle_breaks": [trace.spans[i].span_id for i in trace.cycle_breaks],
            "duplicates": [trace.spans[i].span_id for i in trace.duplicates],
        },
    }


def _role_text(role: Any) -> str | None:
    if role is None:
        return None
    value = getattr(role, "value", role)
    return str(value)
