"""The lists: full trace ids on the Traces screen; the Chains screen lists a chain's traces as it is highlighted;
the filter box hands expressions to the filter language unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from spanscope.cli.main import main
from spanscope.tui.screens.chains import ChainsScreen
from spanscope.tui.screens.traces import TracesScreen
from spanscope.tui.widgets.nav_table import NavTable
from textual.widgets import Static

from tests.fixtures.tui.sample_store import trace_id
from tests.tui.conftest import on_screen, settle
from tests.tui.test_app import static_text, table_text


async def test_traces_list_shows_the_full_trace_id(sample_db: Path) -> None:
    async with on_screen(sample_db, TracesScreen) as (app, _pilot, _screen):
        svg = app.export_screenshot().replace("&#160;", " ")
        for n in (1, 13, 24):
            assert trace_id(n) in svg, trace_id(n)


async def test_chains_list_their_traces_as_soon_as_highlighted(sample_db: Path) -> None:
    async with on_screen(sample_db, ChainsScreen, start="chains") as (app, pilot, screen):
        chains = screen.query_one("#chains-table", NavTable)
        listed = screen.query_one("#chain-traces", NavTable)
        assert len(screen.chains) >= 2
        # no Enter: the first chain's traces are there, and the cursor stays on the chains
        assert {row[-1] for row in table_text(listed)} == set(screen.chains[0].trace_ids)
        assert app.focused is chains
        await pilot.press("j")
        await settle(pilot)
        assert {row[-1] for row in table_text(listed)} == set(screen.chains[1].trace_ids)
        assert app.focused is chains
        await pilot.press("enter")
        await settle(pilot)
        assert app.focused is listed


@pytest.mark.parametrize(
    "expression",
    [
        'annotation.customer = "c3"',
        'service("payments") { fault }',
        'attribute.customer.tier = "gold"',
        "attribute.http.response.status_code >= 500",
        "responsetime > 0.3 AND NOT throttle",
    ],
)
async def test_the_filter_box_passes_expressions_through_unchanged(
    sample_db: Path, capsys: pytest.CaptureFixture[str], expression: str
) -> None:
    """Whatever `traces --filter` makes of an expression (matches or a syntax error), the filter box makes too."""
    code = main(["traces", "--db", str(sample_db), "--filter", expression, "--json"])
    captured = capsys.readouterr()
    async with on_screen(sample_db, TracesScreen) as (_app, pilot, screen):
        await pilot.press("slash", *expression, "enter")
        await settle(pilot)
        error = static_text(screen.query_one("#filter-error", Static))
        if code == 0:
            expected = sorted(t["trace_id"] for t in json.loads(captured.out))
            assert sorted(row[5] for row in table_text(screen.table)) == expected and not error.strip()
            assert screen.expression == expression
        else:
            assert error.strip(), captured.err
