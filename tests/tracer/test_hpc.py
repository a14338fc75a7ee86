"""HPC ranks in worker processes waiting at a real barrier: compute and barrier-wait time per rank and step."""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

import pytest
from spanscope.tracer import configure, environ_for_context, shutdown, span
from spanscope.tracer.integrations import RankTracer

from tests.tracer.otlp_sink import OtlpSink


def rank_main(rank: int, barrier: Any, carried: dict[str, str], endpoint: str) -> None:
    import os

    os.environ.update(carried)
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    configure(service="sim", flush_timeout_millis=20000)  # generous: the test machine may be loaded
    ranks = RankTracer(rank, size=3, job="sim")
    with ranks.run():
        for step in range(2):
            with ranks.step(step) as st:
                time.sleep(0.4 if rank == 2 else 0.01)  # rank 2 is the straggler
                with st.barrier():
                    barrier.wait()
    shutdown()


def test_slow_rank_makes_the_others_wait(clean_env: pytest.MonkeyPatch, sink: OtlpSink) -> None:
    configure(exporters=["memory"], sampling=1.0)
    with span("launch"):
        carried = environ_for_context()
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(3)
    procs = [ctx.Process(target=rank_main, args=(r, barrier, carried, sink.endpoint)) for r in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    spans = sink.wait_for(3 * (1 + 2 * 2))
    runs = [s for s in spans if s["name"] == "sim rank"]
    assert len(runs) == 3 and {s["parent_id"] for s in runs} == {carried["TRACEPARENT"].split("-")[2]}
    assert {s["attributes"]["spanscope.origin"] for s in runs} == {"spanscope::HPC::Rank"}
    # one name for every rank (the rank is an attribute): siblings the stragglers analyzer compares, each
    # carrying its totals and host
    assert all(
        {"spanscope.hpc.compute_ns", "spanscope.hpc.barrier_wait_ns", "host.name"} <= set(s["attributes"]) for s in runs
    )
    steps = [s for s in spans if s["name"].startswith("step ")]
    assert len(steps) == 6
    by_rank: dict[int, list[dict[str, Any]]] = {}
    for s in steps:
        by_rank.setdefault(s["attributes"]["spanscope.hpc.rank"], []).append(s["attributes"])
    assert {r: sorted(a["spanscope.hpc.step"] for a in attrs) for r, attrs in by_rank.items()} == {
        0: [0, 1],
        1: [0, 1],
        2: [0, 1],
    }

    def total(rank: int, key: str) -> int:
        return sum(a[key] for a in by_rank[rank])

    # Summed over the steps (robust to scheduling noise on a loaded machine): the straggler computes
    # longest and waits least; the others wait for it.
    assert total(2, "spanscope.hpc.compute_ns") > max(total(r, "spanscope.hpc.compute_ns") for r in (0, 1))
    assert total(2, "spanscope.hpc.barrier_wait_ns") < min(total(r, "spanscope.hpc.barrier_wait_ns") for r in (0, 1))
    run_of = {s["attributes"]["spanscope.hpc.rank"]: s["attributes"] for s in runs}
    for rank in range(3):
        assert run_of[rank]["spanscope.hpc.compute_ns"] == total(rank, "spanscope.hpc.compute_ns")
    barriers = [s for s in spans if s["name"] == "barrier"]
    assert len(barriers) == 6
