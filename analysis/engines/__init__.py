"""Engines that run the post-mortem analysis over a Parquet archive: local, DuckDB and Spark.

Every engine runs the same per-trace step (:func:`report_step`) and the same associative merge
(:meth:`ReportPartial.merge`), so their reports are identical; they differ only in how traces are
read and where the work happens: ``local`` in this process, ``duckdb`` on one machine larger than
memory (DuckDB sorts the archive by trace id out of core and streams it), ``spark`` on a cluster
(EMR) or ``local[2]``, with the per-trace step grouped by trace id and the merge as a tree reduction.
"""

from __future__ import annotations

from spanscope.analysis.engines.partial import ReportPartial, report_step
from spanscope.analysis.engines.run import ENGINES, run_engine

__all__ = ["ENGINES", "ReportPartial", "report_step", "run_engine"]
