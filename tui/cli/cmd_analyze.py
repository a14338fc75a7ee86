"""`spanscope analyze`: the post-mortem report (hotspots, failure chains, stragglers, cold starts, map)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from typing import Any

from spanscope.tui.cli.common import (
    UsageError,
    add_db_argument,
    add_window_arguments,
    open_store_for,
    parse_time,
    print_json,
    window,
)


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "analyze", help="post-mortem report: latency hotspots, failure chains, stragglers, cold starts"
    )
    add_db_argument(parser)
    add_window_arguments(parser)
    parser.add_argument("--filter", metavar="EXPR", help="X-Ray filter expression applied to both windows")
    parser.add_argument("--baseline-since", metavar="T", help="start of the baseline window to compare with")
    parser.add_argument("--baseline-until", metavar="T", help="end of the baseline window")
    parser.add_argument("--format", choices=("md", "json"), default="md", help="Markdown (default) or JSON")
    parser.add_argument(
        "--cp-tolerance",
        type=float,
        default=0.01,
        metavar="F",
        help="sibling overlap tolerated on the critical path, as a fraction of the parent's duration (0 = strict)",
    )
    parser.add_argument("--top", type=int, default=10, metavar="N", help="rows per Markdown section (default 10)")
    parser.add_argument(
        "--engine",
        choices=("local", "duckdb", "spark"),
        default=None,
        help="analyze a Parquet archive (--source) in this process, with DuckDB, or on Spark",
    )
    parser.add_argument("--source", metavar="DIR_OR_S3_URL", help="the Parquet archive for --engine")
    parser.add_argument(
        "--percentiles",
        choices=("auto", "exact", "sketch"),
        default="auto",
        help="p50/p95/p99 exact (sorted), from a DDSketch (1%% relative error, mergeable, bounded memory), or "
        "auto (default: exact up to 200,000 spans of one operation, sketched beyond)",
    )
    parser.add_argument("--spark-master", metavar="URL", help="Spark master for --engine spark (default local[2])")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spanscope.analysis.filters import compile_filter
    from spanscope.analysis.report import build_report
    from spanscope.collectors.model import Trace

    if not 0 <= args.cp_tolerance < 1:
        raise UsageError("--cp-tolerance must be a fraction in [0, 1)")
    if args.top < 1:
        raise UsageError("--top must be 1 or more")
    since, until = window(args)
    if bool(args.baseline_since) != bool(args.baseline_until):
        raise UsageError("--baseline-since and --baseline-until go together")
    base_since = base_until = None
    if args.baseline_since:
        base_since, base_until = parse_time(args.baseline_since), parse_time(args.baseline_until)
        if base_since > base_until:
            raise UsageError("--baseline-since is after --baseline-until")
    predicate: Callable[[Trace], bool] | None = compile_filter(args.filter) if args.filter else None
    if args.engine or args.source:
        if not (args.engine and args.source):
            raise UsageError("--engine and --source go together (the archive written by `spanscope export`)")
        if predicate is not None or base_since is not None or since is not None or until is not None:
            raise UsageError("--engine runs over the whole archive: --filter, windows and baselines need the store")
        from spanscope.analysis.engines import run_engine

        _emit(
            run_engine(
                args.engine,
                args.source,
                overlap_tolerance=args.cp_tolerance,
                spark_master=args.spark_master,
                percentiles=args.percentiles,
            ),
            args,
        )
        return 0

    def matching(traces: Iterator[Trace]) -> Iterator[Trace]:
        if predicate is None:
            yield from traces
            return
        for trace in traces:
            if predicate(trace):
                yield trace

    with open_store_for(args, readonly=True) as store:
        current = matching(store.iter_traces(since_ns=since, until_ns=until))
        baseline = (
            matching(store.iter_traces(since_ns=base_since, until_ns=base_until)) if base_since is not None else None
        )
        report = build_report(
            current, baseline=baseline, overlap_tolerance=args.cp_tolerance, percentiles=args.percentiles
        )
    _emit(report, args)
    return 0


def _emit(report: Any, args: argparse.Namespace) -> None:
    if args.format == "json":
        from spanscope.tui.render.report_json import report_to_json

        print_json(report_to_json(report))
    else:
        from spanscope.tui.render.report_md import render_report_markdown

        sys.stdout.write(render_report_markdown(report, top=args.top))
