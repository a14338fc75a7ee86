"""The spark engine: the per-trace step grouped by trace id on Spark, the merge as a tree reduction."""

from __future__ import annotations

import os
import sys
from typing import Any

from spanscope.analysis.report_partial import ReportPartial, merge_partials, report_step
from spanscope.analysis.stats import PercentileMode
from spanscope.collectors.archive.schema import COLUMNS, row_to_span
from spanscope.collectors.model import Trace
from spanscope.engines.errors import EngineError


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


def run_spark(source: str, overlap_tolerance: float, master: str | None, percentiles: PercentileMode) -> ReportPartial:
    """The report partial on a SparkSession: ``master`` if given, ``local[2]`` for a local archive."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on extras
        raise EngineError("the spark engine needs spanscope[scale] (pyspark) and Java 17") from exc
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
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
    )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    path = source if "://" in source else os.path.abspath(source)
    return spark_partial(spark, path, overlap_tolerance, percentiles)
