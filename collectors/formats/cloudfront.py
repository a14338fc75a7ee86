"""CloudFront access logs (standard and real-time) as edge spans: one SERVER span per viewer request.

Both logs are tab-separated lines, one request each. A standard log names its columns in a
``#Fields:`` header (and writes ``date`` and ``time`` in UTC, to the second); a real-time log has no
header, its columns are the log configuration's field list (``fields=``), and ``timestamp`` is Unix
seconds with milliseconds. A ``#Fields:`` line, if present, always wins. ``-`` means no value.

A line becomes an edge span of service ``cloudfront``:

- it ends when CloudFront finished the response (``date``+``time`` or ``timestamp``) and lasts
  ``time-taken`` seconds; HTTP method and URL path name it; ``sc-status`` gives its status by X-Ray's rule
  (a CloudFront ``Error`` result without a 4xx/5xx status is a fault);
- the cache behaviour (``x-edge-result-type``, ``x-edge-response-result-type``, the detailed type),
  ``time-to-first-byte``, bytes, protocol and TLS are attributes; ``x-edge-location`` is its placement
  (``edge:<location>``) and its ``x-edge-request-id`` (which the origin receives as ``X-Amz-Cf-Id``
  and Lambda@Edge as ``cf.config.requestId``) is ``aws.cloudfront.request_id``;
- its ids come from the request id (the same line imported twice is the same span), unless the caller
  joined it to an origin trace (:class:`EdgeJoin`): then it takes that trace's id, and the id of the
  origin span's missing parent when the origin names one (CloudFront was that hop), so the trace
  becomes one tree. A real-time log's ``cs-headers`` that carry ``X-Amzn-Trace-Id`` give the trace id
  directly.

>>> rec = parse_line("2019-12-04\\t21:02:31\\tLAX1\\tGET\\t/index.html\\t200\\tHit\\tR1==\\t0.002",
...                  ["date", "time", "x-edge-location", "cs-method", "cs-uri-stem", "sc-status",
...                   "x-edge-result-type", "x-edge-request-id", "time-taken"])
>>> span = edge_span(rec)
>>> span.name, span.duration_ns, span.attributes["aws.cloudfront.result_type"]
('GET /index.html', 2000000, 'Hit')
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote

from spanscope.collectors import conventions as conv
from spanscope.collectors.errors import InvalidSpanError
from spanscope.collectors.formats import seconds_to_ns
from spanscope.collectors.model import Attributes, Kind, Span, Status, normalize_trace_id, status_from_http

__all__ = [
    "CF_REQUEST_ID",
    "CLOUDFRONT_SERVICE",
    "REALTIME_FIELDS",
    "EdgeJoin",
    "EdgeRecord",
    "edge_span",
    "fields_from_header",
    "parse_line",
]

CLOUDFRONT_SERVICE = "cloudfront"
CF_REQUEST_ID = conv.CF_REQUEST_ID
CF_ORIGIN = "AWS::CloudFront::Distribution"

# The real-time log fields in the order CloudFront's documentation lists them (and the console writes
# them when every field is chosen); a configuration with fewer fields must say which (``#Fields:``).
REALTIME_FIELDS: tuple[str, ...] = (
    "timestamp", "c-ip", "time-to-first-byte", "sc-status", "sc-bytes", "cs-method", "cs-protocol",
    "cs-host", "cs-uri-stem", "cs-bytes", "x-edge-location", "x-edge-request-id", "x-host-header",
    "time-taken", "cs-protocol-version", "c-ip-version", "cs-user-agent", "cs-referer", "cs-cookie",
    "cs-uri-query", "x-edge-response-result-type", "x-forwarded-for", "ssl-protocol", "ssl-cipher",
    "x-edge-result-type", "fle-encrypted-fields", "fle-status", "sc-content-type", "sc-content-len",
    "sc-range-start", "sc-range-end", "c-port", "x-edge-detailed-result-type", "c-country",
    "cs-accept-encoding", "cs-accept", "cache-behavior-path-pattern", "cs-headers", "cs-header-names",
    "cs-headers-count", "primary-distribution-id", "primary-distribution-dns-name", "origin-fbl",
    "origin-lbl", "asn",
)  # fmt: skip

# Standard-log column names that differ from the real-time ones for the same value.
_ALIASES = {"cs(host)": "cs-host", "cs(referer)": "cs-referer", "cs(user-agent)": "cs-user-agent",
            "cs(cookie)": "cs-cookie"}  # fmt: skip

# Column -> attribute, for values kept as text (numbers are handled in edge_span).
_TEXT_ATTRIBUTES = {
    "x-edge-location": conv.CF_EDGE_LOCATION,
    "x-edge-result-type": "aws.cloudfront.result_type",
    "x-edge-response-result-type": "aws.cloudfront.response_result_type",
    "x-edge-detailed-result-type": "aws.cloudfront.detailed_result_type",
    "cs-host": "aws.cloudfront.distribution_domain",
    "x-host-header": "server.address",
    "cs-protocol": "url.scheme",
    "cs-protocol-version": "network.protocol.version",
    "cs-uri-query": "url.query",
    "cs-user-agent": "user_agent.original",
    "c-ip": "client.address",
    "ssl-protocol": "tls.protocol.version",
    "ssl-cipher": "tls.cipher",
    "sc-content-type": "http.response.header.content-type",
    "cache-behavior-path-pattern": "aws.cloudfront.cache_behavior",
    "primary-distribution-id": conv.CF_DISTRIBUTION,
    "c-country": "client.geo.country_iso_code",
}
_NUMBER_ATTRIBUTES = {
    "sc-bytes": "http.response.size",
    "cs-bytes": "http.request.size",
    "sc-content-len": "http.response.body.size",
    "c-port": "client.port",
}
_SECONDS_ATTRIBUTES = {
    "time-to-first-byte": "aws.cloudfront.time_to_first_byte_s",
    "origin-fbl": "aws.cloudfront.origin_first_byte_latency_s",
    "origin-lbl": "aws.cloudfront.origin_last_byte_latency_s",
}


def fields_from_header(line: str) -> list[str] | None:
    """The column names of a ``#Fields:`` header line (``cs(Host)`` read as ``cs-host``), else None.

    >>> fields_from_header("#Fields: date time cs(Host) x-edge-request-id")
    ['date', 'time', 'cs-host', 'x-edge-request-id']
    """
    if not line.lower().startswith("#fields:"):
        return None
    names = line.split(":", 1)[1].replace(",", " ").split()
    return [_ALIASES.get(name.lower(), name.lower()) for name in names]


@dataclass(slots=True, frozen=True)
class EdgeRecord:
    """One log line as named values (``-`` dropped), with the times already read."""

    values: Mapping[str, str]
    end_ns: int
    duration_ns: int

    @property
    def request_id(self) -> str:
        return self.values.get("x-edge-request-id", "")

    def xray_header(self) -> tuple[str, str] | None:
        """(trace id, parent id or "") from an ``X-Amzn-Trace-Id`` among the logged request headers."""
        headers = self.values.get("cs-headers", "")
        for part in unquote(headers).replace("\n", "\t").split("\t") if headers else ():
            name, _, value = part.partition(":")
            if name.strip().lower() != "x-amzn-trace-id":
                continue
            fields = dict(item.strip().partition("=")[::2] for item in value.split(";"))
            try:
                trace_id = normalize_trace_id(fields.get("Root", ""))
            except ValueError:
                return None
            return trace_id, fields.get("Parent", "").lower()
        return None


def parse_line(line: str, fields: Sequence[str]) -> EdgeRecord:
    """One tab-separated log line read with ``fields`` as its columns; InvalidSpanError says what is wrong."""
    columns = line.rstrip("\r\n").split("\t")
    if len(columns) != len(fields):
        raise InvalidSpanError(f"{len(columns)} columns where the field list has {len(fields)}")
    values = {name: value for name, value in zip(fields, columns, strict=True) if value not in ("-", "")}
    return EdgeRecord(values, _end_ns(values), _seconds(values, "time-taken", required=True))


def _end_ns(values: Mapping[str, str]) -> int:
    if "timestamp" in values:
        text = values["timestamp"]
        if text.replace(".", "", 1).isdigit():
            return seconds_to_ns(text, "timestamp")
        return _iso_ns(text, "timestamp")
    if "date" in values and "time" in values:
        return _iso_ns(f"{values['date']}T{values['time']}", "date and time")
    raise InvalidSpanError("no time: expected a timestamp column or date and time columns")


def _iso_ns(text: str, what: str) -> int:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidSpanError(f"{what} is not a date and time: {text!r:.40}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # CloudFront logs are in UTC
    whole = int(moment.replace(microsecond=0).timestamp())
    return whole * 1_000_000_000 + moment.microsecond * 1_000


def _seconds(values: Mapping[str, str], name: str, *, required: bool = False) -> int:
    text = values.get(name)
    if text is None:
        if required:
            raise InvalidSpanError(f"no {name} column")
        return 0
    ns = seconds_to_ns(text, name)
    if ns < 0:
        raise InvalidSpanError(f"{name} is negative: {text!r}")
    return ns


@dataclass(slots=True, frozen=True)
class EdgeJoin:
    """Where an edge span goes in an origin trace: its trace id and, when the origin names a parent
    that is not in the trace (CloudFront was that hop), the span id to take."""

    trace_id: str
    span_id: str | None = None


def _digest(kind: str, request_id: str) -> str:
    return hashlib.sha256(f"cloudfront-{kind}:{request_id}".encode()).hexdigest()


def _own_ids(record: EdgeRecord) -> tuple[str, str]:
    """A trace id (epoch seconds first, as X-Ray wants) and span id derived from the request id."""
    key = record.request_id or f"{record.end_ns}:{sorted(record.values.items())}"
    start_s = (record.end_ns - record.duration_ns) // 1_000_000_000
    return f"{start_s & 0xFFFFFFFF:08x}{_digest('trace', key)[:24]}", _digest("span", key)[:16]


def edge_span(record: EdgeRecord, join: EdgeJoin | None = None) -> Span:
    """The edge span of one log line, placed in ``join``'s trace when the caller found one."""
    values = record.values
    trace_id, span_id = _own_ids(record)
    parent_id: str | None = None
    header = record.xray_header()
    if join is not None:
        trace_id = join.trace_id
        span_id = join.span_id or span_id
    elif header is not None:
        trace_id, parent_id = header[0], header[1] or None
    attributes: Attributes = {}
    for column, key in _TEXT_ATTRIBUTES.items():
        if column in values:
            attributes[key] = unquote(values[column]) if column == "cs-user-agent" else values[column]
    for column, key in _NUMBER_ATTRIBUTES.items():
        if values.get(column, "").isdigit():
            attributes[key] = int(values[column])
    for column, key in _SECONDS_ATTRIBUTES.items():
        if column in values:
            attributes[key] = _seconds(values, column) / 1e9
    if record.request_id:
        attributes[CF_REQUEST_ID] = record.request_id
    method = values.get("cs-method", "")
    path = values.get("cs-uri-stem", "/")
    if method:
        attributes["http.request.method"] = method
    attributes["url.path"] = path
    code = int(values["sc-status"]) if values.get("sc-status", "").isdigit() else None
    if code is not None:
        attributes[conv.HTTP_STATUS] = code
    status = status_from_http(code) if code else Status.OK
    if status is Status.OK and values.get("x-edge-result-type") == "Error":
        status = Status.FAULT
    location = values.get("x-edge-location", "")
    resource: Attributes = {
        "service.name": CLOUDFRONT_SERVICE,
        conv.ORIGIN: CF_ORIGIN,
    }
    if location:
        resource[conv.LOCATION] = f"edge:{location}"
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_id=parent_id if parent_id and parent_id != span_id else None,
        service=CLOUDFRONT_SERVICE,
        name=f"{method} {path}".strip(),
        kind=Kind.SERVER,
        start_ns=record.end_ns - record.duration_ns,
        end_ns=record.end_ns,
        status=status,
        status_message=values.get("x-edge-detailed-result-type", "") if status is not Status.OK else "",
        origin=CF_ORIGIN,
        attributes=attributes,
        resource=resource,
    )
