"""Renders a post-mortem Report as Markdown that reads well as plain text in a terminal.

Text that comes from spans (service and operation names, attribute values) is cleaned of terminal
controls and has Markdown's special characters escaped, so it can neither restyle the terminal nor
inject links, HTML or table cells.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from spanscope.analysis.placement import PlacementSplit
from spanscope.analysis.report import Report
from spanscope.render.safe_text import clean

TOP = 10
# What can start emphasis, code, links, images, HTML or a table cell; "_" only where it can open or close
# emphasis (names like app_db stay as they are).
_SPECIAL = re.compile(r"([\\`*\[\]<>|~]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z]))")


def md(text: object, *, max_length: int = 80) -> str:
    """Untrusted text made inert for a Markdown table cell.

    >>> print(md("a|b *x* <script> app_db _em_"))
    a\\|b \\*x\\* \\<script\\> app_db \\_em\\_
    """
    return _SPECIAL.sub(r"\\\1", clean(text, max_length=max_length))


def _s(ns: float) -> str:
    if ns < 1_000_000:
        return f"{ns / 1000:.0f} µs"
    if ns < 1_000_000_000:
        return f"{ns / 1e6:.1f} ms"
    return f"{ns / 1e9:.2f} s"


def _op(service: str, operation: str) -> str:
    return f"{md(service) or '(no service)'} · {md(operation)}"


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _when(ns: int) -> str:
    if not ns:
        return "-"
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out.extend("| " + " | ".join(r) + " |" for r in rows)
    return out


def render_report_markdown(report: Report, *, top: int = TOP) -> str:
    """The report as Markdown: summary, hotspots, failure chains, stragglers, cold starts, service map."""
    lines = ["# spanscope post-mortem report", ""]
    lines.append(
        f"{_n(report.traces, 'trace')}, {_n(report.spans, 'span')}, {report.failed_traces} with failures; "
        f"{_when(report.start_ns)} to {_when(report.end_ns)}."
    )
    for note in report.notes:
        lines.append(f"\n> Note: {md(note, max_length=200)}")
    lines.append("")

    lines += ["## Latency hotspots", ""]
    if report.hotspots:
        lines += ["Ranked by time on the critical path (what the end-to-end latency waited on).", ""]
        rows = [
            [
                str(i),
                _op(h.service, h.operation),
                _s(h.critical_path_ns),
                _s(h.self_ns),
                str(h.count),
                _s(h.p50_ns),
                _s(h.p95_ns),
                _s(h.p99_ns),
            ]
            for i, h in enumerate(report.hotspots[:top], 1)
        ]
        lines += _table(["#", "service · operation", "critical path", "self", "count", "p50", "p95", "p99"], rows)
    else:
        lines.append("No spans.")
    lines.append("")

    if report.baseline is not None:
        b = report.baseline
        lines += ["## Compared with the baseline", ""]
        lines.append(
            f"{report.baseline_traces} baseline traces; {b.slow_traces} current traces are slower than the "
            f"baseline p95 ({_s(b.slow_threshold_ns)})."
        )
        lines.append("")
        if b.growth:
            lines += ["Critical-path time per trace that grew most:", ""]
            rows = [
                [
                    _op(g.service, g.operation),
                    _s(g.baseline_per_trace_ns),
                    _s(g.critical_path_per_trace_ns),
                    "+" + _s(g.growth_ns),
                ]
                for g in b.growth[:top]
            ]
            lines += _table(["service · operation", "baseline", "now", "growth"], rows)
            lines.append("")
        if b.attributes:
            lines += ["Attributes over-represented in the slow traces:", ""]
            rows = [
                [md(a.key), md(a.value), f"{a.slow_share:.0%}", f"{a.baseline_share:.0%}"] for a in b.attributes[:top]
            ]
            lines += _table(["attribute", "value", "slow traces", "baseline traces"], rows)
            lines.append("")

    lines += ["## Failure chains", ""]
    if report.failure_chains:
        lines += ["From the span where the failure began up through the spans it failed; most traces first.", ""]
        for i, c in enumerate(report.failure_chains[:top], 1):
            hops: list[str] = []
            for h in c.path:
                arrow = {"async": " ⇠(async) ", "link": " ⇠(link) "}.get(h.via, " → ")
                name = _op(h.service, h.operation) if h.service or h.operation else "(linked trace not loaded)"
                hops.append((arrow if hops else "") + name)
            caught = f"; stopped by {_op(*c.stopped_by)}" if c.stopped_by else ""
            lines.append(f"{i}. **{c.count} trace{'s' if c.count != 1 else ''}**: {''.join(hops)}{caught}")
            lines.append(f"   - e.g. {', '.join('`' + md(t) + '`' for t in c.trace_ids)}")
    else:
        lines.append("No failures.")
    lines.append("")

    lines += ["## Stragglers", ""]
    if report.stragglers:
        lines += ["Fan-out members far above their siblings' median (robust z-score over the MAD).", ""]
        rows = []
        for s in report.stragglers[:top]:
            explained = {True: "yes", False: "no", None: "unknown"}[s.explained_by_input]
            ratio = f" ({s.input_ratio:.1f}× input)" if s.input_ratio is not None else ""
            rows.append(
                [
                    _op(s.service, s.operation) + (f" [{md(s.label)}]" if s.label else ""),
                    _op(s.parent_service, s.parent_operation),
                    _s(s.value_ns) + ("" if s.measure == "duration" else " compute"),
                    _s(s.median_ns),
                    str(s.siblings),
                    _s(s.lost_ns),
                    explained + ratio,
                    f"`{md(s.trace_id)}`",
                ]
            )
        lines += _table(["task", "phase", "took", "median", "siblings", "time lost", "input explains", "trace"], rows)
    else:
        lines.append("No stragglers found.")
    lines.append("")

    if report.stalling_ranks:
        lines += ["## Stalling ranks", "", "Tightly coupled jobs: the rank the others waited for at the barrier.", ""]
        rows = [
            [
                md(r.service),
                md(r.rank),
                f"{r.steps_stalled}/{r.steps}",
                _s(r.wait_caused_ns),
                md(r.host) or "-",
                md(r.placement_group) or "-",
                "-" if r.efa is None else ("yes" if r.efa else "no"),
                f"`{md(r.trace_id)}`",
            ]
            for r in report.stalling_ranks[:top]
        ]
        lines += _table(
            ["job", "rank", "steps stalled", "barrier wait caused", "host", "placement group", "EFA", "trace"], rows
        )
        lines.append("")

    lines += ["## Cold starts", ""]
    if report.cold_starts:
        rows = [
            [
                md(c.function),
                str(c.invocations),
                f"{c.cold_rate:.1%}",
                _s(c.cold_p50_ns),
                _s(c.warm_p50_ns),
                f"{c.init_share:.0%}",
                _s(c.penalty_ns),
            ]
            for c in report.cold_starts[:top]
        ]
        lines += _table(
            ["function", "invocations", "cold-start rate", "cold p50", "warm p50", "init share", "added latency"], rows
        )
    else:
        lines.append("No Lambda invocations with a cold-start flag.")
    lines.append("")

    lines += ["## Workflows", ""]
    if report.workflows:
        lines.append("Entry operations whose work crosses asynchronous hops: end-to-end latency and its path.")
        lines.append("")
        rows = [
            [
                _op(w.service, w.operation),
                str(w.count),
                _s(w.p50_ns),
                _s(w.p95_ns),
                _s(w.p99_ns),
                f"{w.queue_wait_share:.0%}",
                f"{w.cold_start_share:.0%}",
                f"{w.compute_share:.0%}",
                f"{w.other_wait_share:.0%}",
            ]
            for w in report.workflows[:top]
        ]
        lines += _table(
            ["entry", "workflows", "p50", "p95", "p99", "queue wait", "cold start", "compute", "other waits"], rows
        )
    else:
        lines.append("No workflow crosses an asynchronous hop.")
    lines.append("")

    lines += ["## Service map", ""]
    if report.service_map is None:
        lines.append("(Optional section: no service map was built for this report.)")
    else:
        sm = report.service_map
        lines.append(f"{len(sm.nodes)} nodes, {len(sm.edges)} edges.")
        lines.append("")
        rows = [
            [
                md(n.name),
                md(n.type) or "-",
                str(n.requests),
                str(n.errors + n.throttles),
                str(n.faults),
                _s(n.total_response_time_s * 1e9 / n.requests) if n.requests else "-",
            ]
            for n in sm.nodes[:top]
        ]
        lines += _table(["node", "type", "requests", "errors", "faults", "mean response"], rows)
    lines.append("")
    if report.placement is not None and report.placement.edge_traces:
        lines += _placement_md(report.placement, top)
    return "\n".join(lines)


def _placement_md(split: PlacementSplit, top: int) -> list[str]:
    """The edge-vs-region section: only when some trace reached an edge placement."""
    total = split.total_ns or 1
    lines = ["## Edge vs region", ""]
    lines.append(
        f"Critical-path time of {_n(split.edge_traces, 'trace')} that reach the edge: "
        f"edge {_s(split.edge_ns)} ({split.edge_ns / total:.0%}), region {_s(split.region_ns)} "
        f"({split.region_ns / total:.0%}), between them {_s(split.crossing_ns)} ({split.crossing_ns / total:.0%})."
    )
    lines.append("")
    rows = [[md(w), scope, _s(ns)] for w, scope, ns in split.locations[:top]]
    lines += _table(["placement", "scope", "critical path"], rows)
    if split.crossings:
        lines.append("")
        rows = [
            [md(c.source), md(c.target), str(c.count), _s(c.p50_ns), _s(c.p95_ns), _s(c.total_ns)]
            for c in split.crossings[:top]
        ]
        lines += _table(["from", "to", "calls", "own time p50", "own time p95", "total"], rows)
    lines.append("")
    return lines
