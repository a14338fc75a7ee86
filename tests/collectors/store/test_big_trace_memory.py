"""Memory a trace read from the store holds per span (issue 15: a million-span `show` under 1 GB)."""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

from spanscope.collectors.model import Kind, Span, Status
from spanscope.collectors.store import open_store

TID = "5759e988bd862e3fe1be46a994272793"
N = 20_000


def _write(db: Path) -> None:
    with open_store(db) as store:
        store.write_spans(
            [
                Span(
                    TID,
                    f"{i + 1:016x}",
                    f"{(i - 1) // 4 + 1:016x}" if i else None,
                    f"svc-{i % 20}",
                    f"op-{i % 50}",
                    Kind.SERVER if i % 3 == 0 else Kind.CLIENT,
                    1_000 + i,
                    2_000_000 + i,
                    Status.FAULT if i % 997 == 1 else Status.OK,
                    attributes={"http.route": f"/items/{i % 100}", "retries": i % 3},
                    resource={"service.name": f"svc-{i % 20}"},
                )
                for i in range(N)
            ]
        )


def test_a_read_trace_holds_under_900_bytes_a_span(tmp_path: Path) -> None:
    db = tmp_path / "spans.db"
    _write(db)
    with open_store(db) as store:
        gc.collect()
        tracemalloc.start()
        try:
            trace = store.get_trace(TID)
            gc.collect()
            held, _peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert len(trace) == N
    # before: 1,118 bytes a span here (a list of children and an id map entry per node, five empty containers per span)
    assert held / N < 900, f"{held / N:.0f} bytes a span"
    spans = trace.spans
    assert spans[0].events is spans[1].events and spans[0].annotations is spans[1].annotations
    assert list(trace.children(0)) == [1, 2, 3, 4]
    assert trace.index_of(spans[123]) == 123
