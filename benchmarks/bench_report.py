"""Benchmark: the HTML post-mortem (`spanscope analyze --format html`) over a store of 1,000,000 spans.

The store is filled first (not timed) with the traces of ``bench_analyze`` (50,000 traces x 20 spans:
API requests with DynamoDB calls and cold starts, MapReduce fan-outs with stragglers, failing
consumers behind an SQS hop). Timed, on one core: the HTML report read from the store, analysed and
written, against the JSON report of the same store in the same run (`analyze --format json`: the
same pass without drawing). Printed: wall and CPU seconds, the ratio, the file size (targets: under
30 s and under 5 MB) and the size of a wide map's report (200 services, ~1,000 edges).

    .venv/bin/python -m benchmarks.bench_report            # 1,000,000 spans
    .venv/bin/python -m benchmarks.bench_report --quick    # 100,000 spans
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from spanscope.analysis.report import build_report
from spanscope.collectors.model import Kind, Span, Trace
from spanscope.collectors.store import open_store
from spanscope.tui.render.html_report import render_report_html
from spanscope.tui.render.report_inputs import analyze_for_html
from spanscope.tui.render.report_json import report_to_json

from benchmarks.bench_analyze import SPANS_PER_TRACE, make_trace

CHUNK = 2_000
T = TypeVar("T")


def fill_store(path: Path, n_traces: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    spans = 0
    with open_store(path) as store:
        for start in range(0, n_traces, CHUNK):
            batch = [s for k in range(start, min(n_traces, start + CHUNK)) for s in make_trace(k, rng).spans]
            store.write_spans(batch)
            spans += len(batch)
    return spans


def html_from_store(path: Path, out: Path) -> int:
    with open_store(path, readonly=True) as store:
        report, inputs = analyze_for_html(store.iter_traces())
    page = render_report_html(report, inputs.graph(), inputs.worst_traces())
    out.write_text(page, encoding="utf-8")
    return out.stat().st_size


def json_from_store(path: Path) -> int:
    import orjson

    with open_store(path, readonly=True) as store:
        report = build_report(store.iter_traces())
    return len(orjson.dumps(report_to_json(report)))


def wide_traces(services: int = 200, fanout: int = 5, seed: int = 3) -> list[Trace]:
    """A map of ``services`` nodes and about ``services * fanout`` edges (one trace per caller)."""
    rng = random.Random(seed)
    base = 1_763_700_000_000_000_000
    traces = []
    for i in range(services):
        tid = f"{base // 10**9:08x}{i:024x}"
        root = Span(tid, f"{1:016x}", None, f"svc{i:03d}", "handle", Kind.SERVER, base, base + 10**8)
        spans = [root]
        for j in range(fanout):
            callee = rng.randrange(services)
            spans.append(
                Span(
                    tid, f"{j + 2:016x}", root.span_id, f"svc{callee:03d}", "work", Kind.SERVER, base + 10, base + 10**7
                )
            )
        traces.append(Trace(tid, spans))
    return traces


def timed(fn: Callable[..., T], *args: Any) -> tuple[float, float, T]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 traces (100,000 spans) instead of 50,000")
    parser.add_argument("--traces", type=int, default=None)
    args = parser.parse_args(argv)
    n = args.traces or (5_000 if args.quick else 50_000)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    print(f"load average before: {', '.join(f'{x:.1f}' for x in os.getloadavg())} (2 shared cores)")
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        db, out = Path(tmp) / "spans.db", Path(tmp) / "report.html"
        t_fill, _, spans = timed(fill_store, db, n)
        print(f"store: {n:,} traces, {spans:,} spans ({SPANS_PER_TRACE} a trace), filled in {t_fill:.1f} s (not timed)")
        json_from_store(db)  # warm the page cache and the imports
        w_json, c_json, _ = timed(json_from_store, db)
        w_html, c_html, size = timed(html_from_store, db, out)
        print(f"baseline, analyze --format json from the store: {w_json:.2f} s wall, {c_json:.2f} s CPU")
        print(
            f"analyze --format html from the store:           {w_html:.2f} s wall, {c_html:.2f} s CPU "
            f"(ratio {c_html / c_json:.2f} CPU; target < 30 s)"
        )
        print(f"HTML file: {size:,} bytes ({size / 2**20:.2f} MiB; target < 5 MB)")
        report, inputs = analyze_for_html(wide_traces())
        graph = inputs.graph()
        w_wide, _, page = timed(render_report_html, report, graph, inputs.worst_traces())
        print(
            f"wide map: {graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges -> "
            f"{len(page.encode()):,} bytes, drawn in {w_wide:.2f} s"
        )
    print(f"load average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
