"""Traces from archive batches sorted by trace id: the grouping of the engines that stream rows (duckdb, spark)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa
from spanscope.collectors.archive.schema import spans_from_batch
from spanscope.collectors.model import Span, Trace


def group_rows(batches: Iterable[pa.RecordBatch], *, file_column: str | None = None) -> Iterator[Trace]:
    """Traces from archive record batches whose rows are sorted by trace id, across batch boundaries.

    ``file_column``: a column naming the archive file of each row, with a trace's rows from the newest file
    first (sorted by trace id, then file name descending); a trace keeps only the rows of its first file, as
    a trace archived again replaces its older copy.
    """
    group: list[Span] = []
    trace_id = ""
    newest: object = None
    for batch in batches:
        spans = spans_from_batch(batch)
        if file_column is None:
            for span in spans:
                if group and span.trace_id != trace_id:
                    yield Trace(trace_id, group)
                    group = []
                trace_id = span.trace_id
                group.append(span)
            continue
        files = batch.column(batch.schema.names.index(file_column)).to_pylist()
        for span, file in zip(spans, files, strict=True):
            if span.trace_id != trace_id:
                if group:
                    yield Trace(trace_id, group)
                group = []
                trace_id = span.trace_id
                newest = file
            elif file != newest:  # an older copy of this trace
                continue
            group.append(span)
    if group:
        yield Trace(trace_id, group)
