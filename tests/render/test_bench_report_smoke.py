"""The HTML report benchmark's pieces work at a tiny scale (no timings)."""

from __future__ import annotations

from pathlib import Path

from spanscope.render.html_report import render_report_html
from spanscope.render.report_inputs import analyze_for_html

from tests.load import fill_store, html_from_store, wide_traces


def test_report_from_a_filled_store(tmp_path: Path):
    db = tmp_path / "s.db"
    assert fill_store(db, 60) == 60 * 20
    out = tmp_path / "r.html"
    assert html_from_store(db, out) == out.stat().st_size > 10_000
    page = out.read_text(encoding="utf-8")
    for section in ("map", "hotspots", "failure-chains", "stragglers", "cold-starts", "worst-traces"):
        assert f'id="{section}"' in page


def test_wide_map_is_cut_to_the_busiest_nodes():
    report, inputs = analyze_for_html(wide_traces(services=180, fanout=3))
    page = render_report_html(report, inputs.graph(), [])
    assert "quieter nodes left out" in page
