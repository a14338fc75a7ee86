"""The flame graph (icicle) beside the waterfall: depth down, time across, the critical path marked."""

from __future__ import annotations

from pathlib import Path

from spanscope.tui.screens.trace import TraceScreen
from spanscope.tui.widgets.flame_graph import EMPTY, FlameGraph
from spanscope.tui.widgets.waterfall import Waterfall
from textual.pilot import Pilot

from tests.fixtures.tui.sample_store import trace_id
from tests.tui.conftest import SIZE, make_app, settle


async def open_with_flame(pilot: Pilot[None]) -> FlameGraph:
    await settle(pilot)
    pilot.app.open_trace(trace_id(13))  # a faulted checkout, 8 spans, 4 levels
    await settle(pilot)
    await pilot.press("i")
    await pilot.pause()
    return pilot.app.screen.query_one(FlameGraph)


async def test_flame_graph_lays_spans_out_by_depth_and_marks_the_critical_path(sample_db: Path) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        flame = await open_with_flame(pilot)
        screen = app.screen
        assert isinstance(screen, TraceScreen) and flame.display
        rows = flame.rows
        assert rows is not None
        spans = rows.trace.spans
        width = flame.scrollable_content_region.width
        # the root spans the whole first line; every line holds exactly the spans of its depth
        assert set(flame.cells(0, width)) == {rows.order[0]}
        for depth, nodes in enumerate(flame.levels):
            drawn = set(flame.cells(depth, width)) - {EMPTY}
            assert drawn <= set(nodes) and drawn, depth
        assert len(flame.levels) == max(rows.depth) + 1
        # critical spans are marked with "*" in their box; others are not
        text = ["".join(seg.text for seg in flame.render_line(y)) for y in range(len(flame.levels))]
        for node in rows.order:
            label = rows.labels[node][:10]
            critical = node in rows.critical
            line = text[rows.depth[rows.row_of[node]]]
            if ("*" + label) in line:
                assert critical, rows.labels[node]
        assert "*" + rows.labels[rows.order[0]][:10] in text[0]  # the root is always on the critical path

        # clicking a box puts the waterfall's cursor on that span; the flame graph marks it
        charge = next(n for n, s in enumerate(spans) if s.name == "charge card")
        depth = rows.depth[rows.row_of[charge]]
        x = flame.cells(depth, width).index(charge)
        await pilot.click(FlameGraph, offset=(x + 1, depth + 1))  # +1: the border
        await pilot.pause()
        waterfall = screen.query_one(Waterfall)
        assert waterfall.current_node == charge and flame.current == charge and app.focused is waterfall

        await pilot.press("i")
        await pilot.pause()
        assert not flame.display


def test_flame_graph_snapshot(snap_compare, sample_db: Path) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await open_with_flame(pilot)
        await pilot.press("o")  # the failure origin, reversed in the flame graph
        await pilot.pause()

    assert snap_compare(make_app(sample_db), terminal_size=SIZE, run_before=run_before)
