"""The spark engine: rows shuffled by trace id in the JVM, the per-trace step on Arrow batches in Python workers."""

from __future__ import annotations

import os
import pickle
import sys
from collections.abc import Iterator
from typing import Any

from spanscope.analysis.hotspots import HotspotsPartial
from spanscope.analysis.report_partial import ReportPartial, fold_traces
from spanscope.analysis.stats import PercentileMode
from spanscope.collectors.archive.schema import COLUMNS
from spanscope.engines.batch_gc import batch_gc
from spanscope.engines.errors import EngineError
from spanscope.engines.rows import group_rows


def spark_partial(
    spark: Any,
    source: str,
    overlap_tolerance: float = 0.01,
    percentiles: PercentileMode = "auto",
    partitions: int | None = None,
) -> ReportPartial:
    """The report partial computed on Spark: rows hashed to ``partitions`` by trace id and sorted within each
    (the JVM's shuffle, no Python in it), each partition streamed to Python as Arrow batches and folded into
    one partial there (the per-trace step on every trace), the partials merged here. ``partitions``: default
    twice the default parallelism (at least 2)."""
    from pyspark.sql import functions as F
    from pyspark.sql.window import Window

    frame = spark.read.option("recursiveFileLookup", "true").option("pathGlobFilter", "part-*.parquet").parquet(source)
    frame = frame.withColumn("_file", F.regexp_extract(F.input_file_name(), r"([^/]+)$", 1))
    newest = F.max("_file").over(Window.partitionBy("trace_id"))
    frame = frame.withColumn("_newest", newest).where(F.col("_file") == F.col("_newest")).select(*COLUMNS)
    count = partitions or max(2, 2 * int(spark.sparkContext.defaultParallelism))
    frame = frame.repartition(count, "trace_id").sortWithinPartitions("trace_id")
    tolerance = float(overlap_tolerance)
    mode = percentiles

    def fold_partition(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        with batch_gc():  # in the Python worker, whose thresholds run_engine's do not reach
            partial = fold_traces(group_rows(batches), tolerance, mode)
        yield pa.RecordBatch.from_pydict({"partial": [pickle.dumps(partial, protocol=pickle.HIGHEST_PROTOCOL)]})

    total = ReportPartial(hotspots=HotspotsPartial(percentiles=mode))
    for row in frame.mapInArrow(fold_partition, "partial binary").collect():
        total.merge(pickle.loads(row["partial"]))
    return total


def run_spark(source: str, overlap_tolerance: float, master: str | None, percentiles: PercentileMode) -> ReportPartial:
    """The report partial on a SparkSession: ``master`` if given, ``local[2]`` for a local archive."""
    try:
        import pandas  # noqa: F401 (pyspark's Arrow path, mapInArrow, checks that it is installed)
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on extras
        raise EngineError("the spark engine needs spanscope[scale] (pyspark, pandas) and Java 17") from exc
    # Spark's Python workers run this interpreter (where spanscope is installed) unless told otherwise.
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
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "50000")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
    )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    path = source if "://" in source else os.path.abspath(source)
    return spark_partial(spark, path, overlap_tolerance, percentiles)
