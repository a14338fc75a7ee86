"""`spanscope map`: the service map of a window as text, GetServiceGraph JSON, DOT or Mermaid.

With ``--baseline-since/--baseline-until`` the map is compared with the baseline window: nodes and
edges that appeared or disappeared, and significant failure-rate and p95 changes, ranked (see
``spanscope.collectors.service_map.compare``). ``--group-by location`` clusters nodes per region,
edge location, Outpost or device.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from spanscope.cli.common import UsageError, command_parser, open_store_for, print_json, window
from spanscope.render.units import parse_time

FORMATS = ("text", "json", "dot", "mermaid", "svg")


def register(sub: Any) -> None:
    parser = command_parser(
        sub,
        "map",
        help="service map (X-Ray semantics) as text, json (GetServiceGraph shape), dot, mermaid or svg",
        window=True,
    )
    parser.add_argument("--filter", metavar="EXPR", help="X-Ray filter expression: only traces that match")
    parser.add_argument("--group", metavar="NAME", help="only traces of a saved group (spanscope groups)")
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default text)")
    parser.add_argument("--baseline-since", metavar="T", help="start of a baseline window to compare with")
    parser.add_argument("--baseline-until", metavar="T", help="end of the baseline window")
    parser.add_argument(
        "--group-by", choices=("location",), default=None, help="cluster nodes per region/edge/Outpost/device"
    )
    parser.set_defaults(func=run)


def _baseline_window(args: argparse.Namespace) -> tuple[int, int] | None:
    since_text, until_text = args.baseline_since, args.baseline_until
    if since_text is None and until_text is None:
        return None
    if since_text is None or until_text is None:
        raise UsageError("--baseline-since and --baseline-until go together")
    since, until = parse_time(since_text), parse_time(until_text)
    if since > until:
        raise UsageError("--baseline-since is after --baseline-until")
    return since, until


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run(args: argparse.Namespace) -> int:
    from spanscope.collectors.service_map import build_service_map
    from spanscope.collectors.service_map.compare import compare_maps
    from spanscope.collectors.service_map.render_json import service_graph_json

    since, until = window(args)
    baseline_window = _baseline_window(args)
    expression = args.filter
    if args.group is not None:
        named = f"group.name = {_quoted(args.group)}"
        expression = named if not expression else f"({expression}) AND {named}"
    group = args.group_by == "location"
    with open_store_for(args, readonly=True) as store:
        predicate = None
        if expression:
            from spanscope.cli.store_filter import store_filter

            predicate = store_filter(store, expression).predicate
        graph = build_service_map(store.iter_traces(since_ns=since, until_ns=until), predicate=predicate)
        baseline = None
        if baseline_window is not None:
            baseline = build_service_map(
                store.iter_traces(since_ns=baseline_window[0], until_ns=baseline_window[1]), predicate=predicate
            )
    changes = compare_maps(graph, baseline) if baseline is not None else None

    if args.format == "json":
        document = service_graph_json(graph, start_ns=since, end_ns=until)
        if changes is not None and baseline_window is not None:
            document["Comparison"] = {
                "BaselineStartTime": baseline_window[0] / 1e9,
                "BaselineEndTime": baseline_window[1] / 1e9,
                "Changes": [c.to_json() for c in changes],
            }
        print_json(document)
        return 0
    if args.format == "dot":
        from spanscope.render.map_graphviz import render_map_dot

        sys.stdout.write(render_map_dot(graph, group_by_location=group, changes=changes))
    elif args.format == "svg":
        from spanscope.render.svg_map import render_map_svg

        sys.stdout.write(render_map_svg(graph, group_by_location=group))
    elif args.format == "mermaid":
        from spanscope.render.map_graphviz import render_map_mermaid

        sys.stdout.write(render_map_mermaid(graph, group_by_location=group, changes=changes))
    else:
        from spanscope.render.map_text import render_map_text

        sys.stdout.write(render_map_text(graph, group_by_location=group, changes=changes))
    return 0
