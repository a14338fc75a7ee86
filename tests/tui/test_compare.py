"""The Compare screen says what `spanscope analyze --baseline-*` says, on windows that both hold traces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from spanscope.cli.main import main
from spanscope.collectors.model import Kind, Span
from spanscope.collectors.store import open_store
from spanscope.render import cells
from spanscope.tui.screens.compare import CompareScreen, parse_window
from spanscope.tui.screens.traces import TracesScreen
from spanscope.tui.widgets.nav_table import NavTable
from textual.widgets import Input, Static

from tests.tui.conftest import on_screen, settle
from tests.tui.test_app import static_text, table_text

NS = 1_000_000_000


def cli_comparison(db: Path, baseline: str, incident: str, capsys: pytest.CaptureFixture[str]) -> dict:
    b_since, b_until = (p.strip() for p in baseline.split(".."))
    since, until = (p.strip() for p in incident.split(".."))
    args = ["analyze", "--db", str(db), "--format", "json", "--since", since, "--until", until]
    assert main([*args, "--baseline-since", b_since, "--baseline-until", b_until]) == 0
    return json.loads(capsys.readouterr().out)


async def test_compare_screen_agrees_with_analyze_number_for_number(
    sample_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with on_screen(sample_db, CompareScreen, start="compare") as (_app, _pilot, screen):
        assert screen.result is not None
        result = screen.result
        baseline = screen.query_one("#baseline-window", Input).value
        incident = screen.query_one("#incident-window", Input).value
        # the windows shown are the windows compared
        assert parse_window(baseline) == result.baseline and parse_window(incident) == result.incident
        growth_rows = table_text(screen.query_one("#compare-growth", NavTable))
        skew_rows = table_text(screen.query_one("#compare-skew", NavTable))
        status = static_text(screen.query_one("#compare-status", Static))

    cli = cli_comparison(sample_db, baseline, incident, capsys)
    b = cli["baseline"]
    # default windows split the loaded range at its median: both hold traces
    assert result.baseline_traces == b["traces"] > 0 and result.incident_traces == cli["traces"] > 0
    assert result.baseline_traces + result.incident_traces == 25  # every trace of the sample store, once
    comparison = result.comparison
    assert comparison.slow_threshold_ns / NS == b["slow_threshold_s"]
    assert comparison.slow_traces == b["slow_traces"]
    assert [
        (g.service, g.operation, g.critical_path_per_trace_ns / NS, g.baseline_per_trace_ns / NS, g.growth_ns / NS)
        for g in comparison.growth
    ] == [
        (g["service"], g["operation"], g["critical_path_per_trace_s"], g["baseline_per_trace_s"], g["growth_s"])
        for g in b["growth"]
    ]
    assert [(a.key, a.value, a.slow_share, a.baseline_share) for a in comparison.attributes] == [
        (a["key"], a["value"], a["slow_share"], a["baseline_share"]) for a in b["attributes"]
    ]
    assert b["growth"] and b["attributes"]
    # and the screen shows those numbers, per trace
    assert growth_rows == [
        [
            g["service"],
            g["operation"],
            cells.duration(round(g["baseline_per_trace_s"] * NS)).plain,
            cells.duration(round(g["critical_path_per_trace_s"] * NS)).plain,
            cells.duration(round(g["growth_s"] * NS)).plain,
        ]
        for g in b["growth"]
    ]
    assert [row[:2] for row in skew_rows] == [[a["key"], a["value"]] for a in b["attributes"]]
    assert f"baseline {b['traces']} traces, incident {cli['traces']} traces" in status


async def test_an_empty_baseline_is_said_plainly(tmp_path: Path) -> None:
    db = tmp_path / "one.db"
    tid = "6b016ba0" + "cd" * 12
    with open_store(db) as store:
        store.write_spans(
            [Span(tid, "a" * 16, None, "api", "GET /", Kind.SERVER, 1_795_255_200 * NS, 1_795_255_201 * NS)]
        )
    async with on_screen(db, CompareScreen, start="compare") as (_app, _pilot, screen):
        assert screen.result is not None
        status = static_text(screen.query_one("#compare-status", Static))
        assert "the baseline window holds no traces" in status
        assert "p95" not in status and "0.0 ms" not in status
        assert screen.result.incident_traces == 1


async def test_window_inputs_keep_their_keys(sample_db: Path) -> None:
    """Typing a window at once lands in the input: no digit or letter fires a screen shortcut."""
    async with on_screen(sample_db, CompareScreen, start="compare") as (app, pilot, screen):
        baseline = screen.query_one("#baseline-window", Input)
        assert app.focused is baseline
        await pilot.press("ctrl+u", *"2026-11-21T10:00:00Z .. 2026-11-21T10:12:00Z", "tab")
        assert baseline.value == "2026-11-21T10:00:00Z .. 2026-11-21T10:12:00Z"
        incident = screen.query_one("#incident-window", Input)
        assert app.focused is incident
        await pilot.press("ctrl+u", *"1795255920 .. 1795256820 cq?12345")
        assert incident.value.endswith("cq?12345") and app.screen is screen and app.is_running
        await pilot.press(*["backspace"] * 9, "enter")
        await settle(pilot)
        assert screen.result is not None
        assert screen.result.baseline_traces == 12 and screen.result.incident_traces == 14
        await pilot.press("escape", "2")  # Esc leaves the inputs; the screen keys work again
        await settle(pilot)
        assert isinstance(app.screen, TracesScreen)


def test_compare_with_baseline_refuses_uncounted_partials() -> None:
    """The old Compare screen's mistake: traces folded with add_trace_to and never counted (divided by 1)."""
    from spanscope.analysis.hotspots import HotspotsPartial, add_trace_to, compare_with_baseline
    from spanscope.collectors.model import Trace

    tid = "5759e988bd862e3fe1be46a994272793"
    uncounted = HotspotsPartial()
    add_trace_to(uncounted, Trace(tid, [Span(tid, "a" * 16, None, "api", "GET /", start_ns=0, end_ns=100)]))
    with pytest.raises(ValueError, match="counts no traces"):
        compare_with_baseline(uncounted, HotspotsPartial())
