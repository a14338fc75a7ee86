"""SVG snapshots of every screen on the fixed sample store (pytest-textual-snapshot; update with --snapshot-update)."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from tests.fixtures.tui.sample_store import trace_id
from tests.tui.conftest import SIZE, make_app, settle


def test_traces_screen(snap_compare, sample_db: Path) -> None:
    assert snap_compare(make_app(sample_db), terminal_size=SIZE, run_before=settle)


def test_traces_filtered(snap_compare, sample_db: Path) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press("slash", *'service("payments") { fault }', "enter")
        await settle(pilot)

    assert snap_compare(make_app(sample_db), terminal_size=SIZE, run_before=run_before)


def test_traces_filter_error(snap_compare, sample_db: Path) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press("slash", *"responsetime > AND fault", "enter")
        await settle(pilot)
        pilot.app.screen.query_one("#traces-table").focus()
        await pilot.pause()

    assert snap_compare(make_app(sample_db), terminal_size=SIZE, run_before=run_before)


def test_trace_screen(snap_compare, sample_db: Path) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot)
        pilot.app.open_trace(trace_id(13))
        await settle(pilot)
        await pilot.press("o")  # the failure origin, with its exception in the detail panel
        await pilot.pause()

    assert snap_compare(make_app(sample_db), terminal_size=SIZE, run_before=run_before)


def test_trace_screen_big_folded(snap_compare, sample_db: Path) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot)
        pilot.app.open_trace(trace_id(25))
        await settle(pilot)
        await pilot.press("j", "enter", "j", "j", "enter")
        await pilot.pause()

    assert snap_compare(make_app(sample_db), terminal_size=SIZE, run_before=run_before)


async def settle_after_reload(pilot: Pilot[None]) -> None:
    """Rows that a worker delivers before a table's first layout can leave its columns at their labels'
    widths (seen on a loaded machine): reload once the table is laid out, so the picture is always the same."""
    await settle(pilot)
    await pilot.press("R")
    await settle(pilot)


def test_service_map_screen(snap_compare, sample_db: Path) -> None:
    assert snap_compare(make_app(sample_db, start="map"), terminal_size=SIZE, run_before=settle_after_reload)


def test_hotspots_screen(snap_compare, sample_db: Path) -> None:
    assert snap_compare(make_app(sample_db, start="hotspots"), terminal_size=SIZE, run_before=settle_after_reload)


def test_chains_screen(snap_compare, sample_db: Path) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(make_app(sample_db, start="chains"), terminal_size=SIZE, run_before=run_before)


def test_compare_screen(snap_compare, sample_db: Path) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        from textual.widgets import Input

        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False  # the focused window input's blinking cursor would change the picture
        await settle(pilot)  # the tables' columns are as wide as their cells once the rows are in (NavTable.add_row)

    assert snap_compare(make_app(sample_db, start="compare"), terminal_size=SIZE, run_before=run_before)


def test_help_screen(snap_compare, sample_db: Path) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(make_app(sample_db), terminal_size=SIZE, run_before=run_before)
