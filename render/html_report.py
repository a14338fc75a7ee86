"""Renders the post-mortem as one self-contained HTML file (`spanscope analyze --format html`).

The file makes no request to any host: no script, no web font, no image file; styles are inline and
a Content-Security-Policy (``default-src 'none'``) forbids loading anything even if a browser tried.
Everything is readable without JavaScript (there is none): the drawn service map, per-node and per-edge
response-time histograms with p50/p95/p99, hotspots, failure chains, stragglers, cold starts, the
baseline comparison and the worst traces' waterfalls, each chart followed by a table of its numbers.

The numbers are those of ``spanscope analyze --format json`` for the same data: the charts are drawn
from ``report_to_json(report)`` itself, each bar carries its value in ``data-*`` attributes, and the
whole JSON document is embedded in ``<script type="application/json" id="spanscope-report">`` (a data
block, never executed) for tools to read back. Span-derived text is escaped by ``svg_markup``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import networkx as nx
from spanscope.analysis.report import Report
from spanscope.collectors.model import Trace
from spanscope.collectors.service_map.render_json import service_graph_json
from spanscope.collectors.service_map.stats import Statistics
from spanscope.render.report_json import report_to_json
from spanscope.render.svg_charts import Bar, Pair, chain_path, histogram, paired_bars, ranked_bars
from spanscope.render.svg_map import edge_stats, element_ids, health, render_map_svg
from spanscope.render.svg_markup import attrs, json_script, text
from spanscope.render.svg_waterfall import render_waterfall_svg
from spanscope.render.units import format_seconds

TOP = 15
MAX_DETAILS = 60
DATA_ID = "spanscope-report"
MAP_DATA_ID = "spanscope-map"

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d232b;margin:0;background:#f3f5f8}
main{max-width:1440px;margin:0 auto;padding:18px 24px 60px}
h1{font-size:22px;margin:6px 0 2px}
h2{font-size:18px;margin:30px 0 8px;border-bottom:1px solid #d5dbe3;padding-bottom:4px}
h3{font-size:14px;margin:14px 0 4px}
section{background:#fff;border:1px solid #dde2e8;border-radius:8px;padding:4px 18px 16px;margin:16px 0}
.summary{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}
.summary div{background:#fff;border:1px solid #dde2e8;border-radius:8px;padding:8px 14px}
.summary b{display:block;font-size:20px}
.scroll{overflow-x:auto}
table{border-collapse:collapse;margin:8px 0;font-size:12.5px}
th,td{text-align:left;padding:3px 10px;border-bottom:1px solid #e8ebef;vertical-align:top}
th{background:#f6f8fb;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:10px}
.card{border:1px solid #dde2e8;border-radius:8px;padding:6px 10px}
.card:target{outline:3px solid #4a78c2}
.card h3{margin:2px 0;font-size:13px;word-break:break-all}
.muted{color:#5b6675;font-size:12.5px}.fault{color:#b71c1c}.tid{font-family:ui-monospace,monospace;font-size:12px}
.state{display:inline-block;width:9px;height:9px;border-radius:2px;margin-right:5px}
.state.ok{background:#3c9a3c}.state.error{background:#ef8f00}.state.throttle{background:#8e44ad}
.state.fault{background:#d32f2f}.state.idle{background:#9aa3ad}
details summary{cursor:pointer;color:#39424d;margin:6px 0}
"""


def _iso(seconds: float | None) -> str:
    if not seconds:
        return "-"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _pct(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.1f}%"


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th{' class=n' if i in numeric else ''}>{text(h)}</th>" for i, h in enumerate(headers))
    body = []
    for row in rows:
        cells = "".join(f"<td{' class=n' if i in numeric else ''}>{text(c)}</td>" for i, c in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def _op(entry: dict[str, Any]) -> str:
    return f"{entry['service']} {entry['operation']}"


def _stats_card(title: str, subtitle: str, stats: Statistics, element_id: str, extra: dict[str, object]) -> str:
    state = health(stats)
    n = stats.total_count
    figures = (
        f"{n} requests · ok {stats.ok_count} · errors {stats.error_other} · throttles {stats.throttle_count} · "
        f"faults {stats.fault_count}"
    )
    latency = (
        f"p50 {format_seconds(stats.p50_s)} · p95 {format_seconds(stats.p95_s)} · p99 {format_seconds(stats.p99_s)}"
    )
    data = {
        "class": "card",
        "id": element_id,
        "data-requests": n,
        "data-p50-s": stats.p50_s,
        "data-p95-s": stats.p95_s,
        "data-p99-s": stats.p99_s,
        **extra,
    }
    return (
        f'<div{attrs(data)}><h3><span class="state {state}"></span>{text(title, max_length=120)}</h3>'
        f'<div class="muted">{text(subtitle, max_length=120)}</div><div class="muted">{text(figures)}</div>'
        f"<div>{text(latency)}</div>"
        f"{histogram(stats.histogram, {'p50': stats.p50_s, 'p95': stats.p95_s, 'p99': stats.p99_s})}</div>"
    )


def _map_section(graph: nx.DiGraph, group_by_location: bool) -> str:
    ids = element_ids(graph)
    services = sum(1 for _, data in graph.nodes(data=True) if data.get("kind") != "client")  # as `spanscope map` counts
    parts = [
        '<section id="map"><h2>Service map</h2>',
        f'<p class="muted">{services} nodes, {graph.number_of_edges()} edges. Columns follow the calls '
        "from the entry points; bands group nodes by placement (region, edge location, device). Click a node for "
        "its response-time histogram.</p>",
    ]
    drawing = render_map_svg(
        graph, group_by_location=group_by_location, standalone=False, link_prefix="detail-", min_scale=0.8
    )
    parts.append(f'<div class="scroll">{drawing}</div>')
    nodes = sorted(
        (k for k in graph.nodes if graph.nodes[k]["stats"].total_count),
        key=lambda k: (-graph.nodes[k]["stats"].fault_count, -graph.nodes[k]["stats"].total_count, ids[k]),
    )
    parts.append('<h3>Nodes: response times</h3><div class="cards">')
    for key in nodes[:MAX_DETAILS]:
        data = graph.nodes[key]
        where = f" · {data['location']}" if data.get("location") else ""
        parts.append(
            _stats_card(
                key[0],
                f"{key[1] or 'service'} · {data['kind']}{where}",
                data["stats"],
                f"detail-{ids[key]}",
                {"data-node": key[0], "data-type": key[1]},
            )
        )
    parts.append("</div>")
    if len(nodes) > MAX_DETAILS:
        parts.append(f'<p class="muted">{len(nodes) - MAX_DETAILS} quieter nodes: see the embedded map JSON.</p>')
    edges = []
    for caller, callee in graph.edges:
        stats = edge_stats(graph.edges[caller, callee])
        if stats is not None and stats.total_count:
            edges.append((caller, callee, stats))
    edges.sort(key=lambda e: (-e[2].total_count, ids[e[0]], ids[e[1]]))
    parts.append('<h3>Edges: response times (the caller\'s view)</h3><div class="cards">')
    for caller, callee, stats in edges[:MAX_DETAILS]:
        kind = "asynchronous (link)" if graph.edges[caller, callee]["asynchronous"] else "calls"
        parts.append(
            _stats_card(
                f"{caller[0]} → {callee[0]}",
                kind,
                stats,
                f"edge-{ids[caller]}-{ids[callee]}",
                {"data-source": caller[0], "data-target": callee[0]},
            )
        )
    parts.append("</div>")
    if len(edges) > MAX_DETAILS:
        parts.append(f'<p class="muted">{len(edges) - MAX_DETAILS} quieter edges: see the embedded map JSON.</p>')
    parts.append("</section>")
    return "".join(parts)


def _hotspots(doc: dict[str, Any]) -> str:
    rows = doc["hotspots"]
    parts = ['<section id="hotspots"><h2>Latency hotspots</h2>']
    if not rows:
        return parts[0] + '<p class="muted">none</p></section>'
    parts.append('<p class="muted">Time on the critical path, summed over all traces, ranked.</p>')
    bars = [
        Bar(
            _op(h),
            h["critical_path_s"],
            f"{_op(h)}: {format_seconds(h['critical_path_s'])} on the critical path in {h['count']} calls",
            {"data-rank": i, "data-count": h["count"], "data-p95-s": h["p95_s"]},
        )
        for i, h in enumerate(rows[:TOP], 1)
    ]
    parts.append(ranked_bars(bars, css_class="chart bars hotspots", label="hotspots"))
    parts.append(
        _table(
            ["#", "service", "operation", "critical path", "self", "calls", "p50", "p95", "p99"],
            [
                [
                    i,
                    h["service"],
                    h["operation"],
                    format_seconds(h["critical_path_s"]),
                    format_seconds(h["self_s"]),
                    h["count"],
                    format_seconds(h["p50_s"]),
                    format_seconds(h["p95_s"]),
                    format_seconds(h["p99_s"]),
                ]
                for i, h in enumerate(rows[:TOP], 1)
            ],
            {0, 3, 4, 5, 6, 7, 8},
        )
    )
    return "".join(parts) + "</section>"


def _chains(doc: dict[str, Any]) -> str:
    rows = doc["failure_chains"]
    parts = [
        f'<section id="failure-chains"><h2>Failure chains</h2><p class="muted">{doc["failed_traces"]} of '
        f"{doc['traces']} traces failed. Each chain runs from the span where the failure started (red) through "
        "the spans it propagated to (orange) up to the entry point; grey: the span that stopped it.</p>"
    ]
    if not rows:
        return parts[0] + '<p class="muted">none</p></section>'
    for i, chain in enumerate(rows[:TOP], 1):
        hops = [(h["service"], h["operation"]) for h in chain["path"]]
        stopped = chain["stopped_by"]
        drawing = chain_path(
            hops,
            stopped_by=(stopped["service"], stopped["operation"]) if stopped else None,
            count=chain["count"],
            uid=f"chain{i}",
        )
        ids = ", ".join(chain["trace_ids"][:5]) + (" …" if len(chain["trace_ids"]) > 5 else "")
        data = {"class": "chain", "data-rank": i, "data-count": chain["count"]}
        parts.append(
            f"<div{attrs(data)}><h3>{i}. {chain['count']}× from {text(_op(chain['origin']))}</h3>"
            f'<div class="scroll">'
            f"{drawing}"
            f'</div><div class="muted">traces: <span class="tid">{text(ids)}</span></div></div>'
        )
    return "".join(parts) + "</section>"


def _stragglers(doc: dict[str, Any]) -> str:
    rows = doc["stragglers"]
    parts = ['<section id="stragglers"><h2>Stragglers</h2>']
    if not rows:
        return parts[0] + '<p class="muted">none</p></section>'
    parts.append('<p class="muted">Tasks much slower than their siblings: the siblings\' median against the task.</p>')
    pairs = [
        Pair(
            f"{s['service']} {s['operation']} {s['label'] or ''}".strip(),
            s["median_s"],
            s["value_s"],
            data={"data-rank": i, "data-siblings": s["siblings"]},
        )
        for i, s in enumerate(rows[:TOP], 1)
    ]
    parts.append(
        paired_bars(
            pairs, legend=("siblings' median", "straggler"), css_class="chart pairs stragglers", label="stragglers"
        )
    )
    why = {True: "explained by input size", False: "not explained by input size", None: "input size unknown"}
    parts.append(
        _table(
            ["#", "task", "parent", "duration", "median", "siblings", "lost", "why"],
            [
                [
                    i,
                    f"{s['service']} {s['operation']} {s['label'] or ''}",
                    _op(s["parent"]),
                    format_seconds(s["value_s"]),
                    format_seconds(s["median_s"]),
                    s["siblings"],
                    format_seconds(s["lost_s"]),
                    why.get(s["explained_by_input"], ""),
                ]
                for i, s in enumerate(rows[:TOP], 1)
            ],
            {0, 3, 4, 5, 6},
        )
    )
    return "".join(parts) + "</section>"


def _cold_starts(doc: dict[str, Any]) -> str:
    rows = doc["cold_starts"]
    parts = ['<section id="cold-starts"><h2>Cold starts</h2>']
    if not rows:
        return parts[0] + '<p class="muted">none</p></section>'
    pairs = [
        Pair(
            c["function"],
            c["warm_p50_s"],
            c["cold_p50_s"],
            data={"data-rank": i, "data-cold-count": c["cold_count"], "data-rate": c["cold_start_rate"]},
        )
        for i, c in enumerate(rows[:TOP], 1)
    ]
    parts.append('<p class="muted">Median duration of warm against cold invocations, per function.</p>')
    parts.append(
        paired_bars(pairs, legend=("warm p50", "cold p50"), css_class="chart pairs cold-starts", label="cold starts")
    )
    rate_bars = [Bar(c["function"], c["cold_start_rate"], data={"data-rank": i}) for i, c in enumerate(rows[:TOP], 1)]
    parts.append("<h3>Cold-start rate</h3>")
    parts.append(ranked_bars(rate_bars, fmt=_pct, css_class="chart bars cold-rate", label="cold-start rate"))
    parts.append(
        _table(
            ["function", "cold / invocations", "rate", "init (total)", "init share", "cold p50", "warm p50", "penalty"],
            [
                [
                    c["function"],
                    f"{c['cold_count']}/{c['invocations']}",
                    _pct(c["cold_start_rate"]),
                    format_seconds(c["init_s"]),
                    _pct(c["init_share"]),
                    format_seconds(c["cold_p50_s"]),
                    format_seconds(c["warm_p50_s"]),
                    format_seconds(c["penalty_s"]),
                ]
                for c in rows[:TOP]
            ],
            {1, 2, 3, 4, 5, 6, 7},
        )
    )
    return "".join(parts) + "</section>"


def _baseline(doc: dict[str, Any], window: tuple[int, int] | None) -> str:
    base = doc["baseline"]
    if base is None:
        return ""
    span = f" ({_iso(window[0] / 1e9)} – {_iso(window[1] / 1e9)})" if window else ""
    parts = [
        f'<section id="baseline"><h2>Against the baseline</h2><p class="muted">Baseline window{text(span)}: '
        f"{base['traces']} traces. Critical-path time per trace, baseline against now, for the operations that "
        f"grew most; {base['slow_traces']} traces slower than {text(format_seconds(base['slow_threshold_s']))}.</p>"
    ]
    growth = base["growth"][:TOP]
    if growth:
        pairs = [
            Pair(
                _op(g),
                g["baseline_per_trace_s"],
                g["critical_path_per_trace_s"],
                data={"data-rank": i, "data-growth-s": g["growth_s"]},
            )
            for i, g in enumerate(growth, 1)
        ]
        parts.append(paired_bars(pairs, legend=("baseline", "now"), css_class="chart pairs baseline", label="baseline"))
    else:
        parts.append('<p class="muted">no operation grew</p>')
    if base["attributes"]:
        parts.append("<h3>Attributes over-represented in the slow traces</h3>")
        parts.append(
            _table(
                ["attribute", "value", "share of slow traces", "share in the baseline"],
                [
                    [a["key"], a["value"], _pct(a["slow_share"]), _pct(a["baseline_share"])]
                    for a in base["attributes"][:TOP]
                ],
                {2, 3},
            )
        )
    return "".join(parts) + "</section>"


def _worst(traces: Sequence[Trace]) -> str:
    if not traces:
        return ""
    parts = [
        '<section id="worst-traces"><h2>Worst traces</h2><p class="muted">The slowest failed traces and the slowest '
        "traces. Black underline: the critical path. ✖ origin of a failure, ↑ failed because a child failed, ■ a "
        "span that stopped a child's failure.</p>"
    ]
    for trace in traces:
        root = trace.root
        failed = sum(1 for s in trace.spans if s.status.failed)
        head = f"{root.service}: {root.name}" if root else "(no root)"
        duration = format_seconds((trace.end_ns - trace.start_ns) / 1e9)
        data = {"class": "trace", "data-trace-id": trace.trace_id, "data-spans": len(trace.spans)}
        parts.append(
            f"<div{attrs(data)}><h3>{text(head, max_length=100)} · {text(duration)} · {len(trace.spans)} spans"
            f"{f' · <span class=fault>{failed} failed</span>' if failed else ''}</h3>"
            f'<div class="muted tid">{text(trace.trace_id)}</div>'
            f'<div class="scroll">{render_waterfall_svg(trace)}</div></div>'
        )
    return "".join(parts) + "</section>"


def render_report_html(
    report: Report,
    graph: nx.DiGraph | None,
    worst_traces: Sequence[Trace] = (),
    *,
    title: str = "spanscope post-mortem",
    baseline_window: tuple[int, int] | None = None,
    group_by_location: bool = True,
    generated_at: datetime | None = None,
) -> str:
    """The whole report as an HTML document (a string; write it as UTF-8)."""
    doc = report_to_json(report)
    generated = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    summary = [
        ("traces", f"{doc['traces']:,}"),
        ("spans", f"{doc['spans']:,}"),
        ("failed traces", f"{doc['failed_traces']:,}"),
        ("from", _iso(doc["start"])),
        ("to", _iso(doc["end"])),
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        'img-src data:">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="spanscope">',
        f"<title>{text(title)}</title><style>{CSS}</style></head><body><main>",
        f'<h1>{text(title)}</h1><div class="muted">generated {text(generated)}</div>',
        '<div class="summary">' + "".join(f"<div>{text(k)}<b>{text(v)}</b></div>" for k, v in summary) + "</div>",
    ]
    for note in doc["notes"]:
        parts.append(f'<p class="muted">note: {text(note)}</p>')
    if graph is not None and graph.number_of_nodes():
        parts.append(_map_section(graph, group_by_location))
    parts.append(_hotspots(doc))
    parts.append(_baseline(doc, baseline_window))
    parts.append(_chains(doc))
    parts.append(_stragglers(doc))
    parts.append(_cold_starts(doc))
    parts.append(_worst(worst_traces))
    parts.append(
        '<details><summary>Data</summary><p class="muted">This file embeds the report as '
        f"<code>{DATA_ID}</code> (the JSON of <code>spanscope analyze --format json</code>) and the map as "
        f"<code>{MAP_DATA_ID}</code> (the JSON of <code>spanscope map --format json</code>).</p></details>"
    )
    parts.append(json_script(DATA_ID, doc))
    if graph is not None:
        parts.append(json_script(MAP_DATA_ID, service_graph_json(graph)))
    parts.append("</main></body></html>\n")
    return "\n".join(parts)


def write_html_report(path: Any, traces: Iterable[Trace], *, title: str = "spanscope post-mortem") -> Path:
    """Analyze ``traces`` and write the HTML report to ``path`` (UTF-8); returns the path written."""
    from spanscope.render.report_inputs import analyze_for_html

    report, inputs = analyze_for_html(traces)
    target = Path(path)
    target.write_text(render_report_html(report, inputs.graph(), inputs.worst_traces(), title=title), encoding="utf-8")
    return target
