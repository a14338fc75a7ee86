"""The HTML report in a real browser: headless Chromium (installed by `make browser`, from apt) opens the file,
and the map and the charts are drawn, nothing is requested, nothing is logged as an error, nothing runs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from spanscope.cli.main import main
from spanscope.render.svg_map import COLOURS

from tests.render.headless_chromium import colours, find_chromium, open_page
from tests.render.html_report_fixtures import HOSTILE_NAMES, hostile_spans, write_store

pytestmark = pytest.mark.skipif(
    find_chromium() is None,
    reason="no Chromium on this machine: `make browser` installs it with apt-get when run as root "
    "(the project's test set-up does this; without root or apt the browser test cannot run)",
)

PROBE = """JSON.stringify((() => {
  const box = (el) => { const r = el.getBoundingClientRect(); return [r.width, r.height]; };
  const all = (sel) => Array.from(document.querySelectorAll(sel));
  const map = document.querySelector('svg.service-map');
  return {
    title: document.title,
    map: map ? box(map) : null,
    nodes: all('svg.service-map g.node').length,
    drawnNodes: all('svg.service-map g.node').filter((g) => box(g)[0] > 20 && box(g)[1] > 20).length,
    edges: all('svg.service-map g.edge').length,
    histograms: all('svg.histogram').filter((s) => all('rect').length && box(s)[0] > 100).length,
    histogramBars: all('svg.histogram g.bucket rect').filter((r) => box(r)[1] > 0).length,
    hotspotBars: all('svg.hotspots g.bar rect').filter((r) => box(r)[0] >= 1).length,
    chains: all('svg.chain g.hop').length,
    waterfalls: all('svg.waterfall').length,
    criticalMarks: all('svg.waterfall rect.cp').filter((r) => box(r)[0] > 0).length,
    roleMarks: all('svg.waterfall g.role-origin').length,
    executableScripts: all('script').filter((s) => s.type !== 'application/json').length,
    nodeNames: all('svg.service-map g.node').map((g) => g.dataset.name),
    report: JSON.parse(document.getElementById('spanscope-report').textContent).traces,
  };
})())"""


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return (int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16))


def test_report_renders_in_headless_chromium(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    db = write_store(tmp_path / "hostile.db", hostile_spans())
    report = tmp_path / "report.html"
    assert main(["analyze", "--db", str(db), "--format", "html", "--output", str(report)]) == 0
    expected = json.loads(_json(capsys, db))

    result = asyncio.run(
        open_page(report, probe=PROBE, clips={"map": "svg.service-map", "hotspots": "svg.hotspots"}, full_page=True)
    )
    shot = tmp_path / "report.png"
    shot.write_bytes(result.screenshots["page"])
    print(f"screenshot: {shot}")

    assert result.requests == [report.resolve().as_uri()], "the page requested something besides itself"
    assert result.errors == []
    probe = json.loads(result.probe)
    assert probe["executableScripts"] == 0
    assert probe["report"] == expected["traces"]
    assert probe["map"][0] > 500 and probe["map"][1] > 200
    n_nodes = len(expected["service_map"]["nodes"])
    assert probe["nodes"] == probe["drawnNodes"] == n_nodes
    assert probe["edges"] == len(expected["service_map"]["edges"])
    assert probe["histograms"] >= n_nodes - 1  # every node with requests (the client has none)
    assert probe["histogramBars"] > probe["histograms"]
    assert probe["hotspotBars"] == min(15, len(expected["hotspots"]))
    assert probe["chains"] >= 2
    assert probe["waterfalls"] >= 1 and probe["criticalMarks"] >= 1 and probe["roleMarks"] >= 1
    # hostile names are shown as text (bidi controls removed), not interpreted
    assert {n.replace("\u202e", "").replace("\u2066", "") for n in HOSTILE_NAMES} <= set(probe["nodeNames"])

    # the pixels: the map shows healthy and faulty fills, the hotspot chart its bars
    map_colours = colours(result.screenshots["map"])
    assert len(map_colours) > 50, "the map looks blank"
    for state in ("ok", "fault"):
        assert map_colours.get(_rgb(COLOURS[state][0]), 0) > 100, f"no {state} node fill on the map"
    bar_colours = colours(result.screenshots["hotspots"])
    assert bar_colours.get((0x4A, 0x78, 0xC2), 0) > 200, "no hotspot bars drawn"


def _json(capsys: pytest.CaptureFixture[str], db: Path) -> str:
    capsys.readouterr()
    assert main(["analyze", "--db", str(db), "--format", "json"]) == 0
    return capsys.readouterr().out
