"""`spanscope show TRACE_ID`: one trace as a waterfall with its critical path and failure roles, or JSON."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from spanscope.tui.cli.common import UsageError, add_db_argument, open_store_for, print_json

_HEX_DIGITS = frozenset("0123456789abcdef")


def trace_id_argument(text: str) -> str:
    """A trace id as typed: the X-Ray form and 32 hex digits pass as they are; 16 hex digits (a 64-bit
    Zipkin/Jaeger id) or fewer (Jaeger drops leading zeros) are left-padded to 32, as the importers store them.

    >>> trace_id_argument("463AC35C9F6413AD")
    '0000000000000000463ac35c9f6413ad'
    >>> trace_id_argument("1-5759e988-bd862e3fe1be46a994272793")
    '1-5759e988-bd862e3fe1be46a994272793'
    """
    value = text.strip().lower()
    if 0 < len(value) < 32 and _HEX_DIGITS.issuperset(value):
        return value.rjust(32, "0")
    return text


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "show", help="one trace: waterfall with critical path and failure roles"
    )
    parser.add_argument(
        "trace_id", metavar="TRACE_ID", help="X-Ray (1-xxxxxxxx-...), 32-hex or 16-hex (64-bit Zipkin/Jaeger) trace id"
    )
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
    from spanscope.tui.render.trace_json import trace_to_json
    from spanscope.tui.render.waterfall_text import render_waterfall

    if not 0 <= args.cp_tolerance < 1:
        raise UsageError("--cp-tolerance must be a fraction in [0, 1)")
    with open_store_for(args, readonly=True) as store:
        trace = store.get_trace(trace_id_argument(args.trace_id))
    path = critical_path(trace, overlap_tolerance=args.cp_tolerance)
    roles = failure_roles(trace)
    if args.json:
        print_json(trace_to_json(trace, path, roles))
    else:
        sys.stdout.write(render_waterfall(trace, path, roles, width=args.width))
    return 0
