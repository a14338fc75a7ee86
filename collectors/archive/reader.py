"""Reads whole traces back from the Parquet archive, the newest copy of a re-archived trace winning."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from spanscope.collectors.archive.schema import COLUMNS, spans_from_batch
from spanscope.collectors.archive.writer import ArchiveError, resolve
from spanscope.collectors.model import Span, Trace


def list_archive_files(root: str) -> list[str]:
    """Complete archive files under ``root`` in write order (hidden and temporary files skipped)."""
    filesystem, base = resolve(root)
    try:
        infos = filesystem.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
    except (OSError, pa.ArrowException) as exc:
        raise ArchiveError(f"cannot list archive {root!r}: {exc}") from exc
    files = [
        info.path
        for info in infos
        if info.type == pafs.FileType.File
        and info.base_name.endswith(".parquet")
        and not info.base_name.startswith((".", "_"))
    ]
    return sorted(files, key=lambda p: (p.rsplit("/", 1)[-1], p))


def iter_archive_traces(root: str) -> Iterator[Trace]:
    """Every trace in the archive once; a trace found in several files comes from the newest."""
    filesystem, _ = resolve(root)
    files = list_archive_files(root)
    newest = _newest_copies(filesystem, files)
    for index, path in enumerate(files):
        table = _read(filesystem, path)
        groups: dict[str, list[Span]] = {}
        for span in spans_from_batch(table):
            trace_id = span.trace_id
            if newest.get(trace_id, index) == index:
                held = groups.get(trace_id)
                if held is None:
                    groups[trace_id] = [span]
                else:
                    held.append(span)
        for trace_id, spans in groups.items():
            yield Trace(trace_id, spans)


def _newest_copies(filesystem: pafs.FileSystem, files: list[str]) -> dict[str, int]:
    """The traces found in more than one file, each with the index of the newest of those files.

    Counted in Arrow, file by file distinct: a Python set of every trace id in the archive cost a string per
    span and a dict of every trace, read once a span, that grew out of the caches as the archive grew.
    """
    if len(files) < 2:
        return {}
    pieces = []
    for index, path in enumerate(files):
        distinct = pc.unique(_read(filesystem, path, ("trace_id",)).column("trace_id"))
        pieces.append(pa.table({"trace_id": distinct, "file": pa.repeat(pa.scalar(index, pa.int32()), len(distinct))}))
    copies = pa.concat_tables(pieces).group_by("trace_id").aggregate([("file", "count"), ("file", "max")])
    again = copies.filter(pc.greater(copies.column("file_count"), 1))
    return dict(zip(again.column("trace_id").to_pylist(), again.column("file_max").to_pylist(), strict=True))


def _read(filesystem: pafs.FileSystem, path: str, columns: tuple[str, ...] = COLUMNS) -> pa.Table:
    try:
        return pq.read_table(path, columns=list(columns), filesystem=filesystem)
    except (OSError, pa.ArrowException) as exc:
        raise ArchiveError(f"cannot read archive file {path}: {exc}") from exc
