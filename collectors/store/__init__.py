"""The durable span store: one SQLite file in WAL mode, idempotent writes, trace summaries, queries.

Writes are batched in one transaction and idempotent on (trace_id, span_id): the same span twice is
stored once, and an in-progress span is replaced by its completed version (never the reverse). A
second process can read while one writes (WAL). A file that is not a spanscope store, is damaged, is
locked too long or was written by a newer schema is reported with a clear error and never modified.

The parts: ``schema`` (file format, migrations, errors), ``writes`` (the write path), ``reads`` (the
read path), ``codec`` (span <-> row), ``summaries`` (the traces table), ``core`` (``Store`` itself), and
recovery from a corrupt file: ``aside`` (moving it aside), ``salvage`` (copying out what it still
holds) and ``recovery`` (the live collector's swap).

>>> import tempfile, os
>>> from spanscope.collectors.model import Span
>>> path = os.path.join(tempfile.mkdtemp(), "spans.db")
>>> with open_store(path) as store:
...     tid = "5759e988bd862e3fe1be46a994272793"
...     store.write_spans([Span(tid, "a" * 16, None, "api", "GET /", start_ns=1, end_ns=5)]).inserted
1
"""

from __future__ import annotations

from spanscope.collectors.store.codec import SPAN_COLUMNS, SharedEmpties, loads_exact, span_from_row
from spanscope.collectors.store.core import Store, default_store_path, open_store
from spanscope.collectors.store.reads import TraceChange
from spanscope.collectors.store.schema import APPLICATION_ID, SCHEMA_VERSION
from spanscope.collectors.store.writes import WriteResult

__all__ = [
    "APPLICATION_ID",
    "SCHEMA_VERSION",
    "SPAN_COLUMNS",
    "SharedEmpties",
    "Store",
    "TraceChange",
    "WriteResult",
    "default_store_path",
    "loads_exact",
    "open_store",
    "span_from_row",
]
