"""Traces from archive rows sorted by trace id: the grouping of the engines that stream rows (duckdb, spark)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from spanscope.collectors.archive.schema import row_to_span
from spanscope.collectors.model import Span, Trace


def group_rows(batches: Iterable[list[dict[str, Any]]]) -> Iterator[Trace]:
    """Traces from rows sorted by trace id, across batch boundaries."""
    group: list[Span] = []
    for rows in batches:
        for row in rows:
            if group and group[0].trace_id != row["trace_id"]:
                yield Trace(group[0].trace_id, group)
                group = []
            group.append(row_to_span(row))
    if group:
        yield Trace(group[0].trace_id, group)
