"""The row codec: a Span to the spans table's row and back, and the exact JSON of its body and resources.

Columns hold what queries select on (ids, service, name, kind, times, status); the body holds the rest
as compact JSON with short keys, written only when present. ``loads_exact`` reads back what
``dumps_exact`` wrote, NaN, infinities and big integers included.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any

import orjson
from spanscope.collectors.model import Kind, Span, SpanEvent, SpanException, SpanLink, Status

# the spans table's columns in the order ``span_from_row`` reads them
SPAN_COLUMNS = (
    "trace_id, span_id, parent_id, service, name, kind, start_ns, end_ns, status, in_progress, resource_id, body"
)
ENUM_VALUES: dict[Kind | Status, str] = {**{k: k.value for k in Kind}, **{s: s.value for s in Status}}


class SharedEmpties:
    """Empty containers that the spans of one read share instead of five new ones each (issue 15).

    A million-span trace mostly has no events, exceptions, links or annotations: one empty list or
    dict per field for the whole read, not one per span (~230 bytes a span). Like the shared
    resource dict, they are read-only: spans read from the store are not edited in place.
    """

    __slots__ = ("annotations", "attributes", "events", "exceptions", "links")

    def __init__(self) -> None:
        self.attributes: dict[str, Any] = {}
        self.annotations: dict[str, Any] = {}
        self.events: list[SpanEvent] = []
        self.exceptions: list[SpanException] = []
        self.links: list[SpanLink] = []


def span_from_row(row: Sequence[Any], resource: dict[str, Any], empty: SharedEmpties | None = None) -> Span:
    """The Span of one ``SPAN_COLUMNS`` row of the spans table, given its resource (salvage reads rows itself).

    With ``empty``, its absent attributes, annotations, events, exceptions and links are those shared
    containers; without, new ones.
    """
    (
        trace_id,
        span_id,
        parent_id,
        service,
        name,
        kind,
        start_ns,
        end_ns,
        status,
        in_progress,
        _rid,
        body,
    ) = row
    extra = decode_body(body)
    get = extra.get
    e = empty or SharedEmpties()
    return Span(
        trace_id,
        span_id,
        parent_id,
        service,
        name,
        _KINDS.get(kind) or Kind(kind),  # a dict lookup, not Enum.__call__: the hot path of every read
        start_ns,
        end_ns,
        _STATUSES.get(status) or Status(status),
        get("m", ""),
        get("o", ""),
        get("ns", ""),
        get("rs", ""),
        get("a") or e.attributes,
        get("an") or e.annotations,
        resource,
        [SpanEvent(x[0], x[1], x[2]) for x in extra["ev"]] if "ev" in extra else e.events,
        [SpanException(x[0], x[1], x[2], x[3], x[4]) for x in extra["ex"]] if "ex" in extra else e.exceptions,
        [SpanLink(x[0], x[1], x[2]) for x in extra["l"]] if "l" in extra else e.links,
        bool(in_progress),
    )


_KINDS: dict[str, Kind] = {k.value: k for k in Kind}
_STATUSES: dict[str, Status] = {s.value: s for s in Status}


def encode_body(span: Span) -> bytes:
    body: dict[str, Any] = {}
    if span.status_message:
        body["m"] = span.status_message
    if span.origin:
        body["o"] = span.origin
    if span.namespace:
        body["ns"] = span.namespace
    if span.remote_service:
        body["rs"] = span.remote_service
    if span.attributes:
        body["a"] = span.attributes
    if span.annotations:
        body["an"] = span.annotations
    if span.events:
        body["ev"] = [(e.name, e.time_ns, e.attributes) for e in span.events]
    if span.exceptions:
        body["ex"] = [(x.type, x.message, x.stacktrace, x.remote, x.time_ns) for x in span.exceptions]
    if span.links:
        body["l"] = [(lk.trace_id, lk.span_id, lk.attributes) for lk in span.links]
    try:  # the common case first: string keys, finite numbers (orjson's plain path is the fastest)
        out = orjson.dumps(body)
    except orjson.JSONEncodeError:  # non-string keys, big integers: the exact path
        return dumps_exact(body, orjson.OPT_NON_STR_KEYS)
    return out if b"null" not in out or not _has_non_finite(body) else dumps_exact(body, orjson.OPT_NON_STR_KEYS)


def dumps_exact(value: Any, option: int) -> bytes:
    """JSON that reads back as written: orjson, else the stdlib for what orjson cannot keep exactly.

    orjson writes NaN and ±Infinity as ``null`` and refuses integers beyond 64 bits; the stdlib writes
    ``NaN``/``Infinity`` literals and any integer, and ``loads_exact`` reads both back. Only output
    containing ``null`` can hide a non-finite double, so only that is scanned.
    """
    try:
        out = orjson.dumps(value, option=option)
    except orjson.JSONEncodeError:  # e.g. integers beyond 64 bits: the stdlib keeps them exactly
        return json.dumps(value, default=str, sort_keys=bool(option & orjson.OPT_SORT_KEYS)).encode()
    if b"null" in out and _has_non_finite(value):
        return json.dumps(value, default=str, sort_keys=bool(option & orjson.OPT_SORT_KEYS)).encode()
    return out


def _has_non_finite(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is float:
            if not math.isfinite(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return False


# orjson reads an integer beyond 64 bits as a float (2**70 + 1 comes back as 2**70): text that may hold one
# (20 digits in a row, or a minus and 19) is read by the stdlib, which keeps every integer exactly
_LONG_INT_BYTES = re.compile(rb"[0-9]{20}|-[0-9]{19}")
_LONG_INT_TEXT = re.compile(r"[0-9]{20}|-[0-9]{19}")


def loads_exact(body: bytes | str) -> Any:
    """A stored JSON column (body, resource; the archive's JSON text) as written: see ``dumps_exact``."""
    long_int = _LONG_INT_TEXT.search(body) if isinstance(body, str) else _LONG_INT_BYTES.search(body)
    if long_int is not None:
        return json.loads(body)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:  # NaN / Infinity literals: written by the stdlib
        return json.loads(body)


def decode_body(body: bytes) -> dict[str, Any]:
    value = loads_exact(body)
    return value if isinstance(value, dict) else dict(value)


def decode_resource(body: bytes) -> dict[str, Any]:
    """A resources-table body as the attribute dict it was written from."""
    return dict(loads_exact(body))
