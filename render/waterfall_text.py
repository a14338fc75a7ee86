"""Plain-text waterfall of one trace for `spanscope show`: indentation, proportional bars, status and roles.

Critical-path spans are marked ``*`` and their critical stretches drawn ``█`` (other time ``─``);
failures show their status and role (origin ``✗``, propagated ``↑``, stopped ``■``).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from spanscope.collectors.model import Span, Status, Trace
from spanscope.render.safe_text import clean
from spanscope.render.trace_json import PathSegment
from spanscope.render.units import format_duration

_ROLE_MARK = {"origin": "✗ origin", "propagated": "↑ propagated", "stopped": "■ stopped"}
_STATUS_MARK = {Status.OK: "", Status.ERROR: "ERROR", Status.FAULT: "FAULT", Status.THROTTLE: "THROTTLE"}
MAX_LABEL = 56
_LABEL_CACHE = 65_536


def render_waterfall(
    trace: Trace,
    path: Sequence[PathSegment],
    roles: Mapping[str, Any],
    *,
    width: int | None = None,
) -> str:
    """The whole waterfall as text, ending with a newline."""
    return "".join(iter_waterfall(trace, path, roles, width=width))


def iter_waterfall(
    trace: Trace,
    path: Sequence[PathSegment],
    roles: Mapping[str, Any],
    *,
    width: int | None = None,
) -> Iterator[str]:
    """The waterfall line by line (each ending with a newline), as ``render_waterfall`` writes it.

    Two passes over the spans: the first measures the columns, the second makes each line as it is
    written, so a million-span trace never holds a million rows (issue 15).
    """
    summary = trace.summary()
    start = trace.start_ns
    total = max(1, trace.end_ns - start)
    on_path: dict[str, list[tuple[int, int]]] = {}
    for seg in path:
        on_path.setdefault(seg.span_id, []).append((seg.start_ns, seg.end_ns))

    labels: dict[tuple[int, str, str], str] = {}  # big traces repeat (depth, service, name) a lot

    def label_of(span: Span, depth: int) -> str:
        key = (depth if depth <= 20 else -depth, span.service, span.name)
        label = labels.get(key)
        if label is None:
            if depth > 20:
                label = clean(f"{'  ' * 20}[{depth}] {span.service}: {span.name}", max_length=MAX_LABEL)
            else:
                label = clean(f"{'  ' * depth}{span.service}: {span.name}", max_length=MAX_LABEL)
            if len(labels) >= _LABEL_CACHE:
                labels.clear()
            labels[key] = label
        return label

    # the first pass measures the columns without formatting every row: a label per (depth, service,
    # name), and for times the longest of each unit's largest value (see _duration_width)
    label_w, status_w = len("SPAN"), len("STATUS")
    longest_offset = [-1, -1, -1, -1]
    longest_duration = [-1, -1, -1, -1]
    spans = trace.spans
    for node, depth in trace.preorder():
        span = spans[node]
        label_w = max(label_w, len(label_of(span, depth)))
        begin, end = span.start_ns, span.end_ns
        _note_duration(longest_offset, begin - start if begin > start else 0)
        _note_duration(longest_duration, end - begin if end > begin else 0)
        if span.in_progress or span.status is not Status.OK:
            status = _STATUS_MARK[span.status] + (" …" if span.in_progress else "")
            status_w = max(status_w, len(status.strip()))
    offset_w = max(len("START"), 1 + _duration_width(longest_offset))
    dur_w = max(len("DURATION"), _duration_width(longest_duration))
    if width is None:
        columns = shutil.get_terminal_size((120, 24)).columns
        width = max(10, min(60, columns - (label_w + offset_w + dur_w + status_w + 30)))
    width = max(10, width)

    def bar(span_start: int, span_end: int, critical: list[tuple[int, int]]) -> str:
        a = int((span_start - start) / total * width)
        if not critical and 0 <= a < width:  # the common case, as strings (the cells below give the same)
            b = min(width, max(a + 1, int((span_end - start) / total * width + 0.999)))
            return "|" + " " * a + "─" * (b - a) + " " * (width - b) + "|"
        cells = [" "] * width
        a = int((span_start - start) / total * width)
        b = max(a + 1, int((span_end - start) / total * width + 0.999))
        for i in range(max(0, a), min(width, b)):
            cells[i] = "─"
        for cs, ce in critical:
            ca = int((cs - start) / total * width)
            cb = max(ca + 1, int((ce - start) / total * width + 0.999))
            for i in range(max(0, ca), min(width, cb)):
                cells[i] = "█"
        return "|" + "".join(cells) + "|"

    yield (
        clean(
            f"trace {summary.xray_id}  {format_duration(summary.duration_ns)}  {summary.span_count} spans  "
            f"{len(summary.services)} services  entry: {summary.root_service} {summary.root_name}"
        )
        + "\n"
    )
    yield (
        f"  {'SPAN'.ljust(label_w)}  {'START'.rjust(offset_w)}  {'DURATION'.rjust(dur_w)}  "
        f"{'STATUS'.ljust(status_w)}  {'TIMELINE'.ljust(width + 2)}  ROLE\n"
    )
    for node, depth in trace.preorder():
        span = spans[node]
        role = roles.get(span.span_id)
        role_text = _ROLE_MARK.get(str(getattr(role, "value", role)), "") if role is not None else ""
        status = (_STATUS_MARK[span.status] + (" …" if span.in_progress else "")).strip()
        begin, end = span.start_ns, span.end_ns
        critical = on_path.get(span.span_id)  # never an empty list
        offset = "+" + format_duration(begin - start if begin > start else 0)
        duration = format_duration(end - begin if end > begin else 0)
        line = (
            f"{' ' if critical is None else '*'} {label_of(span, depth).ljust(label_w)}  {offset.rjust(offset_w)}  "
            f"{duration.rjust(dur_w)}  {status.ljust(status_w)}  {bar(begin, end, critical or [])}  {role_text}"
        )
        yield line.rstrip() + "\n"
    notes = []
    if trace.missing_parent:
        notes.append(f"{len(trace.missing_parent)} span(s) with a missing parent shown as roots")
    if trace.cycle_breaks:
        notes.append(f"{len(trace.cycle_breaks)} parent cycle(s) broken")
    if trace.duplicates:
        notes.append(f"{len(trace.duplicates)} duplicated span record(s) hidden")
    yield "* on the critical path (█ critical time)" + ("; " + "; ".join(notes) if notes else "") + "\n"


def _note_duration(longest: list[int], ns: int) -> None:
    """Keep in ``longest`` the largest ``ns`` seen for each unit of ``format_duration``."""
    unit = 0 if ns < 1_000_000 else 1 if ns < 1_000_000_000 else 2 if ns < 60_000_000_000 else 3
    if ns > longest[unit]:
        longest[unit] = ns


def _duration_width(longest: list[int]) -> int:
    """The longest ``format_duration`` text of the values noted: within one unit a larger value is never
    shorter (the number is rounded to fixed decimals), so each unit's largest value is its longest."""
    return max((len(format_duration(ns)) for ns in longest if ns >= 0), default=0)
