"""BubbleUp: which attribute values set a selection of traces (errors, a filter, a latency band) apart from the rest.

Every trace is reduced to the set of ``(key, value)`` pairs its spans carry (span attributes,
annotations, resource attributes, plus ``service`` and ``operation``) and to whether it is selected
(the map step, :func:`trace_facts`). For each pair the selected traces and the rest form a 2×2 table
tested for independence (Fisher's exact test when an expected count is under 5, else Pearson's
chi-square); p-values are adjusted for the number of pairs tested (Benjamini-Hochberg) and the
significant pairs are ranked by the difference of their share in the selection and in the rest.

Identifiers explain nothing and would crowd the ranking: keys known to be per-process or
per-request ids (``service.instance.id``, ``faas.invocation_id``, request ids, ...) and keys whose
values are nearly unique per trace are set aside, and reported as set aside.

>>> from spanscope.collectors.model import Span, Status, Trace
>>> def t(i, az, status):
...     tid = f"{i + 1:032x}"
...     return Trace(tid, [Span(tid, "a" * 16, None, "api", "GET /", start_ns=0, end_ns=10, status=status,
...                             resource={"cloud.availability_zone": az, "service.instance.id": f"p{i}"})])
>>> traces = [t(i, "us-east-1c" if i < 8 else "us-east-1a", Status.FAULT if i < 8 else Status.OK)
...           for i in range(30)]
>>> result = bubbleup(traces, Selection.errors())
>>> top = result.findings[0]
>>> (top.key, top.value, top.selected_share, top.rest_share)
('cloud.availability_zone', 'us-east-1c', 1.0, 0.0)
>>> [s.key for s in result.set_aside]
['service.instance.id']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from spanscope.analysis.stats import percentile
from spanscope.collectors.errors import AnalysisError
from spanscope.collectors.model import Trace

__all__ = [
    "BubbleUp",
    "Finding",
    "Selection",
    "SetAside",
    "TraceFacts",
    "bubbleup",
    "bubbleup_facts",
    "is_identifier_key",
    "parse_selection",
    "trace_facts",
]

ALPHA: Final = 0.05
MAX_VALUE_CHARS: Final = 200  # longer values (SQL text, payloads) are not categories
MAX_PAIRS_PER_TRACE: Final = 2000
MAX_DISTINCT: Final = 100  # a key with more distinct values is not a category
UNIQUE_SHARE: Final = 0.5  # distinct values per trace carrying the key above which it is an identifier
MIN_DISTINCT_FOR_UNIQUE: Final = 6
# per-process and per-request identifiers, set aside whatever their cardinality in this sample
IDENTIFIER_KEYS: Final = frozenset(
    {
        "service.instance.id",
        "process.pid",
        "process.parent_pid",
        "thread.id",
        "faas.invocation_id",
        "faas.instance",
        "aws.request_id",
        "aws.requestid",
        "aws.lambda.request_id",
        "http.request_id",
        "request_id",
        "requestid",
        "request.id",
        "x-request-id",
        "http.request.header.x-request-id",
        "http.request.header.x_request_id",
        "messaging.message.id",
        "messaging.message_id",
        "trace_id",
        "span_id",
        "otel.trace_id",
        "aws.xray.trace_id",
        "log.record.uid",
        "session.id",
        "mapreduce.task.id",
        "aws.batch.job.id",
    }
)


def is_identifier_key(key: str) -> bool:
    """A key known to name one process, request or message (never a cause shared by many traces).

    >>> is_identifier_key("service.instance.id"), is_identifier_key("http.request.header.x-request-id")
    (True, True)
    >>> is_identifier_key("cloud.availability_zone")
    False
    """
    lower = key.lower()
    return lower in IDENTIFIER_KEYS or lower.endswith(("request_id", "requestid", "request-id", ".uuid", "_uuid"))


# --- selection ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Selection:
    """Which traces are compared with the rest: failed ones, a filter's matches, or a latency band.

    A latency band is ``(low, high]`` in seconds, slower than ``low`` and at most ``high``; either end
    may be a percentile of the traces' durations (``p95``: the slowest 5 %) or open (None).
    """

    kind: str  # "errors" | "filter" | "latency"
    text: str
    predicate: Callable[[Trace], bool] | None = None
    low: str | None = None
    high: str | None = None

    @classmethod
    def errors(cls) -> Selection:
        return cls("errors", "errors")

    @classmethod
    def matching(cls, expression: str, predicate: Callable[[Trace], bool]) -> Selection:
        return cls("filter", expression, predicate)

    @classmethod
    def latency(cls, low: str | None, high: str | None) -> Selection:
        for bound in (low, high):
            if bound is not None:
                _bound_value(bound, [])  # checks the syntax
        if low is None and high is None:
            raise AnalysisError("a latency band needs a low or a high end, e.g. latency:2-5 or latency:p95-")
        return cls("latency", f"latency:{low or ''}-{high or ''}", None, low, high)


def _bound_value(text: str, durations_sorted: list[int]) -> float:
    """A band end in seconds: a number, or ``pNN`` (a percentile of the traces' durations)."""
    try:
        if text[:1] in "pP":
            q = float(text[1:])
            if not 0 <= q <= 100:
                raise ValueError(text)
            return percentile(durations_sorted, q / 100, presorted=True) / 1e9 if durations_sorted else 0.0
        value = float(text)
    except ValueError:
        raise AnalysisError(f"latency band end {text!r}: expected seconds (2.5) or a percentile (p95)") from None
    if value < 0 or math.isnan(value):
        raise AnalysisError(f"latency band end {text!r}: expected seconds (2.5) or a percentile (p95)")
    return value


def parse_selection(text: str, compile_expression: Callable[[str], Callable[[Trace], bool]]) -> Selection:
    """``errors``, ``latency:LOW-HIGH`` (seconds or pNN, either end may be empty) or a filter expression.

    >>> parse_selection("latency:p95-", lambda e: (lambda t: True)).high is None
    True
    """
    stripped = text.strip()
    if stripped.lower() == "errors":
        return Selection.errors()
    if stripped.lower().startswith("latency:"):
        band = stripped[len("latency:") :]
        low, sep, high = band.partition("-")
        if not sep:
            raise AnalysisError(f"latency band {band!r}: expected LOW-HIGH, e.g. latency:2-5 or latency:p95-")
        return Selection.latency(low.strip() or None, high.strip() or None)
    return Selection.matching(stripped, compile_expression(stripped))


# --- map step -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TraceFacts:
    """What BubbleUp needs of one trace."""

    duration_ns: int
    failed: bool
    matched: bool | None  # the filter's verdict (None: no filter selection)
    pairs: frozenset[tuple[str, str]]


def _scalar_text(value: object) -> str | None:
    if isinstance(value, bool | int | str) or (isinstance(value, float) and math.isfinite(value)):
        text = str(value)
        return text if len(text) <= MAX_VALUE_CHARS else None
    return None


def _dimensions(trace: Trace) -> frozenset[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    seen_resources: set[int] = set()
    for span in trace.spans:
        pairs.add(("service", span.service))
        pairs.add(("operation", f"{span.service} {span.name}"))
        sources: list[dict[str, Any]] = [span.attributes, span.annotations]
        if id(span.resource) not in seen_resources:
            seen_resources.add(id(span.resource))
            sources.append(span.resource)
        for source in sources:
            for key, value in source.items():
                values = value if isinstance(value, list) else [value]
                for item in values:
                    text = _scalar_text(item)
                    if text is not None:
                        pairs.add((key, text))
        if len(pairs) >= MAX_PAIRS_PER_TRACE:
            break
    return frozenset(pairs)


def trace_facts(trace: Trace, predicate: Callable[[Trace], bool] | None = None) -> TraceFacts:
    """The map step: one trace's duration, failure, filter verdict and attribute pairs."""
    return TraceFacts(
        max(0, trace.end_ns - trace.start_ns),
        any(s.failed for s in trace.spans),
        None if predicate is None else bool(predicate(trace)),
        _dimensions(trace),
    )


# --- statistics ---------------------------------------------------------------------------------------


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_exact_p(a: int, b: int, c: int, d: int) -> float:
    """Two-sided p-value of Fisher's exact test for the table [[a, b], [c, d]].

    >>> round(fisher_exact_p(8, 2, 1, 5), 4)
    0.035
    """
    row1, col1, n = a + b, a + c, a + b + c + d
    lo, hi = max(0, row1 + col1 - n), min(row1, col1)
    base = _log_choose(col1, a) + _log_choose(n - col1, row1 - a)
    total = 0.0
    for x in range(lo, hi + 1):
        logp = _log_choose(col1, x) + _log_choose(n - col1, row1 - x)
        if logp <= base + 1e-7:
            total += math.exp(logp - _log_choose(n, row1))
    return min(1.0, total)


def independence_p(a: int, b: int, c: int, d: int) -> float:
    """p-value that the pair is independent of the selection: Fisher for small counts, else chi-square."""
    n = a + b + c + d
    if n == 0:
        return 1.0
    rows, cols = (a + b, c + d), (a + c, b + d)
    if min(rows) == 0 or min(cols) == 0:
        return 1.0
    if min(r * k / n for r in rows for k in cols) < 5:
        return fisher_exact_p(a, b, c, d)
    chi2 = n * (a * d - b * c) ** 2 / (rows[0] * rows[1] * cols[0] * cols[1])
    return math.erfc(math.sqrt(chi2 / 2))


def _bh(pvalues: list[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input order."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    out = [1.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, pvalues[i] * m / rank)
        out[i] = running
    return out


# --- merge step ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Finding:
    """An attribute value over- (or under-) represented in the selection."""

    key: str
    value: str
    selected_count: int
    selected_share: float
    rest_count: int
    rest_share: float
    p_value: float
    q_value: float

    @property
    def difference(self) -> float:
        return self.selected_share - self.rest_share

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "value": self.value,
            "direction": "over" if self.difference > 0 else "under",
            "selected_count": self.selected_count,
            "selected_share": self.selected_share,
            "rest_count": self.rest_count,
            "rest_share": self.rest_share,
            "difference": self.difference,
            "p_value": self.p_value,
            "q_value": self.q_value,
        }


@dataclass(frozen=True, slots=True)
class SetAside:
    """A key left out of the comparison: an identifier, or too many distinct values to be a category."""

    key: str
    distinct_values: int
    reason: str  # "identifier" | "high-cardinality"

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "distinct_values": self.distinct_values, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class BubbleUp:
    selection: str
    selected_traces: int
    rest_traces: int
    findings: list[Finding]
    set_aside: list[SetAside]
    tested: int
    band_s: tuple[float | None, float | None] | None = None
    alpha: float = ALPHA
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "selection": self.selection,
            "selected_traces": self.selected_traces,
            "rest_traces": self.rest_traces,
            "tested_values": self.tested,
            "alpha": self.alpha,
            "findings": [f.to_json() for f in self.findings],
            "set_aside": [s.to_json() for s in self.set_aside],
            "notes": list(self.notes),
        }
        if self.band_s is not None:
            out["band_s"] = {"low": self.band_s[0], "high": self.band_s[1]}
        return out


def _selected_flags(facts: list[TraceFacts], selection: Selection) -> tuple[list[bool], tuple[float | None, ...]]:
    if selection.kind == "errors":
        return [f.failed for f in facts], ()
    if selection.kind == "filter":
        return [bool(f.matched) for f in facts], ()
    durations = sorted(f.duration_ns for f in facts)
    low = _bound_value(selection.low, durations) if selection.low is not None else None
    high = _bound_value(selection.high, durations) if selection.high is not None else None
    flags = [
        (low is None or f.duration_ns / 1e9 > low) and (high is None or f.duration_ns / 1e9 <= high) for f in facts
    ]
    return flags, (low, high)


def bubbleup_facts(
    facts: Iterable[TraceFacts], selection: Selection, *, alpha: float = ALPHA, top: int = 20
) -> BubbleUp:
    """The merge step: compare the selected traces' attribute values with the rest's."""
    rows = list(facts)
    flags, band = _selected_flags(rows, selection)
    n_sel = sum(flags)
    n_rest = len(rows) - n_sel
    notes: list[str] = []
    if n_sel == 0:
        notes.append("no trace is in the selection")
    if n_rest == 0:
        notes.append("every trace is in the selection: nothing to compare with")
    sel_counts: dict[tuple[str, str], int] = {}
    rest_counts: dict[tuple[str, str], int] = {}
    carriers: dict[str, int] = {}
    for row, selected in zip(rows, flags, strict=True):
        counts = sel_counts if selected else rest_counts
        keys: set[str] = set()
        for pair in row.pairs:
            counts[pair] = counts.get(pair, 0) + 1
            keys.add(pair[0])
        for key in keys:
            carriers[key] = carriers.get(key, 0) + 1
    distinct: dict[str, int] = {}
    for key, _value in set(sel_counts) | set(rest_counts):
        distinct[key] = distinct.get(key, 0) + 1
    aside: dict[str, SetAside] = {}
    for key, n in distinct.items():
        if is_identifier_key(key):
            aside[key] = SetAside(key, n, "identifier")
        elif n > MAX_DISTINCT:
            aside[key] = SetAside(key, n, "high-cardinality")
        elif n >= MIN_DISTINCT_FOR_UNIQUE and n > UNIQUE_SHARE * carriers[key]:
            aside[key] = SetAside(key, n, "identifier")
    candidates: list[tuple[tuple[str, str], int, int, float]] = []
    if n_sel and n_rest:
        for pair in set(sel_counts) | set(rest_counts):
            if pair[0] in aside:
                continue
            a, c = sel_counts.get(pair, 0), rest_counts.get(pair, 0)
            if a + c < 2 or (a == n_sel and c == n_rest):
                continue  # seen once, or on every trace: no contrast to test
            candidates.append((pair, a, c, independence_p(a, n_sel - a, c, n_rest - c)))
    qvalues = _bh([p for *_rest, p in candidates])
    findings = [
        Finding(pair[0], pair[1], a, a / n_sel, c, c / n_rest, p, q)
        for (pair, a, c, p), q in zip(candidates, qvalues, strict=True)
        if q < alpha
    ]
    findings.sort(key=lambda f: (-abs(f.difference), f.difference <= 0, f.q_value, f.key, f.value))
    return BubbleUp(
        selection.text,
        n_sel,
        n_rest,
        findings[:top],
        sorted(aside.values(), key=lambda s: (s.reason, s.key)),
        len(candidates),
        (band[0], band[1]) if band else None,
        alpha,
        notes,
    )


def bubbleup(traces: Iterable[Trace], selection: Selection, *, alpha: float = ALPHA, top: int = 20) -> BubbleUp:
    """BubbleUp over traces: the attribute values that set the selection apart, most different first."""
    return bubbleup_facts((trace_facts(t, selection.predicate) for t in traces), selection, alpha=alpha, top=top)
