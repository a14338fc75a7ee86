"""`spanscope groups`: named saved filter expressions (X-Ray groups), usable as `group.name = "NAME"`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from spanscope.cli.common import UsageError, add_db_argument, open_store_for, print_json


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "groups", help="saved filter expressions: add, list, remove; use as --filter 'group.name = \"NAME\"'"
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="save a filter expression under a name")
    add.add_argument("name", metavar="NAME")
    add.add_argument("expression", metavar="EXPR", help="X-Ray filter expression")
    add.add_argument("--replace", action="store_true", help="overwrite a group of that name")
    listing = actions.add_parser("list", help="the saved groups")
    listing.add_argument("--json", action="store_true", help="JSON in the shape of X-Ray GetGroups")
    remove = actions.add_parser("remove", help="delete a saved group")
    remove.add_argument("name", metavar="NAME")
    for p in (add, listing, remove):
        add_db_argument(p)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spanscope.analysis.filters.evaluate import expand_groups, group_arn
    from spanscope.analysis.filters.grammar import parse_filter
    from spanscope.collectors.groups import delete_group, list_groups, load_groups, save_group

    if args.action == "add":
        with open_store_for(args) as store:
            known = load_groups(store)
            if args.name in known and not args.replace:
                raise UsageError(f"group {args.name!r} exists already (remove it first, or use --replace)")
            known[args.name] = args.expression
            # checks the syntax, that every group it names exists, and that it does not refer to itself
            expand_groups(parse_filter(args.expression), known, expression=args.expression, _seen=(args.name,))
            save_group(store, args.name, args.expression, replace=args.replace)
        sys.stdout.write(f"group {args.name} saved ({group_arn(args.name)})\n")
        return 0
    if args.action == "remove":
        with open_store_for(args) as store:
            if not delete_group(store, args.name):
                raise UsageError(f"no group named {args.name!r}")
        sys.stdout.write(f"group {args.name} removed\n")
        return 0
    with open_store_for(args, readonly=True) as store:
        groups = list_groups(store)
    if args.json:
        print_json(
            {
                "Groups": [
                    {"GroupName": g.name, "GroupARN": group_arn(g.name), "FilterExpression": g.expression}
                    for g in groups
                ]
            }
        )
        return 0
    if not groups:
        sys.stdout.write("no groups saved (spanscope groups add NAME EXPR)\n")
    width = max((len(g.name) for g in groups), default=0)
    for g in groups:
        sys.stdout.write(f"{g.name:<{width}}  {g.expression}\n")
    return 0
