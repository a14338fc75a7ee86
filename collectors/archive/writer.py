"""Writes whole traces into the Parquet archive, one file per partition per call, never half-visible."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from spanscope.collectors.archive.schema import ARCHIVE_SCHEMA, span_to_row
from spanscope.collectors.errors import SpanscopeError
from spanscope.collectors.model import Trace


class ArchiveError(SpanscopeError):
    """The archive location cannot be written or read."""


@dataclass(frozen=True, slots=True)
class ArchiveWriteResult:
    files: tuple[str, ...]
    traces: int
    spans: int


def resolve(root: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem and base path for a local directory or an ``s3://bucket/prefix[?options]`` URL."""
    try:
        if "://" in root:
            filesystem, path = pafs.FileSystem.from_uri(root)
        else:
            filesystem, path = pafs.LocalFileSystem(), os.path.abspath(root)
    except (pa.ArrowInvalid, OSError, ValueError) as exc:
        raise ArchiveError(f"cannot use archive location {root!r}: {exc}") from exc
    return filesystem, path.rstrip("/")


def partition_of(trace_start_ns: int) -> str:
    stamp = datetime.fromtimestamp(max(0, trace_start_ns) / 1e9, tz=UTC)
    return f"date={stamp:%Y-%m-%d}/hour={stamp:%H}"


def write_traces(traces: Iterable[Trace], root: str, *, compression: str = "zstd") -> ArchiveWriteResult:
    """Append traces to the archive at ``root``; returns the files written.

    Each file is written under a hidden temporary name and renamed when complete on local disks; on
    object stores an upload becomes visible only when it completes.
    """
    filesystem, base = resolve(root)
    by_partition: dict[str, list[dict[str, object]]] = {}
    trace_count = 0
    for trace in traces:
        start = trace.start_ns
        rows = by_partition.setdefault(partition_of(start), [])
        rows.extend(span_to_row(span, start) for span in trace.canonical())
        trace_count += 1
    written: list[str] = []
    span_count = 0
    local = isinstance(filesystem, pafs.LocalFileSystem)
    for partition, rows in sorted(by_partition.items()):
        table = pa.Table.from_pylist(rows, schema=ARCHIVE_SCHEMA)
        directory = f"{base}/{partition}"
        name = f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:12]}.parquet"
        final = f"{directory}/{name}"
        try:
            if local:
                filesystem.create_dir(directory, recursive=True)
                temporary = f"{directory}/.{name}.tmp"
                pq.write_table(table, temporary, filesystem=filesystem, compression=compression)
                filesystem.move(temporary, final)
            else:
                pq.write_table(table, final, filesystem=filesystem, compression=compression)
        except (OSError, pa.ArrowException) as exc:
            raise ArchiveError(f"cannot write archive file {final}: {exc}") from exc
        written.append(final)
        span_count += len(rows)
    return ArchiveWriteResult(tuple(written), trace_count, span_count)
