"""Benchmark: the HTML post-mortem (`spanscope analyze --format html`) over 1,000,000 spans.

The input is ``bench_analyze``'s (50,000 traces x 20 spans: API requests with DynamoDB calls and cold
starts, MapReduce fan-outs with stragglers, failing consumers behind an SQS hop). Timed on one core,
CPU seconds (the machine is shared) and wall:

- in memory: the analysis pass that feeds the HTML report (``analyze_for_html``: report, map graph,
  worst traces) plus drawing and writing the file, against ``build_report`` alone (what
  `analyze --format json` computes) over the same traces in the same run;
- the drawing alone (report and graph given): SVG map, charts, waterfalls, HTML, file write;
- with ``--store``: the same from a SQLite store filled first (not timed), against the JSON report
  of that store; reading spans back from the store dominates both.

Printed as well: the file size (targets: under 30 s, under 5 MB) and the size of a wide map's report
(200 services, ~1,000 edges).

    .venv/bin/python -m benchmarks.bench_report                # 1,000,000 spans in memory
    .venv/bin/python -m benchmarks.bench_report --store        # and from a store (adds ~5 min)
    .venv/bin/python -m benchmarks.bench_report --quick        # 100,000 spans
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from spanscope.analysis.report import build_report
from spanscope.collectors.model import Trace
from spanscope.collectors.store import open_store
from spanscope.render.html_report import render_report_html
from spanscope.render.report_inputs import analyze_for_html
from spanscope.render.report_json import report_to_json

from tests.load import fill_store, generate, html_from_store, wide_traces

T = TypeVar("T")


def json_from_store(path: Path) -> int:
    import orjson

    with open_store(path, readonly=True) as store:
        report = build_report(store.iter_traces())
    return len(orjson.dumps(report_to_json(report)))


def timed(fn: Callable[..., T], *args: Any) -> tuple[float, float, T]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def render_and_write(report: Any, graph: Any, worst: list[Trace], out: Path) -> int:
    out.write_text(render_report_html(report, graph, worst), encoding="utf-8")
    return out.stat().st_size


def html_in_memory(traces: list[Trace], out: Path) -> int:
    report, inputs = analyze_for_html(iter(traces))
    return render_and_write(report, inputs.graph(), inputs.worst_traces(), out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 traces (100,000 spans) instead of 50,000")
    parser.add_argument("--traces", type=int, default=None)
    parser.add_argument("--store", action="store_true", help="also measure from a SQLite store")
    args = parser.parse_args(argv)
    n = args.traces or (5_000 if args.quick else 50_000)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    print(f"load average before: {', '.join(f'{x:.1f}' for x in os.getloadavg())} (2 shared cores)")
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        out = Path(tmp) / "report.html"
        html_in_memory(generate(200, seed=3), out)  # warm up: imports, first-call costs
        traces = generate(n)
        spans = sum(len(t.spans) for t in traces)
        print(f"input: {n:,} traces, {spans:,} spans in memory")
        w_json, c_json, _ = timed(build_report, iter(traces))
        w_html, c_html, size = timed(html_in_memory, traces, out)
        print(f"baseline, build_report (analyze --format json):  {w_json:.2f} s wall, {c_json:.2f} s CPU")
        print(
            f"HTML report, analysis + drawing + file:         {w_html:.2f} s wall, {c_html:.2f} s CPU "
            f"(ratio {c_html / c_json:.2f} CPU; target < 30 s)"
        )
        report, inputs = analyze_for_html(iter(traces))
        graph, worst = inputs.graph(), inputs.worst_traces()
        w_draw, c_draw, _ = timed(render_and_write, report, graph, worst, out)
        print(
            f"drawing alone (report and graph given):          {w_draw:.2f} s wall, {c_draw:.2f} s CPU "
            f"({graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges, {len(worst)} waterfalls)"
        )
        print(f"HTML file: {size:,} bytes ({size / 2**20:.2f} MiB; target < 5 MB)")
        del traces, report, inputs, graph, worst
        if args.store:
            db = Path(tmp) / "spans.db"
            t_fill, _, stored = timed(fill_store, db, n)
            print(f"store: {stored:,} spans filled in {t_fill:.1f} s (not timed)")
            w_sj, c_sj, _ = timed(json_from_store, db)
            w_sh, c_sh, s_size = timed(html_from_store, db, out)
            print(f"from the store, analyze --format json: {w_sj:.2f} s wall, {c_sj:.2f} s CPU")
            print(
                f"from the store, analyze --format html: {w_sh:.2f} s wall, {c_sh:.2f} s CPU "
                f"(ratio {c_sh / c_sj:.2f} CPU); {s_size:,} bytes"
            )
        wide_report, wide_inputs = analyze_for_html(wide_traces())
        wide_graph = wide_inputs.graph()
        w_wide, _, page = timed(render_report_html, wide_report, wide_graph, wide_inputs.worst_traces())
        print(
            f"wide map: {wide_graph.number_of_nodes()} nodes, {wide_graph.number_of_edges()} edges -> "
            f"{len(page.encode()):,} bytes, drawn in {w_wide:.2f} s"
        )
    print(f"load average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
