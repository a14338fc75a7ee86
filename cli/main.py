"""The `spanscope` command: parses arguments, dispatches to one module per command, turns errors into one line."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from spanscope.cli.common import UsageError
from spanscope.collectors.errors import FilterSyntaxError, SpanscopeError
from spanscope.render.units import TimeSyntaxError

# Each command is cli/cmd_<name>.py with register(subparsers) and run(args) -> int.
COMMANDS = (
    "collect",
    "import",
    "traces",
    "show",
    "diff",
    "map",
    "analyze",
    "tui",
    "demo",
    "export",
    "groups",
    "sampling",
)


def version() -> str:
    """The installed package's version."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return package_version("spanscope")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spanscope",
        description="Distributed tracing and troubleshooting for Lambda, Lambda@Edge, Batch, EMR and edge devices.",
    )
    parser.add_argument("--version", action="version", version=f"spanscope {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"spanscope.cli.cmd_{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UsageError, FilterSyntaxError, TimeSyntaxError) as exc:
        print(f"spanscope {args.command}: {exc}", file=sys.stderr)
        return 2
    except SpanscopeError as exc:
        print(f"spanscope {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
