"""`spanscope show TRACE_ID`: one trace as a waterfall with its critical path and failure roles, or JSON."""

from __future__ import annotations

import argparse
from typing import Any

from spanscope.tui.cli.common import UsageError, add_db_argument, open_store_for, print_json_chunks, write_text_chunks


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "show", help="one trace: waterfall with critical path and failure roles"
    )
    parser.add_argument("trace_id", metavar="TRACE_ID", help="X-Ray (1-xxxxxxxx-...) or 32-hex trace id")
    add_db_argument(parser)
    parser.add_argument(
        "--cp-tolerance",
        type=float,
        default=0.01,
        metavar="F",
        help="sibling overlap tolerated on the critical path, as a fraction of the parent's duration (0 = strict)",
    )
    parser.add_argument("--width", type=int, default=None, metavar="COLS", help="bar width (default: fit terminal)")
    parser.add_argument("--json", action="store_true", help="JSON with spans, failure roles and critical path")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spanscope.analysis import critical_path, failure_roles
    from spanscope.tui.render.trace_json import iter_trace_json
    from spanscope.tui.render.waterfall_text import iter_waterfall

    if not 0 <= args.cp_tolerance < 1:
        raise UsageError("--cp-tolerance must be a fraction in [0, 1)")
    with open_store_for(args, readonly=True) as store:
        trace = store.get_trace(args.trace_id)
    path = critical_path(trace, overlap_tolerance=args.cp_tolerance)
    roles = failure_roles(trace)
    if args.json:  # streamed, a span at a time: a million-span trace never exists as one document
        print_json_chunks(iter_trace_json(trace, path, roles))
    else:
        write_text_chunks(iter_waterfall(trace, path, roles, width=args.width))
    return 0
