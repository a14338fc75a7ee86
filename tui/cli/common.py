"""Shared pieces of the command line: the --db option, time parsing, opening the store, JSON output."""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from spanscope.collectors.errors import SpanscopeError

if TYPE_CHECKING:
    from spanscope.collectors.store import Store

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*(?:ago)?\s*$", re.IGNORECASE)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class UsageError(SpanscopeError):
    """Bad command-line input (exit status 2)."""


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


def parse_time(text: str, *, now_s: float | None = None) -> int:
    """A command-line time as Unix nanoseconds: ISO 8601, Unix seconds, or a relative age (``15m``).

    >>> parse_time("2026-11-21T10:00:00Z")
    1795255200000000000
    >>> parse_time("1795255200")
    1795255200000000000
    >>> parse_time("15m", now_s=1795255200.0)
    1795254300000000000
    """
    value = text.strip()
    if not value:
        raise UsageError("empty time value")
    now = time.time() if now_s is None else now_s
    if value.lower() == "now":
        return int(now * 1e9)
    relative = _RELATIVE.match(value)
    if relative:
        amount = float(relative.group(1)) * _UNIT_S[relative.group(2).lower()]
        return round((now - amount) * 1e9)
    try:
        return round(float(value) * 1e9)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"cannot read time {text!r}: use ISO 8601 (2026-11-21T10:00:00Z), Unix seconds, or 15m/2h/1d ago"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp()) * 1_000_000_000 + parsed.microsecond * 1000


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


def format_time(ns: int) -> str:
    """Unix ns as an ISO 8601 UTC time with milliseconds."""
    if ns <= 0:
        return "-"
    stamp = datetime.fromtimestamp(ns / 1e9, tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def format_duration(ns: int) -> str:
    """A duration in the most readable unit: 850µs, 12.3ms, 4.56s, 3m05s."""
    if ns < 1_000_000:
        return f"{ns / 1000:.0f}µs"
    if ns < 1_000_000_000:
        return f"{ns / 1e6:.1f}ms"
    if ns < 60_000_000_000:
        return f"{ns / 1e9:.2f}s"
    minutes, seconds = divmod(ns / 1e9, 60)
    return f"{int(minutes)}m{seconds:04.1f}s"
