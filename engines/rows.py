"""Traces from archive batches sorted by trace id: the grouping of the engines that stream rows (duckdb, spark)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa
from spanscope.collectors.archive.schema import spans_from_batch
from spanscope.collectors.model import Span, Trace


def group_rows(batches: Iterable[pa.RecordBatch]) -> Iterator[Trace]:
    """Traces from archive record batches whose rows are sorted by trace id, across batch boundaries."""
    group: list[Span] = []
    trace_id = ""
    for batch in batches:
        for span in spans_from_batch(batch):
            if group and span.trace_id != trace_id:
                yield Trace(trace_id, group)
                group = []
            trace_id = span.trace_id
            group.append(span)
    if group:
        yield Trace(trace_id, group)
