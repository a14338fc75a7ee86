"""Wire formats converted into the model: X-Ray documents, OTLP (JSON and protobuf), Jaeger, Zipkin.

This module owns what the format converters share: the result types (``ParseResult``, ``RecordError``)
and the small conversions every format needs (seconds to integer nanoseconds without float drift,
hex ids of any width, flattening nested values into model attributes). Each format lives in its own
module; none of them touches the store or the file system (``collectors.importers`` does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from spanscope.collectors.conventions import XRAY_ANNOTATIONS_KEY
from spanscope.collectors.errors import InvalidSpanError, SpanscopeError
from spanscope.collectors.model import (
    AnnotationValue,
    Attributes,
    AttrValue,
    Span,
    SpanEvent,
    SpanException,
)

__all__ = [
    "RECORD_ERRORS",
    "ParseResult",
    "RecordError",
    "flatten_into",
    "hex_id",
    "put_flattened",
    "record_reason",
    "seconds_to_ns",
    "take_annotations",
]


@dataclass(slots=True, frozen=True)
class RecordError:
    """One record that could not be converted: where it is (line, index or JSON path) and why."""

    position: str
    reason: str

    def __str__(self) -> str:
        return f"{self.position}: {self.reason}" if self.position else self.reason


@dataclass(slots=True)
class ParseResult:
    """Spans converted from one input, and the records that were skipped."""

    spans: list[Span] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)

    def extend(self, other: ParseResult) -> None:
        self.spans.extend(other.spans)
        self.errors.extend(other.errors)


# What converting one malformed record may raise: our InvalidSpanError (a ValueError) and the odd
# TypeError/AttributeError of a value of an unexpected JSON type deep inside a record.
RECORD_ERRORS = (ValueError, TypeError, AttributeError, KeyError)
_MAX_REASON = 300


def record_reason(exc: BaseException) -> str:
    """The one-line reason for a skipped record, never longer than a few hundred characters."""
    text = str(exc) if isinstance(exc, SpanscopeError) else f"unexpected structure ({type(exc).__name__}: {exc})"
    text = " ".join(text.split())
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


_NS_PER_S = 1_000_000_000
_NS_DECIMAL = Decimal(_NS_PER_S)


def seconds_to_ns(value: object, what: str = "time") -> int:
    """Unix seconds (a JSON number, possibly fractional) as integer nanoseconds, exactly as written.

    A float is converted through its shortest decimal representation, so ``1478293361.271`` becomes
    ``1478293361271000000`` rather than the ``...270999908`` its binary value would give.

    >>> seconds_to_ns(1478293361.271)
    1478293361271000000
    >>> seconds_to_ns(1700000000)
    1700000000000000000
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidSpanError(f"{what} is not a number: {value!r}")
    if isinstance(value, int):
        return _ns_in_range(value * _NS_PER_S, what, value)
    text = repr(value) if isinstance(value, float) else value.strip()
    whole, dot, frac = text.partition(".")
    if whole.isdigit() and len(whole) <= 12 and (not dot or (frac.isdigit() and len(frac) <= 9)):
        return _ns_in_range(int(whole) * _NS_PER_S + (int(frac.ljust(9, "0")) if frac else 0), what, value)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise InvalidSpanError(f"{what} is not a number: {value!r}") from None
    if not number.is_finite():
        raise InvalidSpanError(f"{what} is not a finite number: {value!r}")
    if number.adjusted() > 12:  # before converting: "1e99999999" must not build a huge integer
        raise InvalidSpanError(f"{what} is out of range: {value!r:.40}")
    return _ns_in_range(int((number * _NS_DECIMAL).to_integral_value()), what, value)


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _ns_in_range(ns: int, what: str, value: object) -> int:
    """``ns`` if it fits the store's signed 64-bit columns, else InvalidSpanError (not a failed batch)."""
    if not _INT64_MIN <= ns <= _INT64_MAX:
        raise InvalidSpanError(f"{what} is out of range: {value!r:.40}")
    return ns


_HEXDIGITS = frozenset("0123456789abcdef")


def hex_id(value: object, width: int, what: str) -> str:
    """A lowercase hex id left-padded with zeros to ``width`` digits (Jaeger and Zipkin drop them).

    >>> hex_id("ABC", 16, "span id")
    '0000000000000abc'
    """
    if not isinstance(value, str):
        raise InvalidSpanError(f"{what} is missing or not a string: {value!r}")
    text = value.strip().lower()
    if not text or len(text) > width or not _HEXDIGITS.issuperset(text):
        raise InvalidSpanError(f"invalid {what} {value!r}: expected up to {width} hex digits")
    if len(text) < width:
        text = text.rjust(width, "0")
    if text.count("0") == width:
        raise InvalidSpanError(f"invalid {what} {value!r}: all zeros")
    return text


def _is_array(items: list[Any]) -> bool:
    """Whether ``items`` holds only scalars and arrays of them, at any depth (checked iteratively)."""
    stack = [items]
    while stack:
        for item in stack.pop():
            if isinstance(item, list):
                stack.append(item)
            elif not (item is None or isinstance(item, (str, bool, int, float))):
                return False
    return True


def _scalar_list(items: list[Any]) -> AttrValue:
    """A list of scalars (or of lists of them: arrays nest) as is; one holding objects becomes its JSON text."""
    if _is_array(items):
        return list[AttrValue](items)
    return orjson.dumps(items).decode()


def put_flattened(target: Attributes, key: str, value: AttrValue) -> str:
    """Set ``key``, made by flattening a nested value, without overwriting a key already in ``target``.

    A real dotted key (``"a.b"``) and a nested one (``{"a": {"b": ...}}``) flatten to the same name: the
    one set first keeps it and the newcomer takes ``a.b#2`` (``#3``...), so neither value is lost.
    Returns the key used.

    >>> out: Attributes = {"a.b": 1}
    >>> put_flattened(out, "a.b", 2), out
    ('a.b#2', {'a.b': 1, 'a.b#2': 2})
    """
    if key in target:
        n = 2
        while f"{key}#{n}" in target:
            n += 1
        key = f"{key}#{n}"
    target[key] = value
    return key


def flatten_into(target: Attributes, prefix: str, value: object) -> None:
    """Flatten a JSON value into dotted attribute keys under ``prefix`` (iteratively).

    >>> out: Attributes = {}
    >>> flatten_into(out, "metadata.default", {"a": {"b": 1}, "c": [1, 2]})
    >>> out
    {'metadata.default.a.b': 1, 'metadata.default.c': [1, 2]}

    Two values of this call that flatten to one key both stay (see ``put_flattened``); a key that was in
    ``target`` before the call is replaced, as a plain assignment would.
    """
    written: Attributes = {}  # what this call wrote: a collision among these must not lose a value
    stack: list[tuple[str, object]] = [(prefix, value)]
    while stack:
        key, item = stack.pop()
        if isinstance(item, dict):
            if not item:
                put_flattened(written, key, "{}")
            pending = [(f"{key}.{k}" if key else str(k), v) for k, v in item.items()]
            pending.reverse()
            stack.extend(pending)
        elif isinstance(item, list):
            put_flattened(written, key, _scalar_list(item))
        elif item is None or isinstance(item, (str, bool, int, float)):
            put_flattened(written, key, item)
        else:
            put_flattened(written, key, str(item))
    target.update(written)


OTEL_EXCEPTION_EVENT = "exception"  # the span event OpenTelemetry records exceptions as


def add_otel_event(
    name: str, time_ns: int, attributes: Attributes, events: list[SpanEvent], exceptions: list[SpanException]
) -> None:
    """One OpenTelemetry span event, appended to ``exceptions`` when it is an exception event (read from
    its ``exception.*`` attributes), else to ``events``: the rule of both OTLP converters.

    >>> events, exceptions = [], []
    >>> add_otel_event("exception", 5, {"exception.type": "KeyError"}, events, exceptions)
    >>> add_otel_event("retry", 6, {"n": 1}, events, exceptions)
    >>> exceptions[0].type, events[0].name
    ('KeyError', 'retry')
    """
    if name != OTEL_EXCEPTION_EVENT:
        events.append(SpanEvent(name, time_ns, attributes))
        return
    exceptions.append(
        SpanException(
            type=str(attributes.get("exception.type") or ""),
            message=str(attributes.get("exception.message") or ""),
            stacktrace=str(attributes.get("exception.stacktrace") or ""),
            time_ns=time_ns,
        )
    )


def take_annotations(attributes: Attributes) -> dict[str, AnnotationValue]:
    """Move the attributes listed under ``aws.xray.annotations`` (the awsxrayexporter's marker of indexed
    keys) out of ``attributes`` into annotations; the marker itself is removed too.

    >>> attrs = {"aws.xray.annotations": ["order"], "order": "o-1", "other": 2}
    >>> take_annotations(attrs), attrs
    ({'order': 'o-1'}, {'other': 2})
    """
    keys = attributes.pop(XRAY_ANNOTATIONS_KEY, None)
    if keys is None:
        return {}
    names = [keys] if isinstance(keys, str) else keys if isinstance(keys, list) else []
    out: dict[str, AnnotationValue] = {}
    for key in names:
        if isinstance(key, str) and key in attributes:
            value = attributes[key]
            if isinstance(value, str | bool | int | float):
                out[key] = value
                del attributes[key]
    return out
