"""The command line's contract: help, --db, time forms, `traces` text and JSON, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from spanscope.cli.main import COMMANDS, main
from spanscope.collectors.model import Kind, Status
from spanscope.collectors.store import open_store
from spanscope.render.units import TimeSyntaxError, parse_time

from tests.builders import SUMMARY_JSON_KEYS, build_spans


def _seed(path: Path) -> None:
    spans = build_spans(
        [
            ("root", None, 0, 120, {"service": "api", "operation": "GET /orders", "kind": Kind.SERVER}),
            ("q", "root", 10, 50, {"service": "orders", "status": Status.FAULT}),
        ],
        trace="one",
    ) + build_spans([("r2", None, 5000, 5010, {"service": "api", "operation": "GET /health"})], trace="two")
    with open_store(path) as store:
        store.write_spans(spans)


def test_help_lists_every_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "spanscope.cli.main", "--help"], capture_output=True, text=True, check=True
    )
    for name in COMMANDS:
        assert name in result.stdout


def test_traces_json_keys_newest_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "s.db"
    _seed(db)
    assert main(["traces", "--db", str(db), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [d["root_name"] for d in doc] == ["GET /health", "GET /orders"]
    assert set(doc[1]) >= SUMMARY_JSON_KEYS
    assert doc[1]["fault"] is True and doc[1]["span_count"] == 2 and doc[1]["duration"] == pytest.approx(0.12)


def test_traces_text_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "s.db"
    _seed(db)
    assert main(["traces", "--db", str(db), "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert "GET /health" in out and "GET /orders" not in out and "1 trace shown of 2" in out


def test_traces_env_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "env.db"
    _seed(db)
    monkeypatch.setenv("SPANSCOPE_DB", str(db))
    assert main(["traces", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2


def test_missing_store_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["traces", "--db", str(tmp_path / "nope.db")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err


def test_bad_time_is_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "s.db"
    _seed(db)
    assert main(["traces", "--db", str(db), "--since", "yesterday-ish"]) == 2
    assert "cannot read time" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-21T10:00:00Z", 1_795_255_200_000_000_000),
        ("2026-11-21T10:00:00+00:00", 1_795_255_200_000_000_000),
        ("2026-11-21T11:00:00+01:00", 1_795_255_200_000_000_000),
        ("2026-11-21T10:00:00.250Z", 1_795_255_200_250_000_000),
        ("1795255200", 1_795_255_200_000_000_000),
        ("1795255200.5", 1_795_255_200_500_000_000),
        ("15m", 1_795_254_300_000_000_000),
        ("2h", 1_795_248_000_000_000_000),
        ("1d ago", 1_795_168_800_000_000_000),
        ("30s", 1_795_255_170_000_000_000),
    ],
)
def test_time_forms(text: str, expected: int) -> None:
    assert parse_time(text, now_s=1_795_255_200.0) == expected


@pytest.mark.parametrize("bad", ["", "soon", "15x", "2026-13-01"])
def test_bad_time_forms(bad: str) -> None:
    with pytest.raises(TimeSyntaxError):
        parse_time(bad)


def test_traces_filter_expression(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "s.db"
    _seed(db)
    assert main(["traces", "--db", str(db), "--json", "--filter", 'service("orders") { fault }']) == 0
    assert [d["root_name"] for d in json.loads(capsys.readouterr().out)] == ["GET /orders"]
    assert main(["traces", "--db", str(db), "--json", "--filter", "responsetime < 0.05"]) == 0
    assert [d["root_name"] for d in json.loads(capsys.readouterr().out)] == ["GET /health"]


def test_traces_filter_syntax_error_names_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "s.db"
    _seed(db)
    assert main(["traces", "--db", str(db), "--filter", "responsetime >"]) == 2
    err = capsys.readouterr().err
    assert "column 15" in err and err.count("\n") == 1


def test_json_output_escapes_terminal_controls(capsys: pytest.CaptureFixture[str]) -> None:
    from spanscope.cli.common import print_json

    value = "a\x9b31m\u202eb\x1b]0;t\x07\u2066c"
    print_json({"name": value})
    out = capsys.readouterr().out
    assert json.loads(out) == {"name": value}
    for bad in ("\x9b", "\u202e", "\x1b", "\x07", "\u2066"):
        assert bad not in out
