"""`spanscope analyze`: the post-mortem report (hotspots, failure chains, stragglers, cold starts, map)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spanscope.collectors.model import Trace

from spanscope.cli.common import UsageError, command_parser, open_store_for, print_json, window
from spanscope.cli.options import add_count_argument, add_cp_tolerance_argument, check_counts, check_cp_tolerance
from spanscope.render.units import parse_time


def register(sub: Any) -> None:
    parser = command_parser(
        sub,
        "analyze",
        help="post-mortem report: latency hotspots, failure chains, stragglers, cold starts",
        window=True,
    )
    parser.add_argument("--filter", metavar="EXPR", help="X-Ray filter expression applied to both windows")
    parser.add_argument("--baseline-since", metavar="T", help="start of the baseline window to compare with")
    parser.add_argument("--baseline-until", metavar="T", help="end of the baseline window")
    parser.add_argument(
        "--format",
        choices=("md", "json", "html"),
        default="md",
        help="Markdown (default), JSON, or a self-contained HTML file with the drawn map and charts",
    )
    parser.add_argument("--output", metavar="FILE", help="write the report to FILE instead of stdout")
    parser.add_argument(
        "--select",
        metavar="SEL",
        help="BubbleUp: attribute values that set a selection apart from the rest of the window: 'errors', "
        "'latency:LOW-HIGH' (seconds or pNN; an end may be empty) or a filter expression (JSON key bubbleup)",
    )
    add_cp_tolerance_argument(parser)
    parser.add_argument("--no-adjust", action="store_true", help="analyse raw span times (no clock-skew adjustment)")
    add_count_argument(
        parser, "--min-group", 5, "smallest fan-out (array, ranks, tasks) compared for stragglers (default 5)"
    )
    add_count_argument(parser, "--top", 10, "rows per Markdown section (default 10)")
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
    from spanscope.analysis.report import build_report

    check_cp_tolerance(args)
    check_counts(args, top=1, min_group=2)
    since, until = window(args)
    if bool(args.baseline_since) != bool(args.baseline_until):
        raise UsageError("--baseline-since and --baseline-until go together")
    base_since = base_until = None
    if args.baseline_since:
        base_since, base_until = parse_time(args.baseline_since), parse_time(args.baseline_until)
        if base_since > base_until:
            raise UsageError("--baseline-since is after --baseline-until")
    if args.engine or args.source:
        if not (args.engine and args.source):
            raise UsageError("--engine and --source go together (the archive written by `spanscope export`)")
        if args.format == "html":
            raise UsageError("--format html reads the store (it draws traces): it does not run on --engine")
        if args.filter or args.select or base_since is not None or since is not None or until is not None:
            raise UsageError(
                "--engine runs over the whole archive: --filter, --select, windows and baselines need the store"
            )
        from spanscope.engines import run_engine

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

    with open_store_for(args, readonly=True) as store:
        from spanscope.cli.store_filter import store_filter

        search = store_filter(store, args.filter) if args.filter else None

        def window_traces(start: int | None, end: int | None) -> Iterator[Trace]:
            if search is None:
                return store.iter_traces(since_ns=start, until_ns=end)
            return search.traces(store, since_ns=start, until_ns=end)  # the store's text search first

        current = window_traces(since, until)
        selection = None
        facts: list[Any] = []
        if args.select:
            from spanscope.analysis.bubbleup import parse_selection

            selection = parse_selection(args.select, lambda text: store_filter(store, text).predicate)
            current = _tap(current, facts, selection.predicate)
        baseline = window_traces(base_since, base_until) if base_since is not None else None
        options: dict[str, Any] = {
            "overlap_tolerance": args.cp_tolerance,
            "load_traces": lambda ids: store.iter_traces(trace_ids=ids),
            "adjust_skew": not args.no_adjust,
            "min_group": args.min_group,
            "percentiles": args.percentiles,
        }
        if args.format == "html":
            return _write_html(args, current, baseline, (base_since, base_until), options)
        report = build_report(current, baseline=baseline, **options)
    bubble = None
    if selection is not None:
        from spanscope.analysis.bubbleup import bubbleup_facts

        bubble = bubbleup_facts(facts, selection, top=max(20, args.top))
    _emit(report, args, bubble)
    return 0


def _write_html(
    args: argparse.Namespace,
    current: Iterator[Trace],
    baseline: Iterator[Trace] | None,
    baseline_ns: tuple[int | None, int | None],
    options: dict[str, Any],
) -> int:
    from spanscope.render.html_report import render_report_html
    from spanscope.render.report_inputs import analyze_for_html

    report, inputs = analyze_for_html(current, baseline=baseline, **options)
    base_since, base_until = baseline_ns
    window_pair = (base_since, base_until) if base_since is not None and base_until is not None else None
    page = render_report_html(report, inputs.graph(), inputs.worst_traces(), baseline_window=window_pair)
    _output(page, args)
    return 0


def _output(page: str, args: argparse.Namespace) -> None:
    if not args.output:
        sys.stdout.write(page)
        return
    from pathlib import Path

    try:
        Path(args.output).expanduser().write_text(page, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    print(f"wrote {args.output}", file=sys.stderr)


def _tap(traces: Iterator[Trace], facts: list[Any], predicate: Callable[[Trace], bool] | None) -> Iterator[Trace]:
    """The traces unchanged, with BubbleUp's facts of each collected on the way to the report."""
    from spanscope.analysis.bubbleup import trace_facts

    for trace in traces:
        facts.append(trace_facts(trace, predicate))
        yield trace


def _emit(report: Any, args: argparse.Namespace, bubble: Any = None) -> None:
    if args.format == "json":
        import contextlib
        import io

        from spanscope.render.report_json import report_to_json

        document = report_to_json(report)
        if bubble is not None:
            document["bubbleup"] = bubble.to_json()
        if not args.output:
            print_json(document)
            return
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            print_json(document)
        _output(buffer.getvalue(), args)
    else:
        from spanscope.render.report_md import render_report_markdown

        text = render_report_markdown(report, top=args.top)
        if bubble is not None:
            from spanscope.render.bubbleup_md import render_bubbleup_markdown

            text += render_bubbleup_markdown(bubble, top=args.top)
        _output(text, args)
