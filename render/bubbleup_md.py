"""Renders a BubbleUp result (``spanscope analyze --select``) as a Markdown section."""

from __future__ import annotations

from spanscope.analysis.bubbleup import BubbleUp
from spanscope.render.report_md import md


def _pct(share: float) -> str:
    return f"{share * 100:.0f} %"


def render_bubbleup_markdown(result: BubbleUp, *, top: int = 10) -> str:
    """The findings table (most different first), the set-aside identifiers and any note."""
    lines = [
        "",
        f"## BubbleUp: {md(result.selection)} vs the rest",
        "",
        f"{result.selected_traces} selected traces, {result.rest_traces} others; "
        f"{result.tested} attribute values tested, significant at q < {result.alpha:g} (Benjamini-Hochberg).",
    ]
    if result.band_s is not None:
        low, high = result.band_s
        low_text = f"{low:.3f} s" if low is not None else "-inf"
        high_text = f"{high:.3f} s" if high is not None else "inf"
        lines.append(f"Latency band: ({low_text}, {high_text}].")
    lines.extend(f"Note: {note}." for note in result.notes)
    lines.append("")
    if result.findings:
        lines.append("| attribute | value | selected | rest | difference | q |")
        lines.append("|---|---|---:|---:|---:|---:|")
        for f in result.findings[:top]:
            lines.append(
                f"| {md(f.key)} | {md(f.value)} | {_pct(f.selected_share)} | {_pct(f.rest_share)} "
                f"| {f.difference * 100:+.0f} pp | {f.q_value:.2g} |"
            )
    else:
        lines.append("No attribute value differs significantly between the selection and the rest.")
    if result.set_aside:
        aside = ", ".join(f"{md(s.key)} ({s.distinct_values} values, {s.reason})" for s in result.set_aside[:20])
        lines.extend(["", f"Set aside: {aside}."])
    return "\n".join(lines) + "\n"
