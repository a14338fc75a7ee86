"""`spanscope show`: waterfall text and the JSON contract, both id forms, unknown ids, hostile text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from spanscope.cli.main import main
from spanscope.collectors.model import Kind, Status, xray_trace_id
from spanscope.collectors.store import open_store

from tests.builders import build_spans, span_id_for, trace_id_for

HOSTILE = "evil\x1b[31m\x1b]8;;http://x\x07[bold]link[/]\u202e\x9b2J"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "s.db"
    spans = build_spans(
        [
            (
                "root",
                None,
                0,
                120,
                {"service": "api", "operation": "GET /orders", "kind": Kind.SERVER, "status": Status.FAULT},
            ),
            ("q", "root", 10, 50, {"service": "orders", "status": Status.FAULT}),
            (
                "c",
                "q",
                12,
                30,
                {
                    "service": "orders",
                    "kind": Kind.CLIENT,
                    "status": Status.THROTTLE,
                    "namespace": "aws",
                    "remote_service": "DynamoDB",
                },
            ),
            ("w", "root", 55, 110, {"service": HOSTILE, "operation": HOSTILE, "attributes": {"k": HOSTILE}}),
        ]
    )
    with open_store(path) as store:
        store.write_spans(spans)
    return path


def test_show_json_contract(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "--db", str(db), trace_id_for("t"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["trace_id"] == trace_id_for("t")
    span_keys = {
        "span_id",
        "parent_id",
        "service",
        "name",
        "kind",
        "start",
        "end",
        "status",
        "origin",
        "attributes",
        "failure_role",
    }
    assert all(span_keys <= set(s) for s in doc["spans"])
    roles = {s["span_id"]: s["failure_role"] for s in doc["spans"]}
    assert roles[span_id_for("c")] == "origin"
    assert roles[span_id_for("q")] == "propagated"
    assert roles[span_id_for("root")] == "propagated"
    assert roles[span_id_for("w")] is None
    path_ids = [seg["span_id"] for seg in doc["critical_path"]]
    assert path_ids[0] == span_id_for("root") and span_id_for("c") in path_ids and span_id_for("w") in path_ids
    assert all({"span_id", "start", "end"} <= set(seg) for seg in doc["critical_path"])


def test_show_accepts_xray_form_and_prints_waterfall(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "--db", str(db), xray_trace_id(trace_id_for("t")), "--width", "30"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("trace 1-")
    assert any(line.startswith("*   orders: q") for line in lines)
    assert "✗ origin" in out and "THROTTLE" in out and "█" in out


def test_show_text_is_inert(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["show", "--db", str(db), trace_id_for("t")])
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x9b" not in out and "\u202e" not in out and "\x07" not in out
    assert "[bold]link[/]" in out


def test_show_unknown_id(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "--db", str(db), trace_id_for("absent")]) == 1
    assert "not in the store" in capsys.readouterr().err


def test_show_malformed_id(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "--db", str(db), "1-nope"]) == 1
    err = capsys.readouterr().err
    assert "invalid trace id '1-nope'" in err and err.count("\n") == 1


def test_show_strict_tolerance_option(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "--db", str(db), trace_id_for("t"), "--cp-tolerance", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["critical_path"]
    assert main(["show", "--db", str(db), trace_id_for("t"), "--cp-tolerance", "2"]) == 2
