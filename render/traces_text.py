"""Plain-text table of trace summaries for `spanscope traces`."""

from __future__ import annotations

from collections.abc import Sequence

from spanscope.collectors.model import TraceSummary
from spanscope.render.safe_text import clean
from spanscope.render.units import format_duration, format_time


def status_mark(summary: TraceSummary) -> str:
    """FAULT / THROTTLE / ERROR / ok / … (in progress), the worst first."""
    if summary.fault:
        return "FAULT"
    if summary.throttle:
        return "THROTTLE"
    if summary.error:
        return "ERROR"
    return "…" if summary.in_progress else "ok"


def render_traces_table(summaries: Sequence[TraceSummary], *, total: int | None = None) -> str:
    """A fixed-width table, newest first, with a closing count line."""
    if not summaries:
        return "no traces match\n"
    rows = [
        (
            format_time(s.start_ns),
            s.xray_id,
            format_duration(s.duration_ns),
            status_mark(s),
            str(s.span_count),
            clean(f"{s.root_service} {s.root_name}".strip(), max_length=48),
            clean(", ".join(s.services), max_length=60),
        )
        for s in summaries
    ]
    header = ("START (UTC)", "TRACE ID", "DURATION", "STATUS", "SPANS", "ENTRY POINT", "SERVICES")
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(len(header))]
    right = {2, 4}

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(parts).rstrip()

    out = [line(header)] + [line(r) for r in rows]
    shown = f"{len(summaries)} trace{'s' if len(summaries) != 1 else ''}"
    if total is not None and total > len(summaries):
        shown += f" shown of {total} in the store"
    out.append(shown)
    return "\n".join(out) + "\n"
