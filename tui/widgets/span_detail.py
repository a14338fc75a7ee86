"""The span detail panel: ids, timing, status, attributes, annotations, exceptions, events and links of one span."""

from __future__ import annotations

import json

from rich.text import Text
from spanscope.analysis.failures import FailureRole
from spanscope.collectors.model import Span
from spanscope.render.cells import STATUS_STYLE
from spanscope.render.safe_text import clean
from spanscope.render.units import format_duration, format_time
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

MAX_VALUE = 2_000
MAX_ITEMS = 500


def _value(value: object) -> str:
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    return clean(text, max_length=MAX_VALUE)


def describe(span: Span, *, role: FailureRole | None, on_critical_path: bool, trace_start_ns: int) -> Text:
    """A span as literal rich Text (every value cleaned; nothing parsed as markup)."""
    out = Text()

    def heading(title: str) -> None:
        out.append(f"\n{title}\n", style="bold underline")

    def field(key: str, value: str, style: str = "") -> None:
        out.append(f"{key}: ", style="bold")
        out.append(value, style=style)
        out.append("\n")

    out.append(clean(span.name, max_length=MAX_VALUE) + "\n", style="bold")
    field("service", clean(span.service))
    field("kind", span.kind.value)
    field(
        "status", span.status.value.upper() + (" (in progress)" if span.in_progress else ""), STATUS_STYLE[span.status]
    )
    if span.status_message:
        field("message", clean(span.status_message, max_length=MAX_VALUE))
    if role is not None:
        field("failure role", role.value, "bold red" if role is FailureRole.ORIGIN else "yellow")
    field("critical path", "yes" if on_critical_path else "no")
    field("start", f"{format_time(span.start_ns)} (+{format_duration(max(0, span.start_ns - trace_start_ns))})")
    field("duration", format_duration(span.duration_ns))
    field("span id", span.span_id)
    field("parent id", span.parent_id or "-")
    if span.origin:
        field("origin", clean(span.origin))
    if span.remote_service:
        field("remote", clean(f"{span.namespace}:{span.remote_service}"))
    sections = (
        ("Annotations", span.annotations),
        ("Attributes", span.attributes),
        ("Resource", span.resource),
    )
    for title, mapping in sections:
        if not mapping:
            continue
        heading(f"{title} ({len(mapping)})")
        for i, key in enumerate(sorted(mapping, key=str)):
            if i >= MAX_ITEMS:
                out.append(f"… {len(mapping) - MAX_ITEMS} more\n", style="dim")
                break
            field(clean(key, max_length=200), _value(mapping[key]))
    if span.exceptions:
        heading(f"Exceptions ({len(span.exceptions)})")
        for exc in span.exceptions[:MAX_ITEMS]:
            out.append(clean(exc.type or "exception", max_length=200), style="bold red")
            out.append(": " + clean(exc.message, max_length=MAX_VALUE) + ("  (remote)" if exc.remote else "") + "\n")
            if exc.stacktrace:
                for line in exc.stacktrace.splitlines()[:40]:
                    out.append("  " + clean(line, max_length=300) + "\n", style="dim")
    if span.events:
        heading(f"Events ({len(span.events)})")
        for event in span.events[:MAX_ITEMS]:
            out.append(f"+{format_duration(max(0, event.time_ns - span.start_ns))} ", style="dim")
            out.append(clean(event.name, max_length=200) + "\n")
            for key, value in list(event.attributes.items())[:50]:
                out.append(f"    {clean(key, max_length=200)}: {_value(value)}\n", style="dim")
    if span.links:
        heading(f"Links ({len(span.links)})")
        for link in span.links[:MAX_ITEMS]:
            out.append(f"{clean(link.trace_id)} / {clean(link.span_id)}\n")
            for key, value in list(link.attributes.items())[:50]:
                out.append(f"    {clean(key, max_length=200)}: {_value(value)}\n", style="dim")
    return out


class SpanDetail(VerticalScroll):
    """Scrollable panel describing the highlighted span."""

    def compose(self) -> ComposeResult:
        yield Static(Text("select a span", style="dim"), id="span-detail-body")

    def show(self, text: Text) -> None:
        self.query_one("#span-detail-body", Static).update(text)
        self.scroll_home(animate=False)
