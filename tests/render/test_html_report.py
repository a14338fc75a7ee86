"""`spanscope analyze --format html` and `map --format svg` against real SQLite stores: the numbers equal
`analyze --format json`, every section is drawn, hostile span text stays inert, the file is self-contained."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from spanscope.cli.main import main
from spanscope.collectors.service_map import build_service_map
from spanscope.collectors.store import open_store
from spanscope.render.svg_map import NODE_H, NODE_W, layout_map, render_map_svg

from tests.fixtures.tui.sample_store import BASE_NS, sample_spans
from tests.render.html_report_fixtures import (
    HOSTILE_NAMES,
    Elements,
    embedded_json,
    hostile_spans,
    inline_svgs,
    write_store,
)

BASE_S = BASE_NS // 1_000_000_000


@pytest.fixture(scope="module")
def shop_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_store(tmp_path_factory.mktemp("html") / "shop.db", sample_spans())


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_store(tmp_path_factory.mktemp("html-hostile") / "hostile.db", hostile_spans())


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main(list(args)) == 0
    return capsys.readouterr().out


def html_of(capsys: pytest.CaptureFixture[str], db: Path, tmp_path: Path, *extra: str) -> str:
    out = tmp_path / "report.html"
    run_cli(capsys, "analyze", "--db", str(db), "--format", "html", "--output", str(out), *extra)
    return out.read_text(encoding="utf-8")


def test_numbers_in_the_html_equal_analyze_json(shop_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    expected = json.loads(run_cli(capsys, "analyze", "--db", str(shop_db), "--format", "json"))
    page = html_of(capsys, shop_db, tmp_path)
    assert embedded_json(page, "spanscope-report") == expected
    doc = Elements(page)
    # the drawn hotspot bars carry the JSON's values, in the JSON's order
    bars = doc.with_class("g", "bar")
    hot = [b for b in bars if b.get("data-rank") and b.get("data-p95-s")]
    assert hot, "no hotspot bars"
    for bar, h in zip(hot, expected["hotspots"], strict=False):
        assert float(bar["data-value"]) == h["critical_path_s"]
        assert int(bar["data-count"]) == h["count"]
        assert float(bar["data-p95-s"]) == h["p95_s"]
    # the drawn map's nodes and edges carry the JSON summary's counts
    nodes = {(n["name"], n["type"]): n for n in expected["service_map"]["nodes"]}
    drawn = doc.with_class("g", "node")
    assert len(drawn) == len(nodes)
    for g in drawn:
        n = nodes[g["data-name"], g["data-type"]]
        assert (int(g["data-requests"]), int(g["data-faults"]), int(g["data-errors"]), int(g["data-throttles"])) == (
            n["requests"],
            n["faults"],
            n["errors"],
            n["throttles"],
        )
    edges = {(e["source"], e["target"]): e for e in expected["service_map"]["edges"]}
    drawn_edges = doc.with_class("g", "edge")
    assert len(drawn_edges) == len(edges)
    for g in drawn_edges:
        e = edges[g["data-source"], g["data-target"]]
        assert (int(g["data-requests"]), int(g["data-faults"])) == (e["requests"], e["faults"])
    # failure chains: one drawn path per chain, origin first
    chains = doc.with_class("div", "chain")
    assert [int(c["data-count"]) for c in chains] == [c["count"] for c in expected["failure_chains"]][: len(chains)]
    origins = doc.with_class("g", "origin")
    assert (origins[0]["data-service"], origins[0]["data-operation"]) == (
        expected["failure_chains"][0]["origin"]["service"],
        expected["failure_chains"][0]["origin"]["operation"],
    )


def test_map_json_block_equals_map_json(shop_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    expected = json.loads(run_cli(capsys, "map", "--db", str(shop_db), "--format", "json"))
    block = embedded_json(html_of(capsys, shop_db, tmp_path), "spanscope-map")
    assert block["Services"] == expected["Services"]
    # per node: the histogram card's percentiles are the map's
    page = html_of(capsys, shop_db, tmp_path)
    cards = {
        (c["data-node"], c["data-type"]): c for c in Elements(page).with_class("div", "card") if c.get("data-node")
    }
    for service in expected["Services"]:
        if not service["SummaryStatistics"]["TotalCount"]:
            continue
        card = cards[service["Name"], service["Type"]]
        assert float(card["data-p95-s"]) == service["Spanscope"]["Percentiles"]["p95"]
        assert int(card["data-requests"]) == service["SummaryStatistics"]["TotalCount"]


def test_every_section_is_drawn(shop_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    page = html_of(capsys, shop_db, tmp_path)
    doc = Elements(page)
    for section in ("map", "hotspots", "failure-chains", "stragglers", "cold-starts", "worst-traces"):
        assert any(t == "section" and a.get("id") == section for t, a in doc.elements), section
    assert doc.with_class("svg", "service-map")
    assert len(doc.with_class("svg", "histogram")) >= 10  # nodes and edges
    waterfalls = doc.with_class("svg", "waterfall")
    assert 1 <= len(waterfalls) <= 4
    spans = doc.with_class("g", "span")
    assert any(s.get("data-critical") == "true" for s in spans)
    assert {s.get("data-role") for s in spans} >= {"origin", "propagated"}
    assert "baseline" not in {a.get("id") for _t, a in doc.elements}
    # the inline SVGs are well-formed XML
    for svg in inline_svgs(page):
        ET.fromstring(svg)


def test_baseline_windows_draw_before_after_bars(shop_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    window = [
        "--since",
        str(BASE_S + 13 * 60),
        "--baseline-since",
        str(BASE_S),
        "--baseline-until",
        str(BASE_S + 12 * 60),
    ]
    expected = json.loads(run_cli(capsys, "analyze", "--db", str(shop_db), "--format", "json", *window))
    assert expected["baseline"]["growth"], "the sample store's incident should grow an operation"
    page = html_of(capsys, shop_db, tmp_path, *window)
    assert embedded_json(page, "spanscope-report") == expected
    pairs = [p for p in Elements(page).with_class("g", "pair") if p.get("data-growth-s")]
    assert len(pairs) == min(15, len(expected["baseline"]["growth"]))
    for pair, growth in zip(pairs, expected["baseline"]["growth"], strict=False):
        assert float(pair["data-before"]) == growth["baseline_per_trace_s"]
        assert float(pair["data-after"]) == growth["critical_path_per_trace_s"]


def test_hostile_span_text_stays_inert(hostile_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    page = html_of(capsys, hostile_db, tmp_path)
    doc = Elements(page)
    scripts = [a for t, a in doc.elements if t == "script"]
    assert scripts and all(a.get("type") == "application/json" for a in scripts)
    assert not [t for t, _a in doc.elements if t in ("img", "iframe", "object", "embed", "link", "foreignobject")]
    assert not [name for _t, a in doc.elements for name in a if name.startswith("on")]
    for bad in ("<script>alert", "<img", "</svg><img", "\u202e", "\u2066", "<!--"):
        assert bad not in page
    # the names are shown (escaped), and kept exact in the JSON
    names = {a.get("data-name") for a in doc.with_class("g", "node")}
    assert {n.replace("\u202e", "").replace("\u2066", "") for n in HOSTILE_NAMES} <= names
    report = embedded_json(page, "spanscope-report")
    assert set(HOSTILE_NAMES) <= {h["service"] for h in report["hotspots"]} | {
        h["operation"] for h in report["hotspots"]
    }
    for svg in inline_svgs(page):
        ET.fromstring(svg)
    # the standalone map too
    svg = run_cli(capsys, "map", "--db", str(hostile_db), "--format", "svg")
    root = ET.fromstring(svg.encode())
    assert not [e for e in root.iter() if e.tag.endswith(("script", "foreignObject", "image"))]
    assert "\u202e" not in svg and "<script>" not in svg


def test_file_is_self_contained(shop_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    page = html_of(capsys, shop_db, tmp_path)
    assert "default-src 'none'" in page
    doc = Elements(page)
    for _tag, a in doc.elements:
        for name in ("src", "href", "xlink:href"):
            value = a.get(name)
            assert value is None or value.startswith("#"), (name, value)
    assert "@import" not in page and "url(http" not in page and "@font-face" not in page


def test_layout_of_fifty_nodes_is_readable():
    """50 services fanned out of one entry point: no two boxes overlap, columns stay at most 12 rows."""
    from spanscope.collectors.model import Kind, Span, Trace

    tid = f"{BASE_S:08x}" + "0" * 24
    spans = [Span(tid, "a" * 16, None, "gateway", "GET /", Kind.SERVER, BASE_NS, BASE_NS + 10**8)]
    for i in range(49):
        spans.append(
            Span(tid, f"{i + 1:016x}", "a" * 16, f"svc{i:02d}", "work", Kind.SERVER, BASE_NS + 10, BASE_NS + 10**7)
        )
    graph = build_service_map([Trace(tid, spans)])
    assert graph.number_of_nodes() == 51
    positions = layout_map(graph).positions
    boxes = sorted((p.x, p.y) for p in positions.values())
    for i, (x, y) in enumerate(boxes):
        for x2, y2 in boxes[i + 1 :]:
            assert abs(x - x2) >= NODE_W or abs(y - y2) >= NODE_H
    rows_per_column: dict[float, int] = {}
    for x, _y in boxes:
        rows_per_column[x] = rows_per_column.get(x, 0) + 1
    assert max(rows_per_column.values()) <= 12
    ET.fromstring(render_map_svg(graph).encode())


def test_engine_and_html_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    code = main(["analyze", "--format", "html", "--engine", "local", "--source", str(tmp_path)])
    assert code == 2
    assert "html" in capsys.readouterr().err


def test_map_svg_groups_by_location(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    db = write_store(tmp_path / "s.db", sample_spans())
    with open_store(db, readonly=True) as store:
        graph = build_service_map(store.iter_traces())
    svg = run_cli(capsys, "map", "--db", str(db), "--format", "svg", "--group-by", "location")
    root = ET.fromstring(svg.encode())
    ns = "{http://www.w3.org/2000/svg}"
    assert len([g for g in root.iter(f"{ns}g") if "node" in g.get("class", "").split()]) == graph.number_of_nodes()


def test_demo_writer_and_an_empty_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """`spanscope demo` writes its report with write_html_report; an empty store still gives a valid page."""
    from spanscope.analysis.report import build_report
    from spanscope.collectors.model import Trace
    from spanscope.render.html_report import write_html_report
    from spanscope.render.report_json import report_to_json

    spans = sample_spans()
    by_trace: dict[str, list] = {}
    for span in spans:
        by_trace.setdefault(span.trace_id, []).append(span)
    traces = [Trace(tid, group) for tid, group in by_trace.items()]
    target = write_html_report(tmp_path / "spans.db.report.html", traces, title="demo")
    page = target.read_text(encoding="utf-8")
    expected = json.loads(json.dumps(report_to_json(build_report(traces))))
    assert embedded_json(page, "spanscope-report") == expected
    assert Elements(page).with_class("svg", "service-map")

    empty = write_store(tmp_path / "empty.db", [])
    page = html_of(capsys, empty, tmp_path)
    assert embedded_json(page, "spanscope-report")["traces"] == 0
    assert "service-map" not in page and 'id="hotspots"' in page
