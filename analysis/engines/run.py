"""Runs the report over a Parquet archive with the chosen engine: local, duckdb or spark."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

from spanscope.analysis.engines.partial import ReportPartial, merge_partials, report_step
from spanscope.analysis.hotspots import HotspotsPartial
from spanscope.analysis.report import Report
from spanscope.analysis.stats import PERCENTILE_MODES, PercentileMode
from spanscope.collectors.archive import iter_archive_traces, list_archive_files
from spanscope.collectors.archive.schema import COLUMNS, row_to_span
from spanscope.collectors.errors import SpanscopeError
from spanscope.collectors.model import Span, Trace

ENGINES = ("local", "duckdb", "spark")
_BATCH_ROWS = 50_000


class EngineError(SpanscopeError):
    """An engine cannot run (missing extra, unsupported source)."""


def run_engine(
    engine: str,
    source: str,
    *,
    overlap_tolerance: float = 0.01,
    spark_master: str | None = None,
    percentiles: PercentileMode = "auto",
) -> Report:
    """The report over the archive at ``source`` computed by ``engine``.

    ``percentiles``: ``exact``, ``sketch`` (mergeable DDSketch, 1 % relative error) or ``auto`` (exact up to
    ``stats.SKETCH_ABOVE`` spans of one operation, sketched beyond).
    """
    runners: dict[str, Callable[[], ReportPartial]] = {
        "local": lambda: _run_local(source, overlap_tolerance, percentiles),
        "duckdb": lambda: _run_duckdb(source, overlap_tolerance, percentiles),
        "spark": lambda: _run_spark(source, overlap_tolerance, spark_master, percentiles),
    }
    if percentiles not in PERCENTILE_MODES:
        raise EngineError(f"unknown percentiles {percentiles!r}: choose one of {', '.join(PERCENTILE_MODES)}")
    if engine not in runners:
        raise EngineError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if not list_archive_files(source):
        raise EngineError(f"no archive files under {source}")
    return runners[engine]().finish()


def _fold(traces: Iterator[Trace], overlap_tolerance: float, percentiles: PercentileMode) -> ReportPartial:
    """Merge every trace's step into one partial (the local and duckdb engines' shared loop)."""
    total = ReportPartial(hotspots=HotspotsPartial(percentiles=percentiles))
    for trace in traces:
        total.merge(report_step(trace, overlap_tolerance, percentiles))
    return total


def _run_local(source: str, overlap_tolerance: float, percentiles: PercentileMode) -> ReportPartial:
    return _fold(iter_archive_traces(source), overlap_tolerance, percentiles)


def _local_only(source: str, engine: str) -> str:
    if "://" in source and not source.startswith("file://"):
        raise EngineError(
            f"the {engine} engine here reads local archives; copy {source} locally first "
            "(aws s3 sync), or run the spark engine on EMR where s3:// is native"
        )
    return source.removeprefix("file://")


def _run_duckdb(source: str, overlap_tolerance: float, percentiles: PercentileMode) -> ReportPartial:
    try:
        import duckdb
    except ImportError as exc:  # pragma: no cover - depends on extras
        raise EngineError("the duckdb engine needs spanscope[scale]") from exc
    files = list_archive_files(_local_only(source, "duckdb"))
    columns = ", ".join(COLUMNS)
    total = ReportPartial()
    with tempfile.TemporaryDirectory(prefix="spanscope-duckdb-") as spill:
        con = duckdb.connect()
        try:
            con.execute(f"SET temp_directory = '{spill}'")
            con.execute("SET preserve_insertion_order = false")
            # The newest file holding a trace wins (file names start with their write time).
            reader = con.sql(
                f"SELECT {columns} FROM read_parquet(?, filename = true)"  # noqa: S608 (fixed column names)
                " QUALIFY filename = max(filename) OVER (PARTITION BY trace_id) ORDER BY trace_id",
                params=[files],
            ).to_arrow_reader(_BATCH_ROWS)
            total = _fold(_group_rows(batch.to_pylist() for batch in reader), overlap_tolerance, percentiles)
        finally:
            con.close()
    return total


def _group_rows(batches: Iterator[list[dict[str, Any]]] | Any) -> Iterator[Trace]:
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


def spark_partial(
    spark: Any,
    source: str,
    overlap_tolerance: float = 0.01,
    percentiles: PercentileMode = "auto",
) -> ReportPartial:
    """The report partial computed on Spark: grouped by trace id, merged by a tree reduction."""
    from pyspark.sql import functions as F
    from pyspark.sql.window import Window

    frame = spark.read.option("recursiveFileLookup", "true").option("pathGlobFilter", "part-*.parquet").parquet(source)
    frame = frame.withColumn("_file", F.regexp_extract(F.input_file_name(), r"([^/]+)$", 1))
    newest = F.max("_file").over(Window.partitionBy("trace_id"))
    frame = frame.withColumn("_newest", newest).where(F.col("_file") == F.col("_newest")).select(*COLUMNS)
    tolerance = float(overlap_tolerance)
    mode = percentiles
    partials = (
        frame.rdd.map(lambda row: (row["trace_id"], row.asDict()))
        .groupByKey()
        .map(lambda item: report_step(Trace(item[0], [row_to_span(r) for r in item[1]]), tolerance, mode))
    )
    if partials.isEmpty():
        return ReportPartial()
    result: ReportPartial = partials.treeReduce(merge_partials, depth=2)
    return result


def _run_spark(source: str, overlap_tolerance: float, master: str | None, percentiles: PercentileMode) -> ReportPartial:
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on extras
        raise EngineError("the spark engine needs spanscope[scale] (pyspark) and Java 17") from exc
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("spanscope-analyze")
    if master:
        builder = builder.master(master)
    elif "://" not in source or source.startswith("file://"):
        builder = builder.master("local[2]")
    builder = (
        builder.config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
    )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    path = source if "://" in source else os.path.abspath(source)
    return spark_partial(spark, path, overlap_tolerance, percentiles)
