"""`spanscope traces`: trace summaries, newest first, as a table or as JSON."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from spanscope.cli.common import command_parser, open_store_for, print_json, window

TEXT_DEFAULT_LIMIT = 50


def register(sub: Any) -> None:
    parser = command_parser(sub, "traces", help="list trace summaries, newest first", window=True)
    parser.add_argument("--filter", metavar="EXPR", help="X-Ray filter expression, e.g. 'fault AND service(\"api\")'")
    parser.add_argument("--service", metavar="NAME", help="only traces that touch this service")
    parser.add_argument("--limit", type=int, metavar="N", help=f"at most N traces (text default {TEXT_DEFAULT_LIMIT})")
    parser.add_argument("--json", action="store_true", help="JSON: every match unless --limit is given")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spanscope.render.traces_text import render_traces_table

    since, until = window(args)
    limit = args.limit if args.limit is not None else (None if args.json else TEXT_DEFAULT_LIMIT)
    if limit is not None and limit < 0:
        from spanscope.cli.common import UsageError

        raise UsageError("--limit must be zero or more")
    matched: int | None = None
    in_window = 0
    with open_store_for(args, readonly=True) as store:
        if args.filter:
            from spanscope.cli.store_filter import store_filter

            search = store_filter(store, args.filter)
            summaries = store.summaries(since_ns=since, until_ns=until, service=args.service)
            candidates = search.candidate_ids(store, since_ns=since, until_ns=until, service=args.service)
            order = [s.trace_id for s in summaries if candidates is None or s.trace_id in candidates]
            matching = {t.trace_id for t in store.iter_traces(trace_ids=order) if search.predicate(t)}
            in_window = len(summaries)
            summaries = [s for s in summaries if s.trace_id in matching]
            matched = len(summaries)
            if limit is not None:
                summaries = summaries[:limit]
        else:
            summaries = store.summaries(since_ns=since, until_ns=until, service=args.service, limit=limit)
        total = store.trace_count()
    if args.json:
        print_json([s.to_json() for s in summaries])
    else:
        sys.stdout.write(render_traces_table(summaries, total=total))
        if matched is not None:
            sys.stdout.write(matched_line(matched, len(summaries), in_window))
    return 0


def matched_line(matched: int, shown: int, window: int) -> str:
    """How many of the window's traces the filter matched, and how many of them the table shows.

    >>> matched_line(120, 50, 400)
    '120 of 400 traces in the window matched the filter (50 shown; --limit N for more)\\n'
    """
    more = f" ({shown} shown; --limit N for more)" if shown < matched else ""
    return f"{matched:,} of {window:,} traces in the window matched the filter{more}\n"
