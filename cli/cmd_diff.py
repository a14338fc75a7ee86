"""`spanscope diff TRACE_A TRACE_B`: two traces matched by (service, operation) path, as text or JSON."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from spanscope.cli.cmd_show import trace_id_argument
from spanscope.cli.common import UsageError, command_parser, open_store_for, print_json

TEXT_DEFAULT_TOP = 25


def register(sub: Any) -> None:
    parser = command_parser(
        sub,
        "diff",
        help="compare two traces: spans matched by (service, operation) path, ranked by end-to-end impact",
        description=(
            "Compares trace A (the baseline, e.g. a fast request) with trace B. Spans are matched by their"
            " (service, operation) path from the root; for every path it shows the spans only in one side"
            " (added / missing), and the count, duration, critical-path time and status on each side, ranked"
            " by the change of critical-path time (what moved the end-to-end time) in the direction of the"
            " end-to-end change."
        ),
    )
    parser.add_argument("trace_a", metavar="TRACE_A", help="the baseline trace (X-Ray, 32-hex or 16-hex id)")
    parser.add_argument("trace_b", metavar="TRACE_B", help="the trace to compare with it")
    parser.add_argument("--top", type=int, default=TEXT_DEFAULT_TOP, metavar="N", help="rows in the text output")
    parser.add_argument("--json", action="store_true", help="JSON: every path, ranked")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spanscope.analysis.diff import diff_traces
    from spanscope.render.diff import diff_to_json, render_diff

    if args.top < 1:
        raise UsageError("--top must be at least 1")
    with open_store_for(args, readonly=True) as store:
        a = store.get_trace(trace_id_argument(args.trace_a))
        b = store.get_trace(trace_id_argument(args.trace_b))
    result = diff_traces(a, b)
    if args.json:
        print_json(diff_to_json(result))
    else:
        sys.stdout.write(render_diff(result, top=args.top))
    return 0
