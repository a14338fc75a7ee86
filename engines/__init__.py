"""Scale-out engine runners (DuckDB, Spark over the Parquet archive): they depend on analysis, never the reverse.

Every engine runs the same per-trace step (:func:`spanscope.analysis.report_partial.report_step`) and the same
associative merge (:meth:`ReportPartial.merge`), so their reports are identical; they differ only in how traces are
read and where the work happens: ``local`` in this process, ``duckdb`` on one machine larger than memory (DuckDB
sorts the archive by trace id out of core and streams it), ``spark`` on a cluster (EMR) or ``local[2]``, with the
per-trace step grouped by trace id and the merge as a tree reduction.
"""

from __future__ import annotations

from spanscope.engines.errors import EngineError
from spanscope.engines.run import ENGINES, run_engine

__all__ = ["ENGINES", "EngineError", "run_engine"]
