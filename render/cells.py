"""Rich Text cells for the Textual app: untrusted strings cleaned and wrapped in Text, never parsed as markup.

Every piece of span-derived text the TUI shows goes through ``safe`` (or a helper built on it):
``clean`` strips escape sequences, control and bidi characters, and ``rich.text.Text`` shows the
rest literally, so ``[bold]`` or ``[link=...]`` in a span name stays just characters.

>>> safe("[bold]x\\x1b[31m").plain
'[bold]x'
"""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text
from spanscope.collectors.model import Status, TraceSummary
from spanscope.render.safe_text import clean
from spanscope.render.units import format_duration

STATUS_STYLE = {
    Status.OK: "green",
    Status.ERROR: "yellow",
    Status.THROTTLE: "magenta",
    Status.FAULT: "bold red",
}
MAX_CELL = 80


def safe(text: object, style: str = "", *, max_length: int | None = MAX_CELL) -> Text:
    """``text`` cleaned and wrapped in a Text (literal; never markup)."""
    return Text(clean(text, max_length=max_length), style=style, no_wrap=True, overflow="ellipsis")


def duration(ns: int, style: str = "") -> Text:
    return Text(format_duration(max(0, ns)), style=style, justify="right")


def clock(ns: int) -> Text:
    """A start time as UTC date and time with milliseconds."""
    if ns <= 0:
        return Text("-")
    stamp = datetime.fromtimestamp(ns / 1e9, tz=UTC)
    return Text(stamp.strftime("%Y-%m-%d %H:%M:%S.") + f"{stamp.microsecond // 1000:03d}")


def summary_status(summary: TraceSummary) -> Text:
    """FAULT / THROTTLE / ERROR / OK (the worst), with "…" when in progress."""
    if summary.fault:
        status = Status.FAULT
    elif summary.throttle:
        status = Status.THROTTLE
    elif summary.error:
        status = Status.ERROR
    else:
        status = Status.OK
    label = status.value.upper() + (" …" if summary.in_progress else "")
    return Text(label, style=STATUS_STYLE[status])


def status_text(status: Status) -> Text:
    return Text(status.value.upper(), style=STATUS_STYLE[status])


def percent(rate: float, *, warn: float = 0.01, bad: float = 0.05) -> Text:
    style = "bold red" if rate >= bad else "yellow" if rate >= warn else ""
    return Text(f"{rate * 100:.1f}%", style=style, justify="right")


def seconds(value: float | None) -> Text:
    if value is None:
        return Text("-", justify="right")
    return duration(round(value * 1e9))


def number(value: float, fmt: str = "{:,.0f}", style: str = "") -> Text:
    return Text(fmt.format(value), style=style, justify="right")


def health_style(error_rate: float, fault_rate: float) -> str:
    """The colour of a service map node or edge: red on faults, yellow on errors, green otherwise."""
    if fault_rate >= 0.05:
        return "bold red"
    if fault_rate > 0 or error_rate >= 0.05:
        return "dark_orange"
    if error_rate > 0:
        return "yellow"
    return "green"
