"""The one span model: Span, Trace and its tree index, status rules, and X-Ray ⇔ OpenTelemetry ids.

Every wire format is converted into these types at the edge (``collectors.formats``) and nothing
else travels further in. Real data has missing parents, duplicated ids, parent cycles and very deep
chains: a Trace represents them all, never recurses and never raises on them.

>>> t = Trace("5759e988bd862e3fe1be46a994272793", [
...     Span("5759e988bd862e3fe1be46a994272793", "a" * 16, None, "api", "GET /", Kind.SERVER, 0, 10),
...     Span("5759e988bd862e3fe1be46a994272793", "b" * 16, "a" * 16, "api", "query", Kind.CLIENT, 2, 5),
... ])
>>> [t.spans[i].name for i, _depth in t.preorder()]
['GET /', 'query']
"""

from __future__ import annotations

import os
import time
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeAlias

from spanscope.collectors.errors import InvalidIdError

AttrScalar = str | bool | int | float | None
AttrValue: TypeAlias = "AttrScalar | list[AttrValue]"  # arrays may nest (OTLP arrays of arrays)
Attributes = dict[str, AttrValue]
AnnotationValue = str | bool | int | float


class Kind(StrEnum):
    """OpenTelemetry span kind."""

    SERVER = "server"
    CLIENT = "client"
    PRODUCER = "producer"
    CONSUMER = "consumer"
    INTERNAL = "internal"


class Status(StrEnum):
    """Outcome with X-Ray semantics: 4xx error, 429 throttle, 5xx or an exception fault."""

    OK = "ok"
    ERROR = "error"
    FAULT = "fault"
    THROTTLE = "throttle"

    @property
    def failed(self) -> bool:
        return self is not Status.OK


def status_from_http(code: int | None) -> Status:
    """X-Ray's rule for an HTTP status code.

    >>> [status_from_http(c).value for c in (200, 404, 429, 503, None)]
    ['ok', 'error', 'throttle', 'fault', 'ok']
    """
    if code is None:
        return Status.OK
    if code == 429:
        return Status.THROTTLE
    if 400 <= code < 500:
        return Status.ERROR
    if code >= 500:
        return Status.FAULT
    return Status.OK


def status_from_flags(*, error: bool = False, fault: bool = False, throttle: bool = False) -> Status:
    """Collapse X-Ray's three flags into one status; fault outranks throttle outranks error."""
    if fault:
        return Status.FAULT
    if throttle:
        return Status.THROTTLE
    if error:
        return Status.ERROR
    return Status.OK


# --- ids ----------------------------------------------------------------------------------------------

_HEX = frozenset("0123456789abcdef")
_TRACE_ID_HELP = "expected 32 hex digits or the X-Ray form 1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx"


def _is_hex(value: str) -> bool:
    return bool(value) and _HEX.issuperset(value)


def normalize_trace_id(value: str) -> str:
    """A trace id in either form as 32 lowercase hex digits; InvalidIdError names a bad value.

    >>> normalize_trace_id("1-5759e988-bd862e3fe1be46a994272793")
    '5759e988bd862e3fe1be46a994272793'
    >>> normalize_trace_id("5759E988BD862E3FE1BE46A994272793")
    '5759e988bd862e3fe1be46a994272793'
    """
    if not isinstance(value, str):
        raise InvalidIdError(f"invalid trace id {value!r}: {_TRACE_ID_HELP}")
    text = value.strip().lower()
    if len(text) == 35 and text.startswith("1-") and text[10] == "-":
        text = text[2:10] + text[11:]
    if len(text) != 32 or not _is_hex(text) or text == "0" * 32:
        raise InvalidIdError(f"invalid trace id {value!r}: {_TRACE_ID_HELP}")
    return text


def otel_trace_id(xray_id: str) -> str:
    """The OpenTelemetry form of an X-Ray trace id (only the X-Ray form is accepted).

    >>> otel_trace_id("1-5759e988-bd862e3fe1be46a994272793")
    '5759e988bd862e3fe1be46a994272793'
    """
    if not (isinstance(xray_id, str) and xray_id.startswith("1-") and len(xray_id) == 35):
        raise InvalidIdError(f"invalid X-Ray trace id {xray_id!r}: expected 1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx")
    return normalize_trace_id(xray_id)


def xray_trace_id(trace_id: str) -> str:
    """The X-Ray form of a trace id given in either form.

    >>> xray_trace_id("5759e988bd862e3fe1be46a994272793")
    '1-5759e988-bd862e3fe1be46a994272793'
    """
    text = normalize_trace_id(trace_id)
    return f"1-{text[:8]}-{text[8:]}"


def normalize_span_id(value: str) -> str:
    """A span id as 16 lowercase hex digits; InvalidIdError names a bad value."""
    if not isinstance(value, str):
        raise InvalidIdError(f"invalid span id {value!r}: expected 16 hex digits")
    text = value.strip().lower()
    if len(text) != 16 or not _is_hex(text) or text == "0" * 16:
        raise InvalidIdError(f"invalid span id {value!r}: expected 16 hex digits")
    return text


def new_trace_id(now_s: float | None = None) -> str:
    """A new trace id that X-Ray accepts: epoch seconds in the first 8 hex digits."""
    seconds = int(time.time() if now_s is None else now_s) & 0xFFFFFFFF
    return f"{seconds:08x}{os.urandom(12).hex()}"


def new_span_id() -> str:
    """A new random, non-zero 16-hex span id."""
    while True:
        candidate = os.urandom(8).hex()
        if candidate != "0" * 16:
            return candidate


# --- spans --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class SpanException:
    """An exception recorded on a span (X-Ray ``cause.exceptions`` or an OTel exception event)."""

    type: str
    message: str
    stacktrace: str = ""
    remote: bool = False
    time_ns: int | None = None


@dataclass(slots=True)
class SpanEvent:
    """A timestamped event on a span that is not an exception."""

    name: str
    time_ns: int
    attributes: Attributes = field(default_factory=dict)


@dataclass(slots=True)
class SpanLink:
    """Causality to a span of possibly another trace (SQS producer, Batch submitter, Step Functions)."""

    trace_id: str
    span_id: str
    attributes: Attributes = field(default_factory=dict)


@dataclass(slots=True)
class Span:
    """One unit of work. Times are integer Unix nanoseconds; ids are lowercase hex.

    ``namespace`` is X-Ray's (``aws`` or ``remote``) for client calls whose target is an inferred
    downstream node named ``remote_service``. ``attributes`` holds span attributes and flattened
    X-Ray metadata; ``annotations`` the indexed X-Ray annotations; ``resource`` the process's resource.
    """

    trace_id: str
    span_id: str
    parent_id: str | None
    service: str
    name: str
    kind: Kind = Kind.INTERNAL
    start_ns: int = 0
    end_ns: int = 0
    status: Status = Status.OK
    status_message: str = ""
    origin: str = ""
    namespace: str = ""
    remote_service: str = ""
    attributes: Attributes = field(default_factory=dict)
    annotations: dict[str, AnnotationValue] = field(default_factory=dict)
    resource: Attributes = field(default_factory=dict)
    events: list[SpanEvent] = field(default_factory=list)
    exceptions: list[SpanException] = field(default_factory=list)
    links: list[SpanLink] = field(default_factory=list)
    in_progress: bool = False

    @property
    def duration_ns(self) -> int:
        """End minus start, never negative (negative durations in real data count as zero)."""
        return max(0, self.end_ns - self.start_ns)

    @property
    def failed(self) -> bool:
        return self.status is not Status.OK


# --- traces -------------------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class TraceSummary:
    """One line of ``spanscope traces``: the keys of ``traces --json`` (times in seconds there)."""

    trace_id: str
    root_service: str
    root_name: str
    start_ns: int
    duration_ns: int
    span_count: int
    error: bool
    fault: bool
    throttle: bool
    services: tuple[str, ...]
    in_progress: bool = False

    @property
    def xray_id(self) -> str:
        return f"1-{self.trace_id[:8]}-{self.trace_id[8:]}"

    def to_json(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "xray_id": self.xray_id,
            "root_service": self.root_service,
            "root_name": self.root_name,
            "start": self.start_ns / 1e9,
            "duration": self.duration_ns / 1e9,
            "span_count": self.span_count,
            "error": self.error,
            "fault": self.fault,
            "throttle": self.throttle,
            "services": list(self.services),
            "in_progress": self.in_progress,
        }


_NONE = -1


class Trace:
    """The spans of one trace and an index of their tree.

    Nodes are positions in ``spans``. When a span id occurs more than once the completed, latest-ending
    record is the tree node and the others are listed in ``duplicates``. Spans whose parent is absent
    become roots and are listed in ``missing_parent``; a parent cycle is broken at its earliest span,
    which becomes a root and is listed in ``cycle_breaks``.
    """

    __slots__ = (
        "_by_id",
        "_first",
        "_kids",
        "_parent",
        "_pos",
        "cycle_breaks",
        "duplicates",
        "missing_parent",
        "roots",
        "spans",
        "trace_id",
    )

    def __init__(self, trace_id: str, spans: Sequence[Span]) -> None:
        self.trace_id = trace_id
        self.spans: list[Span] = list(spans)
        self._pos: dict[int, int] | None = None  # built by the first index_of: show never needs it
        self._by_id: dict[str, int] = {}
        self.duplicates: list[int] = []
        self.missing_parent: list[int] = []
        self.cycle_breaks: list[int] = []
        # the tree as flat int arrays (4 bytes a node, not a list per node): the children of node i are
        # _kids[_first[i]:_first[i + 1]], ordered by start time
        self._parent = array("i", [_NONE]) * len(self.spans)
        self._first = array("i")
        self._kids = array("i")
        self.roots: list[int] = []
        self._index()

    # building ------------------------------------------------------------------------------------
    def _index(self) -> None:
        spans = self.spans
        by_id = self._by_id
        for i, span in enumerate(spans):
            held = by_id.get(span.span_id)
            if held is None:
                by_id[span.span_id] = i
            elif _better_record(span, spans[held]):
                by_id[span.span_id] = i
                self.duplicates.append(held)
            else:
                self.duplicates.append(i)
        canonical = bytearray(len(spans))
        for i, s in enumerate(spans):
            if by_id.get(s.span_id) == i:
                canonical[i] = 1
        parent = self._parent
        for i, span in enumerate(spans):
            if not canonical[i] or span.parent_id is None:
                continue
            p = by_id.get(span.parent_id)
            if p is None or p == i:
                self.missing_parent.append(i)
            else:
                parent[i] = p
        self._break_cycles(canonical)
        count = array("i", [0]) * (len(spans) + 1)  # children per node, then where each node's run starts
        for i in range(len(spans)):
            if not canonical[i]:
                continue
            p = parent[i]
            if p == _NONE:
                self.roots.append(i)
            else:
                count[p + 1] += 1
        for i in range(len(spans)):
            count[i + 1] += count[i]
        first = self._first = count
        kids = self._kids = array("i", [0]) * first[len(spans)]
        fill = array("i", first)
        for i in range(len(spans)):
            p = parent[i]
            if p != _NONE:
                kids[fill[p]] = i
                fill[p] += 1
        del fill
        for p in range(len(spans)):
            a, b = first[p], first[p + 1]
            if b - a > 1:
                kids[a:b] = array("i", sorted(kids[a:b], key=lambda k: (spans[k].start_ns, k)))
        self.roots.sort(key=lambda k: (spans[k].parent_id is not None, spans[k].start_ns, k))
        self.duplicates.sort()
        self.missing_parent.sort()

    def _break_cycles(self, canonical: bytearray) -> None:
        parent = self._parent
        spans = self.spans
        state = bytearray(len(spans))  # 0 unseen, 1 on the current path, 2 settled
        for start in range(len(spans)):
            if state[start] or not canonical[start]:
                continue
            path: list[int] = []
            node = start
            while node != _NONE and state[node] == 0:
                state[node] = 1
                path.append(node)
                node = parent[node]
            if node != _NONE and state[node] == 1:
                cycle = path[path.index(node) :]
                breaker = min(cycle, key=lambda k: (spans[k].start_ns, k))
                parent[breaker] = _NONE
                self.cycle_breaks.append(breaker)
            for k in path:
                state[k] = 2

    # queries -------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.spans)

    def index_of(self, span: Span) -> int:
        """Position of a span object of this trace."""
        if self._pos is None:
            self._pos = {id(s): i for i, s in enumerate(self.spans)}
        return self._pos[id(span)]

    def get(self, span_id: str) -> Span | None:
        """The (canonical) span with this id, or None."""
        i = self._by_id.get(span_id)
        return None if i is None else self.spans[i]

    def position(self, span_id: str) -> int | None:
        return self._by_id.get(span_id)

    def parent(self, i: int) -> int | None:
        p = self._parent[i]
        return None if p == _NONE else p

    def children(self, i: int) -> Sequence[int]:
        """Children of node ``i``, ordered by start time."""
        return self._kids[self._first[i] : self._first[i + 1]]

    @property
    def root(self) -> Span | None:
        """The entry span: a span without parent id if any (earliest first), else the earliest orphan."""
        return self.spans[self.roots[0]] if self.roots else None

    def preorder(self, start: int | None = None) -> Iterator[tuple[int, int]]:
        """(node, depth) in depth-first pre-order from ``start`` or from every root. Iterative."""
        stack: list[tuple[int, int]] = [(start, 0)] if start is not None else [(r, 0) for r in reversed(self.roots)]
        first, kids = self._first, self._kids
        while stack:
            node, depth = stack.pop()
            yield node, depth
            for k in range(first[node + 1] - 1, first[node] - 1, -1):
                stack.append((kids[k], depth + 1))

    def postorder(self) -> list[int]:
        """Every tree node, children before their parent. Iterative."""
        order = [node for node, _ in self.preorder()]
        order.reverse()
        return order

    # summary -------------------------------------------------------------------------------------
    def canonical(self) -> list[Span]:
        """Every span once: duplicated ids contribute only their chosen record."""
        if not self.duplicates:
            return self.spans
        dropped = set(self.duplicates)
        return [s for i, s in enumerate(self.spans) if i not in dropped]

    @property
    def start_ns(self) -> int:
        starts = [s.start_ns for s in self.spans if s.start_ns > 0]
        return min(starts) if starts else 0

    @property
    def end_ns(self) -> int:
        return max((s.end_ns for s in self.spans), default=0)

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(sorted({s.service for s in self.spans if s.service}))

    def summary(self) -> TraceSummary:
        root = self.root
        start = self.start_ns
        spans = self.canonical()
        statuses = {s.status for s in spans}
        return TraceSummary(
            trace_id=self.trace_id,
            root_service=root.service if root else "",
            root_name=root.name if root else "",
            start_ns=start,
            duration_ns=max(0, self.end_ns - start),
            span_count=len(spans),
            error=Status.ERROR in statuses or Status.THROTTLE in statuses,
            fault=Status.FAULT in statuses,
            throttle=Status.THROTTLE in statuses,
            services=self.services,
            in_progress=any(s.in_progress for s in spans),
        )


def _better_record(candidate: Span, held: Span) -> bool:
    """Whether ``candidate`` should replace ``held`` as the record of a duplicated span id."""
    if candidate.in_progress != held.in_progress:
        return held.in_progress
    return candidate.end_ns > held.end_ns


def group_traces(spans: Sequence[Span]) -> list[Trace]:
    """Split spans into Traces by trace id, keeping first-seen order of traces and spans."""
    buckets: dict[str, list[Span]] = {}
    for span in spans:
        buckets.setdefault(span.trace_id, []).append(span)
    return [Trace(tid, group) for tid, group in buckets.items()]
