"""The duckdb engine: DuckDB sorts the archive by trace id out of core and streams it through the per-trace step."""

from __future__ import annotations

import tempfile

from spanscope.analysis.report_partial import ReportPartial, fold_traces
from spanscope.analysis.stats import PercentileMode
from spanscope.collectors.archive import list_archive_files
from spanscope.collectors.archive.schema import COLUMNS
from spanscope.engines.errors import EngineError
from spanscope.engines.rows import group_rows

_BATCH_ROWS = 50_000
# Beyond this DuckDB's sort spills to the temporary directory. Its default (80 % of RAM) let it hold 5.3 GB at
# 10 M spans; capped at 2 GB, reading the sorted rows into traces took 86.5 s CPU there instead of 107.4 s
# (2.4 GB peak): the smaller heap costs less than the spill. 1 M spans peak at 0.9 GB, under the cap.
_MEMORY_LIMIT = "2GB"


def run_duckdb(source: str, overlap_tolerance: float, percentiles: PercentileMode) -> ReportPartial:
    """The report partial over the local archive at ``source``; DuckDB spills to a temporary directory."""
    try:
        import duckdb
    except ImportError as exc:  # pragma: no cover - depends on extras
        raise EngineError("the duckdb engine needs spanscope[scale]") from exc
    files = list_archive_files(local_only(source))
    columns = ", ".join(COLUMNS)
    with tempfile.TemporaryDirectory(prefix="spanscope-duckdb-") as spill:
        con = duckdb.connect(
            config={"temp_directory": spill, "preserve_insertion_order": False, "memory_limit": _MEMORY_LIMIT}
        )
        try:
            # The newest file holding a trace wins (file names start with their write time): sorted first
            # within the trace, its older copies are dropped while grouping (one sort; a window over trace
            # ids took a second one, 8 of 19.5 CPU s of this query at 10 M spans).
            reader = con.sql(
                f"SELECT {columns}, filename FROM read_parquet(?, filename = true)"  # noqa: S608 (fixed names)
                " ORDER BY trace_id, filename DESC",
                params=[files],
            ).to_arrow_reader(_BATCH_ROWS)
            return fold_traces(group_rows(reader, file_column="filename"), overlap_tolerance, percentiles)
        finally:
            con.close()


def local_only(source: str) -> str:
    """``source`` as a local path, or an EngineError: this engine reads local archives only."""
    if "://" in source and not source.startswith("file://"):
        raise EngineError(
            f"the duckdb engine here reads local archives; copy {source} locally first "
            "(aws s3 sync), or run the spark engine on EMR where s3:// is native"
        )
    return source.removeprefix("file://")
