"""`spanscope analyze` end to end against a real SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from spanscope.cli.main import main
from spanscope.collectors.model import Kind, Status
from spanscope.collectors.store import open_store

from tests.builders import BASE_NS, build_spans

S = 1_000_000_000 // 1_000_000  # ms per second in builder units


def spans_at(label: str, offset_ms: float, db_ms: float, *, fault: bool = False):
    status = Status.FAULT if fault else Status.OK
    return build_spans(
        [
            (
                "root",
                None,
                offset_ms,
                offset_ms + 20 + db_ms,
                {
                    "service": "api",
                    "operation": "GET /",
                    "kind": Kind.SERVER,
                    "status": status,
                    "annotations": {"tier": "gold" if fault else "free"},
                },
            ),
            (
                "db",
                "root",
                offset_ms + 10,
                offset_ms + 10 + db_ms,
                {
                    "service": "api",
                    "operation": "Query",
                    "kind": Kind.CLIENT,
                    "status": status,
                    "namespace": "aws",
                    "remote_service": "DynamoDB",
                },
            ),
        ],
        trace=label,
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "s.db"
    spans = []
    for i in range(10):  # baseline hour: fast
        spans += spans_at(f"b{i}", i * 1000, 20)
    for i in range(10):  # incident hour: slow, half faulting
        spans += spans_at(f"c{i}", 3_600_000 + i * 1000, 400, fault=i % 2 == 0)
    with open_store(path) as store:
        store.write_spans(spans)
    return path


def secs(ms: float) -> str:
    return str((BASE_NS + ms * 1_000_000) / 1e9)


def test_analyze_json(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "--db", str(db), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["traces"] == 20
    assert [k for k in ("hotspots", "failure_chains", "stragglers", "cold_starts") if k not in doc] == []
    assert doc["hotspots"][0]["operation"] == "Query"
    assert doc["failure_chains"][0]["count"] == 5


def test_analyze_filter_and_window(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["analyze", "--db", str(db), "--format", "json", "--filter", 'annotation.tier = "gold"']
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["traces"] == 5
    assert main(["analyze", "--db", str(db), "--format", "json", "--since", secs(3_000_000)]) == 0
    assert json.loads(capsys.readouterr().out)["traces"] == 10


def test_analyze_baseline_markdown(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "analyze",
        "--db",
        str(db),
        "--since",
        secs(3_000_000),
        "--baseline-since",
        secs(0),
        "--baseline-until",
        secs(100_000),
    ]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "## Compared with the baseline" in text and "10 baseline traces" in text
    assert "tier" in text and "gold" in text


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--filter", "responsetime >"], "column 15: expected a number"),
        (["--baseline-since", "1h"], "--baseline-since and --baseline-until go together"),
        (["--cp-tolerance", "-1"], "--cp-tolerance"),
    ],
)
def test_analyze_bad_input_is_one_line_and_non_zero(
    db: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert main(["analyze", "--db", str(db), *extra]) != 0
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_analyze_percentiles_flag(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = {}
    for mode in ("exact", "sketch", "auto"):
        assert main(["analyze", "--db", str(db), "--format", "json", "--percentiles", mode]) == 0
        docs[mode] = json.loads(capsys.readouterr().out)
    assert docs["auto"] == docs["exact"]  # a small store stays exact under auto
    exact = {(h["service"], h["operation"]): h for h in docs["exact"]["hotspots"]}
    for h in docs["sketch"]["hotspots"]:
        want = exact[(h["service"], h["operation"])]
        assert abs(h["p95_s"] - want["p95_s"]) <= 0.011 * want["p95_s"] + 1e-9
    with pytest.raises(SystemExit) as exit_info:
        main(["analyze", "--db", str(db), "--percentiles", "median"])
    assert exit_info.value.code != 0
