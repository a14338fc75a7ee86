"""CloudFront access log files into edge spans joined to the origin traces already in the store.

This module owns the part of a CloudFront import that needs more than one line: the column list (a
``#Fields:`` header, the caller's ``fields``, or the real-time log's documented order), batching, and
the join. The conversion of a line is ``collectors.formats.cloudfront``.

The join: for each batch of lines, the traces that start in the batch's time window (widened by
``JOIN_SLACK_NS``) are read once, and every span that carries a CloudFront request id is indexed by it:
``aws.cloudfront.request_id`` (what the tracer records from ``X-Amz-Cf-Id`` and from Lambda@Edge's
``cf.config.requestId``) or an OpenTelemetry ``http.request.header.x-amz-cf-id`` attribute. A line whose
``x-edge-request-id`` is found joins that trace (the regional origin preferred over a Lambda@Edge
replica, whose invocations X-Ray traces separately); the other traces of the same request are linked
from the edge span (link kind ``cloudfront``), so ``show --follow-links`` reaches them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from spanscope.collectors import conventions as conv
from spanscope.collectors.errors import ImportFormatError
from spanscope.collectors.formats import RECORD_ERRORS, ParseResult, RecordError, record_reason
from spanscope.collectors.formats.cloudfront import (
    CF_REQUEST_ID,
    REALTIME_FIELDS,
    EdgeJoin,
    EdgeRecord,
    edge_span,
    fields_from_header,
    parse_line,
)
from spanscope.collectors.model import Span, SpanLink, Trace

__all__ = ["BATCH_LINES", "JOIN_SLACK_NS", "OriginIndex", "TraceSource", "edge_chunks", "looks_like_cloudfront"]

BATCH_LINES = 5_000
JOIN_SLACK_NS = 300 * 1_000_000_000  # origin traces may start this long before or after the edge's window
_CF_HEADER_KEYS = (CF_REQUEST_ID, "http.request.header.x-amz-cf-id", "http.request.header.x_amz_cf_id")
_MAX_LINKS = 16  # other traces of one request linked from its edge span


class TraceSource(Protocol):
    """What the join reads (the Store)."""

    def iter_traces(self, *, since_ns: int | None = None, until_ns: int | None = None) -> Iterator[Trace]: ...


def looks_like_cloudfront(head: bytes) -> str | None:
    """``cloudfront`` for a standard log (``#Version:``/``#Fields:`` header), ``cloudfront-realtime`` for
    tab-separated lines that start with a Unix timestamp, else None."""
    text = head.lstrip(b"\xef\xbb\xbf \r\n")
    if text.startswith((b"#Version:", b"#Fields:")):
        return "cloudfront"
    first = text.split(b"\n", 1)[0]
    columns = first.split(b"\t")
    if len(columns) >= 3 and columns[0].replace(b".", b"", 1).isdigit() and len(columns[0]) >= 10:
        return "cloudfront-realtime"
    return None


@dataclass(slots=True)
class _Candidate:
    trace_id: str
    span_id: str
    missing_parent: str | None
    regional: bool


@dataclass(slots=True)
class OriginIndex:
    """Spans that carry a CloudFront request id, by that id, for one time window of the store."""

    by_request: dict[str, list[_Candidate]] = field(default_factory=dict)

    @classmethod
    def build(cls, source: TraceSource, since_ns: int, until_ns: int) -> OriginIndex:
        index = cls()
        for trace in source.iter_traces(since_ns=since_ns - JOIN_SLACK_NS, until_ns=until_ns + JOIN_SLACK_NS):
            index.add_trace(trace)
        return index

    def add_trace(self, trace: Trace) -> None:
        ids = {s.span_id for s in trace.spans}
        for span in trace.spans:
            request_id = _request_id(span)
            if not request_id:
                continue
            missing = span.parent_id if span.parent_id and span.parent_id not in ids else None
            regional = span.origin not in (conv.ORIGIN_LAMBDA_EDGE,) and conv.CF_EVENT_TYPE not in span.attributes
            self.by_request.setdefault(request_id, []).append(
                _Candidate(trace.trace_id, span.span_id, missing, regional)
            )

    def join(self, request_id: str) -> tuple[EdgeJoin | None, list[SpanLink]]:
        """Where the edge span of ``request_id`` goes, and links to the request's other traces."""
        found = self.by_request.get(request_id)
        if not found:
            return None, []
        best = min(found, key=lambda c: (not c.regional, c.missing_parent is None, c.trace_id))
        links = [
            SpanLink(c.trace_id, c.span_id, {conv.LINK_KIND: "cloudfront"})
            for c in found
            if c.trace_id != best.trace_id
        ][:_MAX_LINKS]
        return EdgeJoin(best.trace_id, best.missing_parent), links


def _request_id(span: Span) -> str:
    for key in _CF_HEADER_KEYS:
        value = span.attributes.get(key)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, str) and value:
            return value
    return ""


def edge_chunks(
    lines: Iterable[bytes],
    fmt: str,
    *,
    fields: Sequence[str] | None = None,
    source: TraceSource | None = None,
    batch_lines: int = BATCH_LINES,
) -> Iterator[ParseResult]:
    """Edge spans of a CloudFront log, a batch at a time, joined to ``source``'s traces when given.

    Raises ImportFormatError when the columns cannot be known (a real-time log whose column count is
    not the documented field list's, without ``#Fields:`` or ``fields``).
    """
    columns: list[str] | None = list(fields) if fields else None
    pending: list[tuple[str, EdgeRecord]] = []
    errors: list[RecordError] = []
    for lineno, raw in enumerate(lines, 1):
        text = raw.decode("utf-8", "replace").removeprefix("\ufeff").rstrip("\r\n")
        if not text.strip():
            continue
        if text.startswith("#"):
            header = fields_from_header(text)
            if header is not None and not fields:
                columns = header
            continue
        if columns is None:
            columns = _default_columns(text, fmt)
        position = f"line {lineno}"
        try:
            pending.append((position, parse_line(text, columns)))
        except RECORD_ERRORS as exc:
            errors.append(RecordError(position, record_reason(exc)))
        if len(pending) >= batch_lines:
            yield _convert(pending, errors, source)
            pending, errors = [], []
    if columns is None and not errors:
        errors.append(RecordError("", "no log lines"))
    if pending or errors:
        yield _convert(pending, errors, source)


def _default_columns(line: str, fmt: str) -> list[str]:
    count = line.count("\t") + 1
    if fmt == "cloudfront-realtime":
        for size in (len(REALTIME_FIELDS), 40):
            if count == size:
                return list(REALTIME_FIELDS[:size])
    raise ImportFormatError(
        f"a {fmt} log line has {count} columns and no '#Fields:' header says which: "
        "put the log configuration's field list in a first line '#Fields: timestamp c-ip ...' or pass --fields"
    )


def _convert(
    pending: list[tuple[str, EdgeRecord]], errors: list[RecordError], source: TraceSource | None
) -> ParseResult:
    result = ParseResult(errors=list(errors))
    if not pending:
        return result
    index = OriginIndex()
    if source is not None:
        index = OriginIndex.build(
            source,
            min(r.end_ns - r.duration_ns for _, r in pending),
            max(r.end_ns for _, r in pending),
        )
    for position, record in pending:
        try:
            join, links = index.join(record.request_id) if record.request_id else (None, [])
            span = edge_span(record, join)
            span.links.extend(links)
            result.spans.append(span)
        except RECORD_ERRORS as exc:
            result.errors.append(RecordError(position, record_reason(exc)))
    return result
