"""`spanscope map`: placeholder until its issue lands."""

from __future__ import annotations

import argparse
from typing import Any

from spanscope.tui.cli.common import UsageError, add_db_argument


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("map", help="(not available yet)")
    add_db_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise UsageError("this command is not available in this build yet")
