"""Shared pieces of the command line: a command's parser with --db and the window options, opening the store,
JSON output."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from spanscope.collectors.errors import SpanscopeError
from spanscope.render.units import parse_time

if TYPE_CHECKING:
    from spanscope.collectors.store import Store


class UsageError(SpanscopeError):
    """Bad command-line input (exit status 2)."""


def command_parser(
    sub: Any, name: str, *, help: str, description: str | None = None, window: bool = False
) -> argparse.ArgumentParser:
    """The parser of the subcommand ``name`` with --db and, with ``window``, --since/--until."""
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help, description=description)
    add_db_argument(parser)
    if window:
        add_window_arguments(parser)
    return parser


def add_db_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="PATH",
        default=None,
        help="span store (default: $SPANSCOPE_DB, else $XDG_DATA_HOME/spanscope/spans.db)",
    )


def add_window_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", metavar="T", help="start of the window: ISO 8601, Unix seconds, or 15m/2h/1d ago")
    parser.add_argument("--until", metavar="T", help="end of the window (same forms as --since)")


def window(args: argparse.Namespace) -> tuple[int | None, int | None]:
    since = parse_time(args.since) if getattr(args, "since", None) else None
    until = parse_time(args.until) if getattr(args, "until", None) else None
    if since is not None and until is not None and since > until:
        raise UsageError("--since is after --until")
    return since, until


def open_store_for(args: argparse.Namespace, *, readonly: bool = False) -> Store:
    """The store named by --db (or the default), opened for this command."""
    from spanscope.collectors.store import default_store_path, open_store

    path = getattr(args, "db", None) or default_store_path()
    return open_store(path, readonly=readonly)


_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def print_json(obj: Any) -> None:
    """Write ``obj`` as indented JSON to stdout. Data stays exact; characters that a terminal would act on
    (C1 controls, bidi overrides) are written as ``\\uXXXX`` escapes, which JSON readers decode unchanged."""
    import orjson

    print_json_chunks([orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)])


def print_json_chunks(chunks: Iterable[bytes]) -> None:
    """JSON text made in pieces (a streamed document) written as ``print_json`` writes a whole one."""
    write_text_chunks(_JSON_UNSAFE.sub(_escape, chunk.decode()) for chunk in chunks)
    sys.stdout.write("\n")


def write_text_chunks(chunks: Iterable[str], *, flush_chars: int = 1 << 20) -> None:
    """Text pieces to stdout in blocks of about ``flush_chars``: streamed, but not one write per piece."""
    pending: list[str] = []
    size = 0
    for chunk in chunks:
        pending.append(chunk)
        size += len(chunk)
        if size >= flush_chars:
            sys.stdout.write("".join(pending))
            pending, size = [], 0
    sys.stdout.write("".join(pending))


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"
