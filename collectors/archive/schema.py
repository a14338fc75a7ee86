"""The archive's Parquet schema and the lossless conversions between its rows and model spans.

One row per span. Scalar fields are columns; attributes, annotations, resource, events, exceptions and
links are JSON text, which keeps every value's type (int vs float vs bool vs list) exactly.

| column | type | meaning |
|---|---|---|
| trace_id, span_id | string | 32 / 16 lowercase hex |
| parent_id | string, null | parent span id, null for an entry span |
| service, name | string | as in the model |
| kind, status | string | server/client/producer/consumer/internal; ok/error/fault/throttle |
| start_ns, end_ns | int64 | Unix nanoseconds |
| trace_start_ns | int64 | the trace's start: it chooses the partition |
| status_message, origin, namespace, remote_service | string | "" when absent |
| in_progress | bool | an in-progress X-Ray segment |
| attributes, annotations, resource | string (JSON object) | lossless key → value |
| events | string (JSON array) | [[name, time_ns, attributes], ...] |
| exceptions | string (JSON array) | [[type, message, stacktrace, remote, time_ns], ...] |
| links | string (JSON array) | [[trace_id, span_id, attributes], ...] |

Partitions: ``date=YYYY-MM-DD/hour=HH`` (UTC, from trace_start_ns). Files: ``part-<write time ns>-<random>.parquet``.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from spanscope.collectors.model import Kind, Span, SpanEvent, SpanException, SpanLink, Status
from spanscope.collectors.store.codec import dumps_exact, loads_exact

SCHEMA_VERSION = "1"
ARCHIVE_SCHEMA = pa.schema(
    [
        ("trace_id", pa.string()),
        ("span_id", pa.string()),
        ("parent_id", pa.string()),
        ("service", pa.string()),
        ("name", pa.string()),
        ("kind", pa.string()),
        ("start_ns", pa.int64()),
        ("end_ns", pa.int64()),
        ("trace_start_ns", pa.int64()),
        ("status", pa.string()),
        ("status_message", pa.string()),
        ("origin", pa.string()),
        ("namespace", pa.string()),
        ("remote_service", pa.string()),
        ("in_progress", pa.bool_()),
        ("attributes", pa.string()),
        ("annotations", pa.string()),
        ("resource", pa.string()),
        ("events", pa.string()),
        ("exceptions", pa.string()),
        ("links", pa.string()),
    ],
    metadata={"spanscope.archive.schema_version": SCHEMA_VERSION},
)
COLUMNS = tuple(ARCHIVE_SCHEMA.names)
SCHEMA_DOC = __doc__ or ""


def _dumps(value: Any) -> str:
    return dumps_exact(value, 0).decode()  # NaN, infinities and big integers kept exactly


def _loads(text: str | None) -> Any:
    return loads_exact(text) if text else None


def span_to_row(span: Span, trace_start_ns: int) -> dict[str, Any]:
    return {
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "parent_id": span.parent_id,
        "service": span.service,
        "name": span.name,
        "kind": span.kind.value,
        "start_ns": span.start_ns,
        "end_ns": span.end_ns,
        "trace_start_ns": trace_start_ns,
        "status": span.status.value,
        "status_message": span.status_message,
        "origin": span.origin,
        "namespace": span.namespace,
        "remote_service": span.remote_service,
        "in_progress": span.in_progress,
        "attributes": _dumps(span.attributes),
        "annotations": _dumps(span.annotations),
        "resource": _dumps(span.resource),
        "events": _dumps([[e.name, e.time_ns, e.attributes] for e in span.events]),
        "exceptions": _dumps([[x.type, x.message, x.stacktrace, x.remote, x.time_ns] for x in span.exceptions]),
        "links": _dumps([[lk.trace_id, lk.span_id, lk.attributes] for lk in span.links]),
    }


_KINDS: dict[str, Kind] = {k.value: k for k in Kind}
_STATUSES: dict[str, Status] = {s.value: s for s in Status}
_EMPTY_JSON = frozenset((None, "", "{}", "[]", "null"))


def spans_from_batch(batch: pa.RecordBatch | pa.Table) -> list[Span]:
    """The spans of an archive batch or table (the inverse of ``span_to_row``), read column by column.

    Each column becomes one Python list, not a dict per row; a resource's JSON text is parsed once per
    batch (the spans of one process share it: the dict is shared, read-only, as store reads share it);
    empty JSON values are not parsed at all.
    """
    names = batch.schema.names
    col = {name: batch.column(names.index(name)).to_pylist() for name in COLUMNS if name in names}
    missing = [name for name in COLUMNS if name not in col]
    if missing:
        raise ValueError(f"archive batch lacks column(s) {', '.join(missing)}")
    resources: dict[str, Any] = {}
    out: list[Span] = []
    append = out.append
    kinds, statuses = _KINDS, _STATUSES
    for (
        trace_id,
        span_id,
        parent_id,
        service,
        name,
        kind,
        start_ns,
        end_ns,
        status,
        status_message,
        origin,
        namespace,
        remote_service,
        in_progress,
        attributes,
        annotation_text,
        resource_text,
        events,
        exceptions,
        links,
    ) in zip(
        col["trace_id"],
        col["span_id"],
        col["parent_id"],
        col["service"],
        col["name"],
        col["kind"],
        col["start_ns"],
        col["end_ns"],
        col["status"],
        col["status_message"],
        col["origin"],
        col["namespace"],
        col["remote_service"],
        col["in_progress"],
        col["attributes"],
        col["annotations"],
        col["resource"],
        col["events"],
        col["exceptions"],
        col["links"],
        strict=True,
    ):
        resource = resources.get(resource_text) if resource_text else None
        if resource is None:
            resource = resources[resource_text] = _object(resource_text)
        append(
            Span(
                trace_id,
                span_id,
                parent_id,
                service or "",
                name or "",
                kinds.get(kind) or Kind(kind),
                int(start_ns),
                int(end_ns),
                statuses.get(status) or Status(status),
                status_message or "",
                origin or "",
                namespace or "",
                remote_service or "",
                _object(attributes),
                _object(annotation_text),
                resource,
                [SpanEvent(e[0], e[1], e[2]) for e in _loads(events)] if events not in _EMPTY_JSON else [],
                [SpanException(x[0], x[1], x[2], x[3], x[4]) for x in _loads(exceptions)]
                if exceptions not in _EMPTY_JSON
                else [],
                [SpanLink(lk[0], lk[1], lk[2]) for lk in _loads(links)] if links not in _EMPTY_JSON else [],
                bool(in_progress),
            )
        )
    return out


def _object(text: str | None) -> Any:
    """A JSON object column's value: ``{}`` for null or empty text, without parsing it."""
    if text in _EMPTY_JSON:
        return {}
    return _loads(text) or {}
