"""Plain-text waterfall of one trace for `spanscope show`: indentation, proportional bars, status and roles.

Critical-path spans are marked ``*`` and their critical stretches drawn ``█`` (other time ``─``);
failures show their status and role (origin ``✗``, propagated ``↑``, stopped ``■``).
"""

from __future__ import annotations

import shutil
from array import array
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
    labels = _Labels()
    columns = _measure(trace, summary.start_ns, labels)
    width = max(10, columns.fit() if width is None else width)
    yield (
        clean(
            f"trace {summary.xray_id}  {format_duration(summary.duration_ns)}  {summary.span_count} spans  "
            f"{len(summary.services)} services  entry: {summary.root_service} {summary.root_name}"
        )
        + "\n"
    )
    yield (
        f"  {'SPAN'.ljust(columns.label)}  {'START'.rjust(columns.offset)}  {'DURATION'.rjust(columns.duration)}  "
        f"{'STATUS'.ljust(columns.status)}  {'TIMELINE'.ljust(width + 2)}  ROLE\n"
    )
    bars = _Bars(summary.start_ns, max(1, summary.duration_ns), width)  # the trace's start and end, read once
    yield from _rows(trace, columns, labels, bars, path, roles)
    notes = []
    if trace.missing_parent:
        notes.append(f"{len(trace.missing_parent)} span(s) with a missing parent shown as roots")
    if trace.cycle_breaks:
        notes.append(f"{len(trace.cycle_breaks)} parent cycle(s) broken")
    if trace.duplicates:
        notes.append(f"{len(trace.duplicates)} duplicated span record(s) hidden")
    yield "* on the critical path (█ critical time)" + ("; " + "; ".join(notes) if notes else "") + "\n"


class _Labels:
    """``service: name`` indented by depth, made safe, one per (depth, service, name): big traces repeat them.

    Past depth 20 the indentation stops and the depth is written ``[depth]``. At most ``_LABEL_CACHE`` held.
    """

    def __init__(self) -> None:
        self.cache: dict[tuple[int, str, str], str] = {}

    def of(self, span: Span, depth: int) -> str:
        key = (depth if depth <= 20 else -depth, span.service, span.name)
        label = self.cache.get(key)
        if label is None:
            if depth > 20:
                label = clean(f"{'  ' * 20}[{depth}] {span.service}: {span.name}", max_length=MAX_LABEL)
            else:
                label = clean(f"{'  ' * depth}{span.service}: {span.name}", max_length=MAX_LABEL)
            if len(self.cache) >= _LABEL_CACHE:
                self.cache.clear()
            self.cache[key] = label
        return label


class _Columns:
    """The measured widths of the columns, and the spans in pre-order (flat int arrays: walked once)."""

    def __init__(self) -> None:
        self.label, self.status, self.offset, self.duration = len("SPAN"), len("STATUS"), 0, 0
        self.order: array[int] = array("i")
        self.depths: array[int] = array("i")

    def fit(self) -> int:
        """The timeline's width: what the terminal leaves beside the other columns, at most 60."""
        terminal = shutil.get_terminal_size((120, 24)).columns
        return min(60, terminal - (self.label + self.offset + self.duration + self.status + 30))


def _measure(trace: Trace, start: int, labels: _Labels) -> _Columns:
    """The first pass: column widths without formatting every row (a label per (depth, service, name), and
    for times the longest of each unit's largest value, see ``_duration_width``)."""
    columns = _Columns()
    longest_offset = [-1, -1, -1, -1]
    longest_duration = [-1, -1, -1, -1]
    spans, seen = trace.spans, labels.cache
    add_node, add_depth = columns.order.append, columns.depths.append
    label_w, status_w, ok = columns.label, columns.status, Status.OK
    for node, depth in trace.preorder():
        add_node(node)
        add_depth(depth)
        span = spans[node]
        if (depth if depth <= 20 else -depth, span.service, span.name) not in seen:  # else measured already
            label_w = max(label_w, len(labels.of(span, depth)))
        begin, end = span.start_ns, span.end_ns
        _note_duration(longest_offset, begin - start if begin > start else 0)
        _note_duration(longest_duration, end - begin if end > begin else 0)
        if span.in_progress or span.status is not ok:
            status = _STATUS_MARK[span.status] + (" …" if span.in_progress else "")
            status_w = max(status_w, len(status.strip()))
    columns.label, columns.status = label_w, status_w
    columns.offset = max(len("START"), 1 + _duration_width(longest_offset))
    columns.duration = max(len("DURATION"), _duration_width(longest_duration))
    return columns


class _Bars:
    """The timeline cell of a span: ``─`` for its time, ``█`` for its critical stretches, between ``|``s."""

    def __init__(self, start: int, total: int, width: int) -> None:
        self.start, self.total, self.width = start, total, width
        self.plain_cache: dict[int, str] = {}  # at most width² strings: a plain bar is only its two ends

    def plain(self, a: int, b: int) -> str:
        """Cells ``a`` to ``b`` (``0 <= a < b <= width``) drawn ``─``."""
        key = a * (self.width + 1) + b
        text = self.plain_cache.get(key)
        if text is None:
            text = self.plain_cache[key] = "|" + " " * a + "─" * (b - a) + " " * (self.width - b) + "|"
        return text

    def draw(self, begin: int, end: int, critical: list[tuple[int, int]] | None) -> str:
        """Any bar: off the timeline's ends, or with critical stretches."""
        start, total, width = self.start, self.total, self.width
        a = int((begin - start) / total * width)
        b = max(a + 1, int((end - start) / total * width + 0.999))
        if critical is None and 0 <= a < width:  # the common case, as strings (the cells below give the same)
            return self.plain(a, min(width, b))
        cells = [" "] * width
        for i in range(max(0, a), min(width, b)):
            cells[i] = "─"
        for cs, ce in critical or ():
            ca = int((cs - start) / total * width)
            cb = max(ca + 1, int((ce - start) / total * width + 0.999))
            for i in range(max(0, ca), min(width, cb)):
                cells[i] = "█"
        return "|" + "".join(cells) + "|"


def _rows(
    trace: Trace,
    columns: _Columns,
    labels: _Labels,
    bars: _Bars,
    path: Sequence[PathSegment],
    roles: Mapping[str, Any],
) -> Iterator[str]:
    """The second pass: one line per span in pre-order, from cached pieces (padded labels, status cells,
    plain bars); the timeline's common case is computed inline (this loop runs once per span)."""
    on_path: dict[str, list[tuple[int, int]]] = {}
    for seg in path:
        on_path.setdefault(seg.span_id, []).append((seg.start_ns, seg.end_ns))
    status_cells = {
        (st, busy): (_STATUS_MARK[st] + (" …" if busy else "")).strip().ljust(columns.status)
        for st in _STATUS_MARK
        for busy in (False, True)
    }
    role_texts = {role: _ROLE_MARK.get(str(getattr(role, "value", role)), "") for role in set(roles.values())}
    ok, ok_cell = Status.OK, status_cells[Status.OK, False]  # a local: an Enum hashes in Python
    padded: dict[tuple[int, str, str], str] = {}
    label_w, offset_w, dur_w = columns.label, columns.offset, columns.duration
    start, total, width, spans, fmt = bars.start, bars.total, bars.width, trace.spans, format_duration
    plain, plain_cache, stride = bars.plain, bars.plain_cache, bars.width + 1
    for node, depth in zip(columns.order, columns.depths, strict=True):
        span = spans[node]
        key = (depth if depth <= 20 else -depth, span.service, span.name)
        label = padded.get(key)
        if label is None:
            if len(padded) >= _LABEL_CACHE:
                padded.clear()
            label = padded[key] = labels.of(span, depth).ljust(label_w)
        begin, end = span.start_ns, span.end_ns
        critical = on_path.get(span.span_id)  # never an empty list
        a = int((begin - start) / total * width)
        if critical is None and 0 <= a < width:
            b = int((end - start) / total * width + 0.999)
            b = a + 1 if b <= a else width if b > width else b
            bar = plain_cache.get(a * stride + b) or plain(a, b)
        else:
            bar = bars.draw(begin, end, critical)
        offset = ("+" + fmt(begin - start if begin > start else 0)).rjust(offset_w)
        duration = fmt(end - begin if end > begin else 0).rjust(dur_w)
        status = status_cells[span.status, span.in_progress] if span.in_progress or span.status is not ok else ok_cell
        line = f"{'*' if critical else ' '} {label}  {offset}  {duration}  {status}  {bar}"
        role = roles.get(span.span_id) if roles else None
        role_text = role_texts[role] if role is not None else ""
        yield f"{line}  {role_text}\n" if role_text else line + "\n"


def _note_duration(longest: list[int], ns: int) -> None:
    """Keep in ``longest`` the largest ``ns`` seen for each unit of ``format_duration``."""
    unit = 0 if ns < 1_000_000 else 1 if ns < 1_000_000_000 else 2 if ns < 60_000_000_000 else 3
    if ns > longest[unit]:
        longest[unit] = ns


def _duration_width(longest: list[int]) -> int:
    """The longest ``format_duration`` text of the values noted: within one unit a larger value is never
    shorter (the number is rounded to fixed decimals), so each unit's largest value is its longest."""
    return max((len(format_duration(ns)) for ns in longest if ns >= 0), default=0)
