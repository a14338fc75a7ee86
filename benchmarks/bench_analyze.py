"""Benchmark: the full post-mortem analysis (`spanscope analyze`) over 1,000,000 spans in ~50,000 traces.

Traces are generated in memory (API requests with DynamoDB calls and Lambda invocations, some cold;
MapReduce fan-outs with stragglers; failing requests whose fault crosses an SQS hop: the consumer's
trace links to its producer's, so a tenth of the traces join workflows), then analysed on one core.
Printed: time and peak RSS, a trivial baseline measured in the same run (one pass summing span
durations) with the ratio, and linearity (the same analysis on a quarter of the input).

    .venv/bin/python -m benchmarks.bench_analyze            # 50,000 traces x 20 spans
    .venv/bin/python -m benchmarks.bench_analyze --quick    # 5,000 traces
    .venv/bin/python -m benchmarks.bench_analyze --quick --best-of 6   # steadier figures on a shared machine

The same file runs against another checkout's code on the same generated input: from this checkout, with the
other checkout's interpreter, ``/path/to/other/.venv/bin/python -m benchmarks.bench_analyze --quick``.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

from spanscope.analysis.report import Report, build_report
from spanscope.collectors.model import Trace

from tests.load import generate

T = TypeVar("T")


def report_of(traces: list[Trace], with_map: bool = True) -> Report:
    """The report over the list: linked traces (each consumer links to its producer) are joined among
    themselves into workflows, as ``analyze`` joins them through the store."""
    return build_report(traces, service_map=None if with_map else False)


def baseline_pass(traces: list[Trace]) -> int:
    """The trivial baseline: one pass summing span durations."""
    total = 0
    for trace in traces:
        for span in trace.spans:
            total += span.end_ns - span.start_ns
    return total


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn: Callable[..., T], *args: Any) -> tuple[float, T]:
    """CPU seconds of this process (the machine is shared: wall time would count other people's work)."""
    gc.collect()
    start = time.process_time()
    result = fn(*args)
    return time.process_time() - start, result


def best_of(k: int, fn: Callable[..., T], *args: Any) -> tuple[float, T]:
    """Fastest of k runs: the machine is shared, the minimum is the least disturbed figure."""
    runs = [timed(fn, *args) for _ in range(k)]
    return min(runs, key=lambda r: r[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 traces instead of 50,000")
    parser.add_argument("--traces", type=int, default=None)
    parser.add_argument(
        "--best-of", type=int, default=2, help="runs of the full report and of the one without the map (default 2)"
    )
    args = parser.parse_args(argv)
    n = args.traces or (5_000 if args.quick else 50_000)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    build_report(iter(generate(200, seed=3)))  # warm up: imports, first-call costs
    t_gen, traces = timed(generate, n)
    assert isinstance(traces, list)
    spans = sum(len(t.spans) for t in traces)
    rss_data = rss_mb()
    t_base, _ = best_of(3, baseline_pass, traces)
    t_quarter, _ = best_of(3, report_of, traces[: n // 4])
    t_nomap, _ = best_of(max(1, args.best_of - 1), report_of, traces, False)
    t_full, r = best_of(max(1, args.best_of), report_of, traces)
    peak = rss_mb()
    print(f"input: {n:,} traces, {spans:,} spans (generated in {t_gen:.1f} s; RSS with data {rss_data:,.0f} MB)")
    print("times are CPU seconds of this process on one core (best of several runs)")
    print(f"baseline (one pass summing durations): {t_base:.2f} s")
    print(
        f"analyze, full report with service map: {t_full:.2f} s  ({t_full / t_base:.0f}x baseline, "
        f"{t_full / spans * 1e6:.2f} us/span)"
    )
    print(f"analyze without service map:           {t_nomap:.2f} s  ({t_nomap / t_base:.0f}x baseline)")
    print(
        f"linearity: {n // 4:,} traces in {t_quarter:.2f} s -> 4x input took {t_full / t_quarter:.2f}x time "
        f"(target <= 4.4x)"
    )
    print(f"peak RSS: {peak:,.0f} MB (target <= 1,536 MB)")
    print(
        f"findings: {len(r.hotspots)} hotspots, {len(r.failure_chains)} failure chains, "
        f"{len(r.stragglers)} stragglers, {len(r.cold_starts)} cold-start functions"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
