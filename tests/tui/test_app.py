"""Pilot tests of the spanscope TUI: every screen driven by keys and mouse on the fixed sample store."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from spanscope.collectors.model import Kind, Span
from spanscope.collectors.store import open_store
from spanscope.tui.screens.chains import ChainsScreen
from spanscope.tui.screens.compare import CompareScreen
from spanscope.tui.screens.help import HelpScreen
from spanscope.tui.screens.hotspots import HotspotsScreen
from spanscope.tui.screens.service_map import ServiceMapScreen
from spanscope.tui.screens.trace import TraceScreen
from spanscope.tui.screens.traces import TracesScreen
from spanscope.tui.widgets.nav_table import NavTable
from spanscope.tui.widgets.span_detail import SpanDetail
from spanscope.tui.widgets.waterfall import Waterfall
from textual.widgets import Input, Static

from tests.fixtures.tui.sample_store import BIG_TRACE_ID, trace_id
from tests.tui.conftest import SIZE, make_app, on_screen, settle


def static_text(widget: Static) -> str:
    content = widget.render()
    return str(getattr(content, "plain", content))


def table_text(table: NavTable) -> list[list[str]]:
    rows = []
    for r in range(table.row_count):
        rows.append([cell.plain if isinstance(cell, Text) else str(cell) for cell in table.get_row_at(r)])
    return rows


async def test_traces_screen_lists_filters_sorts_and_opens(sample_db: Path) -> None:
    async with on_screen(sample_db, TracesScreen) as (app, pilot, screen):
        table = screen.table
        assert table.row_count == 25
        first = table_text(table)[0]
        assert first[1] == "emr-driver: spark job" and first[3] == "FAULT"

        # filter: only faulted traces remain
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"fault", "enter")
        await settle(pilot)
        statuses = {row[3] for row in table_text(table)}
        assert statuses == {"FAULT"} and table.row_count == 5
        assert app.focused is table

        # an invalid expression names its column inline and keeps the rows
        await pilot.press("f", "ctrl+u", *"responsetime >", "enter")
        await settle(pilot)
        error = static_text(app.screen.query_one("#filter-error", Static))
        assert "column 15" in error and "^" in error
        assert table.row_count == 5

        # clearing the filter brings every trace back
        await pilot.press("ctrl+u", "enter")
        await settle(pilot)
        assert table.row_count == 25

        # sort by duration (key), then reverse; then by clicking a header
        await pilot.press("escape", "s", "s")
        assert table_text(table)[0][2] == "9.00s"
        await pilot.press("r")
        assert table_text(table)[-1][2] == "9.00s"
        await pilot.click(NavTable, offset=(30, 0))  # the "Entry point" header
        await pilot.pause()
        assert screen.sort_column == 1

        # vim movement and open
        await pilot.press("g", "j", "j", "k", "G")
        assert table.cursor_row == table.row_count - 1
        await pilot.press("g", "enter")
        await settle(pilot)
        assert isinstance(app.screen, TraceScreen)


async def test_trace_screen_waterfall_detail_fold_search(sample_db: Path) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_trace(trace_id(13))  # a faulted checkout
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TraceScreen)
        waterfall = screen.query_one(Waterfall)
        assert app.focused is waterfall
        assert len(waterfall.shown_rows) == 8
        header = static_text(screen.query_one("#trace-header", Static))
        assert "FAULT" in header and "failure origins: 1" in header

        detail_body = screen.query_one("#span-detail-body", Static)
        await pilot.press("j")
        assert "verify token" in static_text(detail_body)

        # the failure origin is marked and reachable with "o"
        await pilot.press("o")
        text = static_text(detail_body)
        assert "charge card" in text and "failure role: origin" in text and "CardDeclinedError" in text

        # fold the root: one row left; unfold
        await pilot.press("g", "enter")
        assert len(waterfall.shown_rows) == 1
        await pilot.press("right")
        assert len(waterfall.shown_rows) == 8
        await pilot.press("left")
        assert len(waterfall.shown_rows) == 1

        # search unfolds and jumps to the hit
        await pilot.press("slash", *"putitem", "enter")
        await pilot.pause()
        assert len(waterfall.matches) == 1
        assert "PutItem" in static_text(detail_body)
        assert app.focused is waterfall

        # mouse: clicking a row selects it
        await pilot.click(Waterfall, offset=(10, 2))
        await pilot.pause()
        assert waterfall.cursor == 1

        # d hides the detail, Esc goes back
        await pilot.press("d")
        assert not screen.query_one(SpanDetail).display
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, TracesScreen)


async def test_screens_switch_by_number_and_help_and_quit(sample_db: Path) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for key, kind in (("1", ServiceMapScreen), ("3", HotspotsScreen), ("4", ChainsScreen), ("5", CompareScreen)):
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, kind), key
        await pilot.press("escape", "2")  # Compare starts in its window input: Esc leaves it
        await settle(pilot)
        assert isinstance(app.screen, TracesScreen)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, TracesScreen)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_command_palette_switches_screens(sample_db: Path) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"hotspots screen")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, HotspotsScreen)


async def test_service_map_node_and_edge_open_their_traces(sample_db: Path) -> None:
    async with on_screen(sample_db, ServiceMapScreen, start="map") as (app, pilot, screen):
        nodes = screen.query_one("#map-nodes", NavTable)
        names = [row[0] for row in table_text(nodes)]
        assert "● payments" in names and "○ client" in names
        payments = table_text(nodes)[names.index("● payments")]
        assert payments[5] == "20.0%"  # 4 faults in 20 checkouts
        nodes.move_cursor(row=names.index("● payments"))
        await pilot.press("enter")
        await settle(pilot)
        traces = app.screen
        assert isinstance(traces, TracesScreen)
        assert traces.expression == 'service(id(name: "payments", type: "AWS::Lambda::Function"))'
        assert traces.table.row_count == 20

        await pilot.press("1")
        await settle(pilot)
        edges = app.screen.query_one("#map-edges", NavTable)
        labels = [(row[0], row[1]) for row in table_text(edges)]
        edges.focus()
        edges.move_cursor(row=labels.index(("orders", "→ DynamoDB")))
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.expression.startswith('edge("orders", id(name: "DynamoDB"')
        assert app.screen.table.row_count == 20


async def test_hotspots_and_chains_and_compare(sample_db: Path) -> None:
    app = make_app(sample_db, start="hotspots")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        hot = table_text(app.screen.query_one(NavTable))
        assert ["payments", "charge card"] in [row[:2] for row in hot[:3]]

        await pilot.press("4")
        await settle(pilot)
        chains = app.screen
        assert isinstance(chains, ChainsScreen)
        rows = table_text(chains.query_one("#chains-table", NavTable))
        assert rows[0][1] == "payments: charge card"
        await pilot.press("enter")
        await settle(pilot)
        listed = chains.query_one("#chain-traces", NavTable)
        assert listed.row_count == 4 and app.focused is listed
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TraceScreen)
        await pilot.press("escape", "5")
        await settle(pilot)

        compare = app.screen
        assert isinstance(compare, CompareScreen)
        growth = table_text(compare.query_one("#compare-growth", NavTable))
        assert "charge card" in [row[1] for row in growth]  # payments slows down in the incident
        status = static_text(compare.query_one("#compare-status", Static))
        assert "baseline 12 traces, incident 13 traces" in status
        baseline = compare.query_one("#baseline-window", Input)
        baseline.value = "yesterday .. now"
        baseline.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert "cannot read time" in static_text(compare.query_one("#compare-status", Static))


async def test_big_trace_is_one_virtual_widget(tmp_path: Path) -> None:
    """A 12,000-span trace opens, scrolls to its end and folds without making a widget per span."""
    tid = "6b016ba0" + "ab" * 12
    spans = [Span(tid, f"{1:016x}", None, "driver", "job", Kind.SERVER, 1, 12_000_000_000)]
    for i in range(2, 12_001):
        parent = 1 if i % 100 == 2 else i - 1  # chains of 100 under the root: deep and wide
        span = Span(tid, f"{i:016x}", f"{parent:016x}", "exec", f"task {i}", start_ns=i * 1000, end_ns=i * 1000 + 500)
        spans.append(span)
    db = tmp_path / "big.db"
    with open_store(db) as store:
        store.write_spans(spans)
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_trace(tid)
        await settle(pilot)
        waterfall = app.screen.query_one(Waterfall)
        assert len(waterfall.shown_rows) == 12_000
        assert len(list(app.screen.query("*"))) < 50
        await pilot.press("G")
        await pilot.pause()
        assert waterfall.cursor == 11_999
        assert "task 12000" in static_text(app.screen.query_one("#span-detail-body", Static))
        await pilot.press("g", "j", "enter")  # fold the first chain of 100
        assert len(waterfall.shown_rows) == 12_000 - 99


async def test_missing_trace_shows_an_error_in_the_app(sample_db: Path) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_trace("1-6b016ba0-000000000000000000000001")
        await settle(pilot)
        assert "not in the store" in static_text(app.screen.query_one("#trace-header", Static))


async def test_big_sample_trace_opens(sample_db: Path) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_trace(BIG_TRACE_ID)
        await settle(pilot)
        assert len(app.screen.query_one(Waterfall).shown_rows) == 400


def test_scan_pages_through_ties_and_stops_at_the_limit(tmp_path: Path) -> None:
    """The filtered scan walks newest first in growing pages, across many traces sharing one start time."""
    from spanscope.tui.data import StoreSource

    spans = []
    for k in range(300):
        tid = f"6b016ba0{k:024x}"
        start = 1_000 if k < 150 else 2_000 + k  # 150 traces share one start time
        spans.append(Span(tid, "a" * 16, None, "svc", f"op {k}", Kind.SERVER, start, start + 10))
    db = tmp_path / "ties.db"
    with open_store(db) as store:
        store.write_spans(spans)
    source = StoreSource(db)
    try:
        batches = list(source.scan(lambda t: True, limit=1000, first_batch=7, batch=20))
        seen = [s.trace_id for b in batches for s in b.matches]
        assert len(seen) == len(set(seen)) == 300 and batches[-1].done
        assert len(batches[0].matches) == 7
        limited = [s for b in source.scan(lambda t: int(t.trace_id, 16) % 2 == 0, limit=25) for s in b.matches]
        assert len(limited) == 25
    finally:
        source.close()


async def test_an_empty_store_shows_every_screen(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    open_store(db).close()
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.table.row_count == 0
        for key in "12345":
            await pilot.press(key)
            await settle(pilot)
        assert "the store is empty" in static_text(app.screen.query_one("#compare-status", Static))


async def test_store_errors_are_shown_in_the_app(tmp_path: Path) -> None:
    """A store that vanished under the app: every screen reports it and the app keeps running."""
    app = make_app(tmp_path / "gone.db", start="map")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for key in "2345":
            await pilot.press(key)
            await settle(pilot)
        messages = [n.message for n in app._notifications]
        assert messages and all("does not exist" in m for m in messages)
        assert app.is_running


async def test_selecting_a_map_node_uncovers_the_traces_screen(sample_db: Path) -> None:
    """A trace left open on the Traces screen does not hide the traces a map node asks for."""
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TraceScreen)
        await pilot.press("1")
        await settle(pilot)
        app.show_traces('service("orders")')
        await settle(pilot)
        assert isinstance(app.screen, TracesScreen)
        assert app.screen.expression == 'service("orders")' and app.screen.table.row_count == 20
