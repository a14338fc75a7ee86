"""Draws one trace as an SVG waterfall: spans in tree order, the critical path and the failure roles marked.

The rows come from ``waterfall_rows.layout`` (the TUI's layout: pre-order, depth, critical stretches,
roles), so the report and the terminal show the same thing. A big trace is cut to ``MAX_ROWS`` rows:
every span on the critical path or with a failure role is kept, then the first rows in tree order.
"""

from __future__ import annotations

from spanscope.collectors.model import Status, Trace
from spanscope.render.svg_markup import attrs, num, text
from spanscope.render.units import format_seconds
from spanscope.render.waterfall_rows import layout

MAX_ROWS = 60
LABEL_W, BAR_W, ROW_H = 330, 560, 18
STATUS_COLOURS = {Status.OK: "#7da3d8", Status.ERROR: "#ef8f00", Status.THROTTLE: "#8e44ad", Status.FAULT: "#d32f2f"}
ROLE_MARKS = {"origin": ("✖", "#d32f2f"), "propagated": ("↑", "#ef8f00"), "stopped": ("■", "#5b6675")}
CRITICAL = "#1d232b"
_STYLE = (
    ".t{font:11.5px system-ui,sans-serif;fill:#1d232b}.s{font:10.5px system-ui,sans-serif;fill:#5b6675}"
    ".m{font:bold 11px system-ui,sans-serif}"
)


def _rows_shown(n_rows: int, keep: set[int], limit: int) -> list[int]:
    chosen = sorted(keep)[:limit]
    room = limit - len(chosen)
    extra = [row for row in range(n_rows) if row not in keep][: max(0, room)]
    return sorted(set(chosen) | set(extra))


def render_waterfall_svg(trace: Trace, *, max_rows: int = MAX_ROWS) -> str:
    """The waterfall of ``trace`` as one ``<svg>`` element."""
    rows = layout(trace)
    spans = trace.spans
    keep = {rows.row_of[node] for node in (*rows.critical, *rows.roles) if node in rows.row_of}
    shown = _rows_shown(len(rows.order), keep, max_rows)
    width = LABEL_W + BAR_W + 160
    height = 34 + ROW_H * len(shown) + (16 if len(shown) < len(rows.order) else 0)
    scale = BAR_W / rows.total_ns
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart waterfall" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img"{attrs({"aria-label": f"waterfall of trace {trace.trace_id}"})}>'
        f"<style>{_STYLE}</style>"
    ]
    for k in range(5):
        x = LABEL_W + BAR_W * k / 4
        out.append(
            f'<line x1="{num(x)}" y1="18" x2="{num(x)}" y2="{height}" stroke="#e3e7ec"/>'
            f'<text x="{num(x)}" y="12" text-anchor="middle" class="s">'
            f"{text(format_seconds(rows.total_ns * k / 4 / 1e9))}</text>"
        )
    for i, row in enumerate(shown):
        node = rows.order[row]
        span = spans[node]
        y = 22 + i * ROW_H
        indent = min(rows.depth[row], 16) * 10
        role = rows.roles.get(node)
        role_text = role.value if role is not None else None
        stretches = rows.critical.get(node, [])
        x0 = LABEL_W + (span.start_ns - rows.start_ns) * scale
        w = max(1.5, (span.end_ns - span.start_ns) * scale)
        data = {
            "class": "span" + (" critical" if stretches else "") + (f" role-{role_text}" if role_text else ""),
            "data-span-id": span.span_id,
            "data-status": span.status.value,
            "data-role": role_text,
            "data-critical": bool(stretches),
            "data-start-s": span.start_ns / 1e9,
            "data-end-s": span.end_ns / 1e9,
        }
        duration = format_seconds((span.end_ns - span.start_ns) / 1e9)
        title = f"{rows.labels[node]} · {duration} · {span.status.value}" + (f" · {role_text}" if role_text else "")
        out.append(f"<g{attrs(data)}><title>{text(title)}</title>")
        out.append(
            f'<text x="{4 + indent}" y="{num(y + 12)}" class="t">{text(rows.labels[node], max_length=44 - indent // 8)}'
            f"</text>"
        )
        out.append(
            f'<rect x="{num(x0)}" y="{num(y + 2)}" width="{num(w)}" height="{ROW_H - 6}" rx="2" '
            f'fill="{STATUS_COLOURS.get(span.status, "#7da3d8")}"/>'
        )
        for start, end in stretches:
            cx = LABEL_W + (start - rows.start_ns) * scale
            cw = max(1.0, (end - start) * scale)
            out.append(
                f'<rect class="cp" x="{num(cx)}" y="{num(y + ROW_H - 5)}" width="{num(cw)}" '
                f'height="3" fill="{CRITICAL}"/>'
            )
        label_x = min(x0 + w + 5, LABEL_W + BAR_W + 4)
        mark = ""
        if role_text in ROLE_MARKS:
            symbol, colour = ROLE_MARKS[role_text]
            mark = f'<tspan class="m" fill="{colour}">{symbol} {role_text}</tspan> '
        out.append(f'<text x="{num(label_x)}" y="{num(y + 12)}" class="s">{mark}{text(duration)}</text></g>')
    if len(shown) < len(rows.order):
        out.append(
            f'<text x="4" y="{height - 4}" class="s">{len(rows.order) - len(shown)} more spans not drawn '
            f"(every critical-path and failed span is)</text>"
        )
    out.append("</svg>")
    return "".join(out)
