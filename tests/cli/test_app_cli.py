"""`spanscope tui` offline: a post-mortem store, or trace files imported into a temporary store; its errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from spanscope.cli.cmd_tui import prepare
from spanscope.cli.common import UsageError
from spanscope.cli.main import build_parser, main
from spanscope.tui.app import SpanscopeApp
from spanscope.tui.screens.trace import TraceScreen
from spanscope.tui.screens.traces import TracesScreen

from tests.tui.conftest import SIZE
from tests.tui.test_app import settle, table_text

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def args(*argv: str):
    return build_parser().parse_args(["tui", *argv])


async def test_trace_files_open_in_a_temporary_store(tmp_path: Path) -> None:
    files = [
        str(FIXTURES / "zipkin" / "simple-db-p6.json"),
        str(FIXTURES / "otlp_json" / "opentelemetry-proto-trace.json"),
    ]
    source, caption, live = prepare(args(*files), tmp_path)
    assert not live and "2 file(s)" in caption and "temporary store" in caption
    app = SpanscopeApp(source, live=live, subtitle="files")
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, TracesScreen)
            assert screen.table.row_count >= 2
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, TraceScreen)
            assert app.screen.rows is not None and len(app.screen.rows.order) >= 1
    finally:
        source.close()


async def test_post_mortem_store_opens_read_only(sample_db: Path, tmp_path: Path) -> None:
    source, caption, live = prepare(args("--db", str(sample_db), "--no-live", "--sample", "10"), tmp_path)
    assert caption == str(sample_db) and not live and source.sample_size == 10
    app = SpanscopeApp(source, live=live, start="map")
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            nodes = table_text(app.screen.query_one("#map-nodes"))
            assert any(row[0] == "● shop-api" for row in nodes)
            assert source.store().readonly
    finally:
        source.close()


def test_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tui", "--db", str(tmp_path / "missing.db")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("spanscope tui: ") and "does not exist" in err and err.count("\n") == 1
    not_json = tmp_path / "x.json"
    not_json.write_text("[]")
    with pytest.raises(UsageError, match="no spans"):
        prepare(args(str(not_json)), tmp_path)
    with pytest.raises(UsageError, match="either --db or trace files"):
        prepare(args("--db", "x.db", str(not_json)), tmp_path)
    assert main(["tui", "--sample", "0"]) == 2
