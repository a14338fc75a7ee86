"""`spanscope show --follow-links` and `analyze`'s workflows section, through a real SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from spanscope.cli.main import main
from spanscope.collectors.store import open_store

from tests.analysis.test_workflows import pipeline
from tests.builders import build_spans


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "s.db"
    main_trace, emr = pipeline()
    with open_store(path) as store:
        store.write_spans([*main_trace.spans, *emr.spans])
        # a consumer linked to a trace that is not in the store
        store.write_spans(build_spans([("orphan", None, 0, 5, {"links": [("nowhere", "x")]})], trace="orphan"))
    return path


def test_show_follow_links_from_either_end(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main_trace, emr = pipeline()
    for start in (emr.trace_id, main_trace.trace_id):  # from the linked trace, and from the one it links to
        assert main(["show", "--db", str(db), start, "--follow-links", "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        wf = doc["workflow"]
        assert set(wf["trace_ids"]) == {main_trace.trace_id, emr.trace_id}
        assert wf["critical_path_coverage"] > 0.9
        assert {h["kind"] for h in wf["hops"]} >= {"queue wait", "execution start", "scheduling delay"}
        assert {"span_id", "start", "end", "trace_id", "piece"} <= set(doc["critical_path"][0])
        assert len(doc["spans"]) == len(main_trace.spans) + len(emr.spans)
    assert main(["show", "--db", str(db), main_trace.trace_id, "--follow-links", "--width", "40"]) == 0
    text = capsys.readouterr().out
    assert "workflow: 2 trace(s)" in text and "hop queue wait: 60.0ms" in text


def test_show_follow_links_reports_missing_and_bounds(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.builders import trace_id_for

    assert main(["show", "--db", str(db), trace_id_for("orphan"), "--follow-links"]) == 0
    assert "note: 1 linked trace(s) are not in the store" in capsys.readouterr().out
    main_trace, _emr = pipeline()
    assert main(["show", "--db", str(db), main_trace.trace_id, "--follow-links", "--max-traces", "1", "--json"]) == 0
    notes = json.loads(capsys.readouterr().out)["workflow"]["notes"]
    assert any("not followed" in n for n in notes)
    assert main(["show", "--db", str(db), main_trace.trace_id, "--max-traces", "0", "--follow-links"]) == 2


def test_analyze_json_has_workflows_and_linked_time_in_hotspots(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "--db", str(db), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"hotspots", "failure_chains", "stragglers", "cold_starts", "workflows"} <= set(doc)
    (wf,) = [w for w in doc["workflows"] if w["operation"] == "POST /close"]
    assert wf["p50_s"] == pytest.approx(2.0) and wf["hops"] >= 3
    assert {"queue_wait_share", "cold_start_share", "compute_share"} <= set(wf)
    hot = {(h["service"], h["operation"]): h["critical_path_s"] for h in doc["hotspots"]}
    assert hot[("emr", "reduce")] == pytest.approx(0.48)
    assert hot[("batch", "render-job")] > 0.4
    assert main(["analyze", "--db", str(db)]) == 0
    assert "## Workflows" in capsys.readouterr().out


async def test_tui_waterfall_w_key_shows_the_workflow_and_back(db: Path) -> None:
    from spanscope.tui.screens.trace import TraceScreen
    from spanscope.tui.widgets.waterfall import Waterfall
    from textual.widgets import Static

    from tests.tui.conftest import SIZE, make_app
    from tests.tui.test_app import settle, static_text

    main_trace, emr = pipeline()
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_trace(main_trace.trace_id)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TraceScreen)
        waterfall = screen.query_one(Waterfall)
        assert len(waterfall.shown_rows) == len(main_trace.spans)
        await pilot.press("w")
        await settle(pilot)
        assert len(waterfall.shown_rows) == len(main_trace.spans) + len(emr.spans)
        header = static_text(screen.query_one("#trace-header", Static))
        assert "workflow: 2 trace(s)" in header
        assert screen.rows is not None
        critical = {screen.rows.trace.spans[n].name for n in screen.rows.critical}
        assert {"reduce", "render-job"} <= critical
        await pilot.press("w")
        await settle(pilot)
        assert len(waterfall.shown_rows) == len(main_trace.spans)
