"""Runs the report over a Parquet archive with the chosen engine (local, duckdb or spark) and says why one cannot."""

from __future__ import annotations

from collections.abc import Callable

from spanscope.analysis.report import Report
from spanscope.analysis.report_partial import ReportPartial, fold_traces
from spanscope.analysis.stats import PERCENTILE_MODES, PercentileMode
from spanscope.collectors.archive import iter_archive_traces, list_archive_files
from spanscope.engines.batch_gc import batch_gc
from spanscope.engines.duckdb_runner import run_duckdb
from spanscope.engines.errors import EngineError
from spanscope.engines.spark_runner import run_spark

ENGINES = ("local", "duckdb", "spark")


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
        "local": lambda: fold_traces(iter_archive_traces(source), overlap_tolerance, percentiles),
        "duckdb": lambda: run_duckdb(source, overlap_tolerance, percentiles),
        "spark": lambda: run_spark(source, overlap_tolerance, spark_master, percentiles),
    }
    if percentiles not in PERCENTILE_MODES:
        raise EngineError(f"unknown percentiles {percentiles!r}: choose one of {', '.join(PERCENTILE_MODES)}")
    if engine not in runners:
        raise EngineError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if not list_archive_files(source):
        raise EngineError(f"no archive files under {source}")
    with batch_gc():
        return runners[engine]().finish()
