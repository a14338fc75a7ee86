"""`spanscope map` end to end on a real SQLite store: formats, window, filter, baseline, grouping, errors."""

from __future__ import annotations

import json

import pytest
from spanscope.cli.main import main
from spanscope.collectors.conventions import ORIGIN_LAMBDA
from spanscope.collectors.model import Kind, Status
from spanscope.collectors.store import open_store

from tests.builders import BASE_NS, build_spans

HOUR_S = 3600


def write_window(db, *, offset_s: int, n: int, fail_every: int = 0, prefix: str, remote: str = "DynamoDB"):
    spans = []
    for i in range(n):
        status = Status.FAULT if fail_every and i % fail_every == 0 else Status.OK
        rows = [
            ("root", None, 0, 100, {"service": "api", "origin": ORIGIN_LAMBDA, "kind": Kind.SERVER, "status": status,
                                    "resource": {"cloud.region": "us-east-1"}, "annotations": {"tier": "gold"}}),
            ("call", "root", 10, 30, {"service": "api", "kind": Kind.CLIENT, "namespace": "aws",
                                      "remote_service": remote}),
        ]  # fmt: skip
        for span in build_spans(rows, trace=f"{prefix}{i}"):
            span.start_ns += offset_s * 1_000_000_000
            span.end_ns += offset_s * 1_000_000_000
            spans.append(span)
    with open_store(db) as store:
        store.write_spans(spans)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "spans.db"
    write_window(path, offset_s=0, n=40, fail_every=20, prefix="old", remote="DynamoDB")  # baseline hour
    write_window(path, offset_s=2 * HOUR_S, n=40, fail_every=2, prefix="new", remote="S3")  # current hour
    return path


def t(offset_s: int) -> str:
    return str(BASE_NS // 1_000_000_000 + offset_s)


def test_text_is_the_default(db, capsys):
    assert main(["map", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("service map: ")
    assert "api [AWS::Lambda::Function]  (root)" in out and "80 req" in out


def test_json_window_has_get_service_graph_shape(db, capsys):
    assert main(["map", "--db", str(db), "--format", "json", "--since", t(HOUR_S), "--until", t(3 * HOUR_S)]) == 0
    doc = json.loads(capsys.readouterr().out)
    names = {s["Name"] for s in doc["Services"]}
    assert names == {"client", "api", "S3"}  # only the current hour
    assert doc["StartTime"] == float(t(HOUR_S)) and doc["EndTime"] == float(t(3 * HOUR_S))
    api = next(s for s in doc["Services"] if s["Name"] == "api")
    assert api["SummaryStatistics"]["TotalCount"] == 40
    assert api["SummaryStatistics"]["FaultStatistics"]["TotalCount"] == 20


def test_filter_expression_selects_traces(db, capsys):
    assert main(["map", "--db", str(db), "--format", "json", "--filter", "fault"]) == 0
    doc = json.loads(capsys.readouterr().out)
    api = next(s for s in doc["Services"] if s["Name"] == "api")
    assert api["SummaryStatistics"]["TotalCount"] == api["SummaryStatistics"]["FaultStatistics"]["TotalCount"] == 22


def test_bad_filter_is_one_line_and_exit_2(db, capsys):
    assert main(["map", "--db", str(db), "--filter", "service(("]) == 2
    err = capsys.readouterr().err
    assert err.startswith("spanscope map: ") and err.count("\n") == 1


def test_baseline_comparison_in_text_and_json(db, capsys):
    window = ["--since", t(HOUR_S), "--until", t(3 * HOUR_S), "--baseline-since", t(-60), "--baseline-until", t(60)]
    assert main(["map", "--db", str(db), *window]) == 0
    text = capsys.readouterr().out
    assert "CHANGES vs baseline" in text
    assert "node appeared: S3 [AWS::S3::Bucket]" in text and "node disappeared: DynamoDB" in text
    assert "failure rate 5.0% -> 50.0%: api [AWS::Lambda::Function]" in text
    assert main(["map", "--db", str(db), "--format", "json", *window]) == 0
    doc = json.loads(capsys.readouterr().out)
    changes = doc["Comparison"]["Changes"]
    assert {c["change"] for c in changes} >= {"node_appeared", "node_disappeared", "failure_rate"}
    rate = next(c for c in changes if c["change"] == "failure_rate" and "node" in c)
    assert rate["baseline"] == pytest.approx(0.05) and rate["current"] == pytest.approx(0.5) and rate["z"] > 3


@pytest.mark.parametrize("fmt", ["dot", "mermaid"])
def test_graph_formats_with_location_groups(db, capsys, fmt):
    assert main(["map", "--db", str(db), "--format", fmt, "--group-by", "location"]) == 0
    out = capsys.readouterr().out
    assert "region us-east-1" in out
    assert ("subgraph cluster_" in out) if fmt == "dot" else ("subgraph g" in out)


def test_baseline_options_go_together(db, capsys):
    assert main(["map", "--db", str(db), "--baseline-since", "2h"]) == 2
    assert "--baseline-since and --baseline-until go together" in capsys.readouterr().err


def test_empty_and_missing_store(tmp_path, capsys):
    open_store(tmp_path / "empty.db").close()
    assert main(["map", "--db", str(tmp_path / "empty.db"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["Services"] == []
    assert main(["map", "--db", str(tmp_path / "missing.db")]) == 1
    assert capsys.readouterr().err.count("\n") == 1
