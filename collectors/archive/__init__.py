"""The Parquet span archive: one documented schema, partitioned by date and hour, local or s3:// paths.

Spans of one trace always land in one partition (chosen by the trace's start time) and one file, so a
reader can rebuild whole traces from a file. Files become visible only when complete. When a trace is
archived again (late spans), the copy in the newest file wins. See ``schema.py`` for the columns.
"""

from spanscope.collectors.archive.reader import iter_archive_traces, list_archive_files
from spanscope.collectors.archive.schema import ARCHIVE_SCHEMA, SCHEMA_DOC
from spanscope.collectors.archive.writer import ArchiveWriteResult, write_traces

__all__ = [
    "ARCHIVE_SCHEMA",
    "SCHEMA_DOC",
    "ArchiveWriteResult",
    "iter_archive_traces",
    "list_archive_files",
    "write_traces",
]
