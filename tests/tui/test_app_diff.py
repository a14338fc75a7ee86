"""Pilot test of the Diff screen: mark two traces on the Traces screen, read the ranked comparison, open, swap."""

from __future__ import annotations

from pathlib import Path

from spanscope.analysis.diff import diff_traces
from spanscope.collectors.store import open_store
from spanscope.tui.screens.diff import DiffScreen
from spanscope.tui.screens.trace import TraceScreen
from spanscope.tui.screens.traces import TracesScreen

from tests.tui.conftest import on_screen, settle
from tests.tui.test_app import static_text, table_text


async def test_marking_two_traces_opens_their_diff(sample_db: Path) -> None:
    async with on_screen(sample_db, TracesScreen) as (app, pilot, traces):
        ordered = [s.trace_id for s in traces._ordered]
        shop = [i for i, s in enumerate(traces._ordered) if s.root_name == "POST /checkout"]
        first, second = shop[0], shop[1]

        await pilot.press("g", *["j"] * first, "m")
        assert traces.marked == [ordered[first]]
        await pilot.press("m")  # the same row again: unmarked
        assert traces.marked == []
        await pilot.press("m", *["j"] * (second - first), "m")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DiffScreen)
        assert (screen.trace_a, screen.trace_b) == (ordered[first], ordered[second])
        assert traces.marked == []

        with open_store(sample_db, readonly=True) as store:
            expected = diff_traces(store.get_trace(ordered[first]), store.get_trace(ordered[second]))
        assert expected.delta_ns != 0
        rows = table_text(screen.table)
        assert len(rows) == len(expected.nodes)
        assert rows[0][1] == expected.nodes[0].change and rows[0][4].endswith(expected.nodes[0].operation)
        header = static_text(screen.query_one("#diff-header"))
        assert f"1-{ordered[first][:8]}-{ordered[first][8:]}" in header and "end-to-end" in header

        await pilot.press("x")  # swap A and B: the end-to-end change flips sign
        await settle(pilot)
        assert (screen.trace_a, screen.trace_b) == (ordered[second], ordered[first])
        assert screen.result is not None and screen.result.delta_ns == -expected.delta_ns

        await pilot.press("enter")  # open the top row's trace
        await settle(pilot)
        assert isinstance(app.screen, TraceScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DiffScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, TracesScreen)
