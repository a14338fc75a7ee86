"""Issue 15 item 7: under a fast ingest the live status counts the store right and says what a trimmed burst hid."""

from __future__ import annotations

from pathlib import Path

from spanscope.collectors.model import Kind, Span
from spanscope.collectors.store import open_store
from spanscope.tui.app import SpanscopeApp
from spanscope.tui.data import StoreSource
from spanscope.tui.screens.traces import TracesScreen
from textual.widgets import Static

from tests.fixtures.tui.sample_store import BASE_NS
from tests.tui.conftest import SIZE, settle
from tests.tui.test_app import static_text
from tests.waiting import wait_for_pilot

PAGE = 50


def burst(first: int, count: int) -> list[Span]:
    spans = []
    for k in range(first, first + count):
        tid = f"{BASE_NS // 1_000_000_000 + 7200:08x}" + f"{k:024x}"
        start = BASE_NS + 7_200_000_000_000 + k * 1_000_000
        spans.append(Span(tid, "a" * 16, None, "burst-api", f"op {k}", Kind.SERVER, start, start + 500_000))
    return spans


async def test_a_trimmed_burst_says_how_many_it_did_not_show(tmp_path: Path) -> None:
    db = tmp_path / "burst.db"
    with open_store(db) as store:
        store.write_spans(burst(0, 10))
    # a burst of 300 is loaded up to 120 traces (max_traces) and shown up to one page (50)
    source = StoreSource(db, page_size=PAGE)
    source_changes = source.changes
    source.changes = lambda cursor: source_changes(cursor, max_traces=120)  # type: ignore[method-assign]
    app = SpanscopeApp(source, live=True, poll_interval_s=0.05, start="traces")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TracesScreen)
        await wait_for_pilot(pilot, lambda: app._cursor is not None)  # the first poll took the cursor
        with open_store(db) as writer:
            writer.write_spans(burst(10, 300))  # one transaction: one poll sees the whole burst
        status = screen.query_one("#traces-status", Static)
        await wait_for_pilot(pilot, lambda: "in the store" in static_text(status))
        text = static_text(status)
        assert "310 in the store" in text, text
        assert "this burst had 250 more, not shown: only its newest 50 are" in text, text
        assert screen.table.row_count == 60  # the 10 already shown and the burst's newest page

        # bursts keep coming: the count follows the store, not the rows shown
        for first in (310, 340, 370):
            with open_store(db) as writer:
                writer.write_spans(burst(first, 30))
            await wait_for_pilot(pilot, lambda first=first: f"{first + 30:,} in the store" in static_text(status))
        assert "400 in the store" in static_text(status)
    source.close()
