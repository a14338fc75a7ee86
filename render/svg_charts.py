"""Draws the report's charts as inline SVG: ranked bars, paired before/after bars, response-time histograms,
failure-chain paths.

Hand-written SVG rather than a chart library: the charts are bars and boxes on fixed scales, a few
dozen lines each, and an SVG chart library (pygal, matplotlib's SVG backend) would add a dependency
of megabytes, fonts or scripts to a file that must make no request and stay inert. Each chart is one
``<svg>`` element; every bar carries its exact value in ``data-value`` and a ``<title>`` tooltip;
span-derived labels pass through ``svg_markup.text``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from spanscope.collectors.service_map.stats import HISTOGRAM_BOUNDS_S
from spanscope.render.svg_markup import attrs, num, text
from spanscope.render.units import format_seconds

Format = Callable[[float], str]

FONT = "font:12px system-ui,sans-serif;fill:#1d232b"
_STYLE = (
    f".t{{{FONT}}}.s{{font:10.5px system-ui,sans-serif;fill:#5b6675}}.v{{font:11px system-ui,sans-serif;fill:#1d232b}}"
)


@dataclass(frozen=True, slots=True)
class Bar:
    """One ranked bar: a label, a value, a tooltip and data attributes (numbers for tests and tools)."""

    label: str
    value: float
    title: str = ""
    data: Mapping[str, object] = field(default_factory=dict)
    state: str = "ok"  # colour key: ok, slow, fault, error


@dataclass(frozen=True, slots=True)
class Pair:
    """Two values of one row: before / after (baseline and incident, median and straggler, warm and cold)."""

    label: str
    before: float
    after: float
    title: str = ""
    data: Mapping[str, object] = field(default_factory=dict)


BAR_COLOURS = {"ok": "#4a78c2", "slow": "#e07b39", "fault": "#d32f2f", "error": "#ef8f00", "before": "#a9b4c2"}


def _svg_open(width: float, height: float, css_class: str, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg"{attrs({"class": css_class})} width="{num(width)}" '
        f'height="{num(height)}" viewBox="0 0 {num(width)} {num(height)}" role="img"{attrs({"aria-label": label})}>'
        f"<style>{_STYLE}</style>"
    )


def seconds(value: float) -> str:
    return format_seconds(value)


def ranked_bars(
    bars: Sequence[Bar], *, fmt: Format = seconds, css_class: str = "chart bars", label: str = "chart", width: int = 760
) -> str:
    """Horizontal bars, one row each, longest scale = the largest value."""
    label_w, value_w, row_h = 300, 80, 22
    bar_w = width - label_w - value_w - 10
    height = 8 + row_h * max(1, len(bars))
    top = max((b.value for b in bars), default=0.0) or 1.0
    out = [_svg_open(width, height, css_class, label)]
    for i, bar in enumerate(bars):
        y = 4 + i * row_h
        w = max(1.0, bar_w * max(0.0, bar.value) / top)
        data = {"class": "bar", "data-label": bar.label, "data-value": bar.value, **bar.data}
        out.append(
            f"<g{attrs(data)}><title>{text(bar.title or f'{bar.label}: {fmt(bar.value)}')}</title>"
            f'<text x="{label_w - 8}" y="{num(y + 15)}" text-anchor="end" class="t">{text(bar.label, max_length=44)}'
            f"</text>"
            f'<rect x="{label_w}" y="{num(y + 3)}" width="{num(w)}" height="{row_h - 7}" rx="2" '
            f'fill="{BAR_COLOURS.get(bar.state, BAR_COLOURS["ok"])}"/>'
            f'<text x="{num(label_w + w + 6)}" y="{num(y + 15)}" class="v">{text(fmt(bar.value))}</text></g>'
        )
    out.append("</svg>")
    return "".join(out)


def paired_bars(
    pairs: Sequence[Pair],
    *,
    legend: tuple[str, str] = ("before", "after"),
    fmt: Format = seconds,
    css_class: str = "chart pairs",
    label: str = "chart",
    width: int = 760,
    after_state: str = "slow",
) -> str:
    """Two thin bars per row (before grey, after coloured) on one scale, with a legend on top."""
    label_w, value_w, row_h = 300, 80, 30
    bar_w = width - label_w - value_w - 10
    height = 24 + row_h * max(1, len(pairs))
    top = max((max(p.before, p.after) for p in pairs), default=0.0) or 1.0
    out = [_svg_open(width, height, css_class, label)]
    out.append(
        f'<rect x="{label_w}" y="4" width="12" height="10" fill="{BAR_COLOURS["before"]}"/>'
        f'<text x="{label_w + 16}" y="13" class="s">{text(legend[0])}</text>'
        f'<rect x="{label_w + 130}" y="4" width="12" height="10" fill="{BAR_COLOURS[after_state]}"/>'
        f'<text x="{label_w + 146}" y="13" class="s">{text(legend[1])}</text>'
    )
    for i, pair in enumerate(pairs):
        y = 22 + i * row_h
        wb = max(1.0, bar_w * max(0.0, pair.before) / top)
        wa = max(1.0, bar_w * max(0.0, pair.after) / top)
        data = {"class": "pair", "data-label": pair.label, "data-before": pair.before, "data-after": pair.after}
        title = pair.title or f"{pair.label}: {legend[0]} {fmt(pair.before)}, {legend[1]} {fmt(pair.after)}"
        out.append(
            f"<g{attrs({**data, **pair.data})}><title>{text(title)}</title>"
            f'<text x="{label_w - 8}" y="{num(y + 17)}" text-anchor="end" class="t">{text(pair.label, max_length=44)}'
            f"</text>"
            f'<rect class="before" x="{label_w}" y="{num(y + 2)}" width="{num(wb)}" height="10" '
            f'fill="{BAR_COLOURS["before"]}"/>'
            f'<text x="{num(label_w + wb + 5)}" y="{num(y + 11)}" class="s">{text(fmt(pair.before))}</text>'
            f'<rect class="after" x="{label_w}" y="{num(y + 14)}" width="{num(wa)}" height="10" '
            f'fill="{BAR_COLOURS[after_state]}"/>'
            f'<text x="{num(label_w + wa + 5)}" y="{num(y + 23)}" class="v">{text(fmt(pair.after))}</text></g>'
        )
    out.append("</svg>")
    return "".join(out)


def _bucket_position(value: float, first: int) -> float:
    """Where ``value`` (seconds) falls on the bucket axis (bucket i spans [i, i+1)), log-interpolated."""
    bounds = HISTOGRAM_BOUNDS_S
    for i, upper in enumerate(bounds):
        if value <= upper:
            lower = bounds[i - 1] if i else upper / 2.5
            share = (math.log(value) - math.log(lower)) / (math.log(upper) - math.log(lower)) if value > 0 else 0.0
            return i - first + min(1.0, max(0.0, share))
    return len(bounds) - first


def histogram(
    buckets: Sequence[tuple[float, int]],
    percentiles: Mapping[str, float | None],
    *,
    label: str = "response-time histogram",
    width: int = 300,
    height: int = 112,
) -> str:
    """X-Ray's ResponseTimeHistogram (``[(upper bound s, count)]``) as columns, with p50/p95/p99 marks."""
    bounds = HISTOGRAM_BOUNDS_S
    counts = dict(buckets)
    index = {b: i for i, b in enumerate(bounds)}
    used = [index[b] for b in counts if b in index]
    out = [_svg_open(width, height, "chart histogram", label)]
    if not used:
        out.append('<text x="8" y="20" class="s">no requests</text></svg>')
        return "".join(out)
    first, last = max(0, min(used) - 1), min(len(bounds) - 1, max(used) + 1)
    n = last - first + 1
    left, bottom, plot_h = 6, height - 30, height - 48
    col_w = (width - 2 * left) / n
    most = max(counts.values())
    for i in range(first, last + 1):
        count = counts.get(bounds[i], 0)
        h = plot_h * count / most if most else 0
        x = left + (i - first) * col_w
        lower = format_seconds(bounds[i - 1]) if i else "0"
        title = f"{lower} – {format_seconds(bounds[i])}: {count}"
        out.append(
            f'<g class="bucket"{attrs({"data-le": bounds[i], "data-count": count})}><title>{text(title)}</title>'
            f'<rect x="{num(x + 1)}" y="{num(bottom - h)}" width="{num(max(1.0, col_w - 2))}" height="{num(h)}" '
            f'fill="#4a78c2"/></g>'
        )
    out.append(f'<line x1="{left}" y1="{bottom}" x2="{width - left}" y2="{bottom}" stroke="#9aa3ad"/>')
    for i in (first, (first + last) // 2, last):
        x = left + (i - first + 1) * col_w
        out.append(
            f'<text x="{num(min(width - 4, x))}" y="{bottom + 12}" text-anchor="end" class="s">'
            f"{text(format_seconds(bounds[i]))}</text>"
        )
    for k, (name, colour) in enumerate((("p50", "#3c9a3c"), ("p95", "#e07b39"), ("p99", "#d32f2f"))):
        value = percentiles.get(name)
        if value is None:
            continue
        x = left + _bucket_position(value, first) * col_w
        out.append(
            f'<g class="percentile"{attrs({"data-name": name, "data-value": value})}>'
            f"<title>{name} {text(format_seconds(value))}</title>"
            f'<line x1="{num(x)}" y1="{bottom - plot_h - 4}" x2="{num(x)}" y2="{bottom}" stroke="{colour}" '
            f'stroke-width="1.5" stroke-dasharray="3 2"/>'
            f'<text x="{num(left + k * 96)}" y="{height - 4}" class="s" fill="{colour}">'
            f"{name} {text(format_seconds(value))}</text></g>"
        )
    out.append("</svg>")
    return "".join(out)


def chain_path(
    hops: Sequence[tuple[str, str]],
    *,
    stopped_by: tuple[str, str] | None,
    count: int,
    uid: str = "c",
    label: str = "failure chain",
) -> str:
    """A failure chain drawn from its origin (red) through the spans it propagated to (orange) to the entry,
    and the span that stopped it (grey), as boxes and arrows, four to a row."""
    boxes: list[tuple[str, str, str]] = [(s, o, "origin" if i == 0 else "propagated") for i, (s, o) in enumerate(hops)]
    if stopped_by is not None:
        boxes.append((stopped_by[0], stopped_by[1], "stopped"))
    per_row, box_w, box_h, gap = 4, 168, 40, 26
    rows = max(1, math.ceil(len(boxes) / per_row))
    width = per_row * box_w + (per_row - 1) * gap + 8
    height = rows * (box_h + 18) + 4
    colours = {
        "origin": ("#f9d3d0", "#d32f2f"),
        "propagated": ("#fde7c4", "#ef8f00"),
        "stopped": ("#eef0f3", "#5b6675"),
    }
    out = [_svg_open(width, height, "chart chain", label)]
    out.append(
        f'<defs><marker id="arrow-{uid}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#5b6675"/></marker></defs>'
    )
    for i, (service, operation, role) in enumerate(boxes):
        row, col = divmod(i, per_row)
        x, y = 4 + col * (box_w + gap), 4 + row * (box_h + 18)
        fill, stroke = colours[role]
        data = {"class": f"hop {role}", "data-service": service, "data-operation": operation, "data-role": role}
        out.append(
            f"<g{attrs(data)}><title>{text(f'{role}: {service} {operation}')}</title>"
            f'<rect x="{num(x)}" y="{num(y)}" width="{box_w}" height="{box_h}" rx="6" fill="{fill}" stroke="{stroke}"/>'
            f'<text x="{num(x + 8)}" y="{num(y + 16)}" class="t">{text(service, max_length=22)}</text>'
            f'<text x="{num(x + 8)}" y="{num(y + 31)}" class="s">{text(operation, max_length=26)}</text></g>'
        )
        if i + 1 < len(boxes):
            if col + 1 < per_row:
                out.append(
                    f'<path d="M{num(x + box_w)},{num(y + box_h / 2)} h{gap - 2}" stroke="#5b6675" '
                    f'stroke-width="1.5" marker-end="url(#arrow-{uid})"/>'
                )
            else:
                out.append(
                    f'<path d="M{num(x + box_w / 2)},{num(y + box_h)} V{num(y + box_h + 9)} H{num(4 + box_w / 2)} '
                    f'V{num(y + box_h + 16)}" fill="none" stroke="#5b6675" stroke-width="1.5" '
                    f'marker-end="url(#arrow-{uid})"/>'
                )
    out.append(f"<title>{text(f'{count} failures along this path')}</title></svg>")
    return "".join(out)
