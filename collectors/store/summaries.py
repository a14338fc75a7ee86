"""Trace summaries: the traces table's row of one trace, updated span by span as writes arrive.

The write path folds each stored span into its trace's row (counts, time window, root, failure flags,
services); the read path turns rows into ``TraceSummary`` values.
"""

from __future__ import annotations

from typing import Any

import orjson
from spanscope.collectors.model import Span, Status, TraceSummary

SUMMARY_COLUMNS = (
    "trace_id, start_ns, end_ns, root_span_id, root_service, root_name, root_start_ns, root_is_entry,"
    " span_count, in_progress_count, error, fault, throttle, services"
)  # the traces table's columns in the order ``SummaryAcc.from_row`` reads them


def new_trace_row(span: Span, seq: int) -> tuple[Any, ...]:
    """The summary row of a trace no store holds whose only span written is ``span``: what
    ``SummaryAcc(span.trace_id)``, ``add(span, None)`` and ``to_row(seq)`` give, without the object
    (most X-Ray segments are such traces)."""
    status = span.status
    service = span.service
    start_ns = span.start_ns
    return (
        span.trace_id,
        start_ns if start_ns > 0 else 0,
        span.end_ns if span.end_ns > 0 else 0,
        span.span_id,
        service,
        span.name,
        start_ns,
        1 if span.parent_id is None else 0,
        1,
        1 if span.in_progress else 0,
        1 if status is Status.ERROR or status is Status.THROTTLE else 0,
        1 if status is Status.FAULT else 0,
        1 if status is Status.THROTTLE else 0,
        orjson.dumps([service]).decode() if service else "[]",
        seq,
    )


class SummaryAcc:
    """A trace summary row being updated with newly written spans."""

    __slots__ = (
        "end_ns",
        "error",
        "fault",
        "in_progress_count",
        "root_is_entry",
        "root_name",
        "root_service",
        "root_span_id",
        "root_start_ns",
        "services",
        "span_count",
        "start_ns",
        "throttle",
        "trace_id",
    )

    def __init__(self, trace_id: str) -> None:
        self.trace_id = trace_id
        self.start_ns = 0
        self.end_ns = 0
        self.root_span_id = ""
        self.root_service = ""
        self.root_name = ""
        self.root_start_ns = 0
        self.root_is_entry = False
        self.span_count = 0
        self.in_progress_count = 0
        self.error = False
        self.fault = False
        self.throttle = False
        self.services: set[str] = set()

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> SummaryAcc:
        acc = cls(row[0])
        (
            _,
            acc.start_ns,
            acc.end_ns,
            acc.root_span_id,
            acc.root_service,
            acc.root_name,
            acc.root_start_ns,
            root_is_entry,
            acc.span_count,
            acc.in_progress_count,
            error,
            fault,
            throttle,
            services,
        ) = row
        acc.root_is_entry = bool(root_is_entry)
        acc.error, acc.fault, acc.throttle = bool(error), bool(fault), bool(throttle)
        acc.services = set(orjson.loads(services))
        return acc

    def add(self, span: Span, held: tuple[bool, int] | None) -> None:
        if held is None:
            self.span_count += 1
        elif held[0]:
            self.in_progress_count -= 1
        if span.in_progress:
            self.in_progress_count += 1
        if span.start_ns > 0 and (self.start_ns == 0 or span.start_ns < self.start_ns):
            self.start_ns = span.start_ns
        self.end_ns = max(self.end_ns, span.end_ns)
        status = span.status
        self.error |= status is Status.ERROR or status is Status.THROTTLE
        self.throttle |= status is Status.THROTTLE
        self.fault |= status is Status.FAULT
        if span.service:
            self.services.add(span.service)
        is_entry = span.parent_id is None
        better = (
            not self.root_span_id
            or span.span_id == self.root_span_id
            or (is_entry and not self.root_is_entry)
            or (is_entry == self.root_is_entry and span.start_ns < self.root_start_ns)
        )
        if better:
            self.root_span_id = span.span_id
            self.root_service = span.service or self.root_service
            self.root_name = span.name
            self.root_start_ns = span.start_ns
            self.root_is_entry = is_entry

    def to_row(self, seq: int) -> tuple[Any, ...]:
        return (
            self.trace_id,
            self.start_ns,
            self.end_ns,
            self.root_span_id,
            self.root_service,
            self.root_name,
            self.root_start_ns,
            int(self.root_is_entry),
            self.span_count,
            self.in_progress_count,
            int(self.error),
            int(self.fault),
            int(self.throttle),
            orjson.dumps(sorted(self.services)).decode(),
            seq,
        )

    def summary(self) -> TraceSummary:
        return TraceSummary(
            trace_id=self.trace_id,
            root_service=self.root_service,
            root_name=self.root_name,
            start_ns=self.start_ns,
            duration_ns=max(0, self.end_ns - self.start_ns),
            span_count=self.span_count,
            error=self.error,
            fault=self.fault,
            throttle=self.throttle,
            services=tuple(sorted(self.services)),
            in_progress=self.in_progress_count > 0,
        )
