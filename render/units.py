"""Durations and times as people read and write them, for both faces: formatting (ns and seconds) and reading
command-line / TUI time values (ISO 8601, Unix seconds, relative ages)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from spanscope.collectors.errors import SpanscopeError

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*(?:ago)?\s*$", re.IGNORECASE)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class TimeSyntaxError(SpanscopeError, ValueError):
    """A time value that is none of the accepted forms (the command line exits 2 on it)."""


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
        raise TimeSyntaxError("empty time value")
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
        raise TimeSyntaxError(
            f"cannot read time {text!r}: use ISO 8601 (2026-11-21T10:00:00Z), Unix seconds, or 15m/2h/1d ago"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp()) * 1_000_000_000 + parsed.microsecond * 1000


def format_time(ns: int) -> str:
    """Unix ns as an ISO 8601 UTC time with milliseconds.

    >>> format_time(1795255200123456789)
    '2026-11-21T10:00:00.123Z'
    """
    if ns <= 0:
        return "-"
    stamp = datetime.fromtimestamp(ns / 1e9, tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def format_duration(ns: int) -> str:
    """A duration in ns in the most readable unit: 850µs, 12.3ms, 4.56s, 3m05s.

    >>> [format_duration(v) for v in (850_000, 12_300_000, 4_560_000_000, 185_000_000_000)]
    ['850µs', '12.3ms', '4.56s', '3m05.0s']
    """
    if ns < 1_000_000:
        return f"{ns / 1000:.0f}µs"
    if ns < 1_000_000_000:
        return f"{ns / 1e6:.1f}ms"
    if ns < 60_000_000_000:
        return f"{ns / 1e9:.2f}s"
    minutes, seconds = divmod(ns / 1e9, 60)
    return f"{int(minutes)}m{seconds:04.1f}s"


def format_seconds(value: float | None) -> str:
    """A duration in seconds for people: ``850µs``, ``12.5ms``, ``1.25s``, ``3m05s``; ``-`` when unknown.

    >>> [format_seconds(v) for v in (0.00085, 0.0125, 1.25, 185.0, None)]
    ['850µs', '12.5ms', '1.25s', '3m05s', '-']
    """
    if value is None:
        return "-"
    if value < 0.001:
        return f"{value * 1e6:.0f}µs"
    if value < 1:
        return f"{value * 1e3:.3g}ms"
    if value < 60:
        return f"{value:.3g}s"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes}m{seconds:02d}s"
