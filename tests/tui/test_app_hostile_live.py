"""Untrusted span text stays inert on every screen; a trace written while the app runs appears live."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from spanscope.collectors.model import Kind, Span, Status
from spanscope.collectors.store import open_store
from spanscope.tui.screens.service_map import ServiceMapScreen
from spanscope.tui.screens.trace import TraceScreen
from spanscope.tui.screens.traces import TracesScreen
from spanscope.tui.widgets.waterfall import Waterfall

from tests.fixtures.tui.sample_store import BASE_NS, HOSTILE_TRACE_ID, build_sample_store
from tests.tui.conftest import SIZE, make_app, settle
from tests.tui.test_app import table_text

FORBIDDEN = ("\x1b", "\x07", "\x9b", "\x85", "\u202e")


def assert_inert(svg: str) -> None:
    for char in FORBIDDEN:
        assert char not in svg, repr(char)
    # the markup is shown as the characters it is made of (SVG escapes nothing in brackets)
    assert "[bold]link[/]" in svg.replace("&#160;", " ")


async def test_hostile_text_is_shown_literally_on_every_screen(hostile_db: Path) -> None:
    app = make_app(hostile_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert_inert(app.export_screenshot())
        traces = app.screen
        assert isinstance(traces, TracesScreen)
        # literal, cut to the 50 cells the entry point column gets (the whole trace id needs the rest)
        assert table_text(traces.table)[0][1] == "shop-api: evil[bold]link[/][link=http://x]ygnp[/l…"

        # a hostile filter expression: an inline error, never markup
        await pilot.press("slash", *"[bold]x[/]", "enter")
        await settle(pilot)
        error = app.screen.query_one("#filter-error").render()
        assert "found '['" in str(getattr(error, "plain", error))
        await pilot.press("ctrl+u", "enter")
        await settle(pilot)

        for key in "1345":
            await pilot.press("escape", key)
            await settle(pilot)
            svg = app.export_screenshot()
            for char in FORBIDDEN:
                assert char not in svg, (key, repr(char))

        # the hostile trace: every span, the detail panel of the hostile span, a hostile search
        app.open_trace(HOSTILE_TRACE_ID)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TraceScreen)
        assert_inert(app.export_screenshot())
        await pilot.press("j")  # the span whose name, service, message and exception are hostile
        await pilot.pause()
        svg = app.export_screenshot()
        assert_inert(svg)
        assert "http://x" in svg and "gnp" in svg
        await pilot.press("slash", *"[bold]", "enter")
        await pilot.pause()
        assert len(screen.query_one(Waterfall).matches) >= 2
        assert_inert(app.export_screenshot())
        await pilot.press("escape")
        await pilot.pause()
    assert app.return_code in (None, 0)


async def test_a_trace_written_while_the_app_runs_appears(tmp_path: Path) -> None:
    db = build_sample_store(tmp_path / "live.db")
    app = make_app(db, live=True, poll=0.1)
    tid = f"{BASE_NS // 1_000_000_000 + 3600:08x}" + "fe" * 12
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TracesScreen)
        before = screen.table.row_count
        await asyncio.sleep(0.3)  # the first poll takes the cursor

        with open_store(db) as writer:  # a collector writing the same store from another connection
            writer.write_spans(
                [
                    Span(
                        tid,
                        "1" * 16,
                        None,
                        "live-api",
                        "GET /new",
                        Kind.SERVER,
                        BASE_NS + 3_600_000_000_000,
                        BASE_NS + 3_600_200_000_000,
                        status=Status.FAULT,
                    ),
                    Span(
                        tid,
                        "2" * 16,
                        "1" * 16,
                        "live-db",
                        "query",
                        Kind.CLIENT,
                        BASE_NS + 3_600_010_000_000,
                        BASE_NS + 3_600_100_000_000,
                    ),
                ]
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            await pilot.pause(0.1)
            if screen.table.row_count > before:
                break
        rows = table_text(screen.table)
        assert rows[0][1] == "live-api: GET /new" and rows[0][3] == "FAULT"
        # typing still works while polling
        await pilot.press("slash", *"fault", "enter")
        await settle(pilot)
        assert table_text(screen.table)[0][1] == "live-api: GET /new"

        # an open trace takes late spans in, keeping the cursor's place
        await pilot.press("escape")
        app.open_trace(tid)
        await settle(pilot)
        waterfall = app.screen.query_one(Waterfall)
        assert len(waterfall.shown_rows) == 2
        await pilot.press("j")
        with open_store(db) as writer:
            writer.write_spans(
                [
                    Span(
                        tid,
                        "3" * 16,
                        "1" * 16,
                        "live-api",
                        "late",
                        Kind.INTERNAL,
                        BASE_NS + 3_600_150_000_000,
                        BASE_NS + 3_600_160_000_000,
                    ),
                ]
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(waterfall.shown_rows) < 3:
            await pilot.pause(0.1)
        assert len(waterfall.shown_rows) == 3
        assert waterfall.current_node is not None
        assert waterfall.rows is not None and waterfall.rows.trace.spans[waterfall.current_node].span_id == "2" * 16

        # the service map took the new trace in too
        await pilot.press("escape")
        await pilot.press("1")
        await settle(pilot)
        assert isinstance(app.screen, ServiceMapScreen)
        names = [row[0] for row in table_text(app.screen.query_one("#map-nodes"))]
        assert "● live-api" in names
