"""The command line's first-hour fixes: --version, diff, 16-hex ids, match counts, export -, import and demo counts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from spanscope.cli.main import main
from spanscope.collectors.model import Kind, Status
from spanscope.collectors.store import open_store

from tests.builders import build_spans, trace_id_for

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def seed(path: Path) -> tuple[str, str]:
    """Two checkouts: B's DynamoDB call is 200 ms slower, its payment faults and its cache call is gone."""

    def rows(db_ms: int, *, fault: bool, cache: bool) -> list[tuple[object, ...]]:
        out: list[tuple[object, ...]] = [
            ("root", None, 0, 50 + db_ms, {"service": "api", "operation": "POST /checkout", "kind": Kind.SERVER}),
            ("db", "root", 5, 5 + db_ms, {"service": "orders", "operation": "PutItem", "kind": Kind.CLIENT}),
            (
                "pay",
                "root",
                10 + db_ms,
                40 + db_ms,
                {"service": "payments", "status": Status.FAULT if fault else Status.OK},
            ),
        ]
        if cache:
            out.append(("cache", "root", 1, 4, {"service": "api", "operation": "cache get"}))
        return out

    spans = build_spans(rows(20, fault=False, cache=True), trace="fast") + build_spans(
        rows(220, fault=True, cache=False), trace="slow"
    )
    with open_store(path) as store:
        store.write_spans(spans)
    return trace_id_for("fast"), trace_id_for("slow")


def test_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "spanscope.cli.main", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("spanscope ") and out.stdout.split()[1][0].isdigit()


def test_diff_text_ranks_the_slower_call_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "s.db"
    fast, slow = seed(db)
    assert main(["diff", "--db", str(db), fast, slow]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "end-to-end +200.0ms (+286%)" in lines[2]
    assert "1 missing" in lines[2] and "1 failed" in lines[2]
    table = lines[lines.index("") + 2 :]
    assert table[0].split()[:2] == ["+200.0ms", "slower"] and table[0].endswith("POST /checkout › orders PutItem")
    assert any("missing" in row and "cache get" in row for row in table)
    assert any("failed" in row and "fault" in row and "payments pay" in row for row in table)


def test_diff_json_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "s.db"
    fast, slow = seed(db)
    xray_fast = f"1-{fast[:8]}-{fast[8:]}"
    assert main(["diff", "--db", str(db), xray_fast, slow, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"trace_a", "trace_b", "duration_a", "duration_b", "delta", "counts", "nodes"} <= set(doc)
    assert doc["trace_a"] == fast and doc["delta"] == pytest.approx(0.2)
    first = doc["nodes"][0]
    assert (first["service"], first["operation"], first["change"]) == ("orders", "PutItem", "slower")
    assert first["contribution"] == pytest.approx(0.2)
    assert first["path"] == [
        {"service": "api", "operation": "POST /checkout"},
        {"service": "orders", "operation": "PutItem"},
    ]
    assert first["a"]["count"] == 1 and first["b"]["duration"] == pytest.approx(0.22)
    cache = next(n for n in doc["nodes"] if n["operation"] == "cache get")
    assert cache["change"] == "missing" and cache["b"]["status"] is None and cache["b"]["count"] == 0
    assert sum(n["contribution"] for n in doc["nodes"]) == pytest.approx(doc["delta"])
    assert doc["critical_path_delta"] == pytest.approx(doc["delta"])  # all synchronous: nothing outside


def test_diff_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "s.db"
    fast, _slow = seed(db)
    assert main(["diff", "--db", str(db), fast, trace_id_for("absent")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("spanscope diff: trace ") and err.count("\n") == 1


def test_show_takes_a_64_bit_zipkin_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "z.db"
    assert main(["import", "--db", str(db), str(FIXTURES / "zipkin" / "simple-db-p6.json")]) == 0
    capsys.readouterr()
    assert main(["show", "--db", str(db), "19f84f102048e047", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["trace_id"] == "000000000000000019f84f102048e047" and doc["spans"]
    assert main(["show", "--db", str(db), "19F84F102048E047"]) == 0  # case and form as other tools print it


def test_traces_filter_prints_how_many_matched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "s.db"
    seed(db)
    assert main(["traces", "--db", str(db), "--filter", "responsetime > 0.1"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 of 2 traces in the window matched the filter"
    assert main(["traces", "--db", str(db), "--filter", "responsetime >= 0", "--limit", "1"]) == 0
    assert (
        capsys.readouterr().out.splitlines()[-1]
        == "2 of 2 traces in the window matched the filter (1 shown; --limit N for more)"
    )
    assert main(["traces", "--db", str(db), "--filter", "responsetime > 0.1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)  # the JSON stays a plain list
    assert isinstance(doc, list) and len(doc) == 1


def test_export_dash_writes_otlp_json_to_stdout_and_parquet_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "s.db"
    seed(db)
    monkeypatch.chdir(tmp_path)
    assert main(["export", "--db", str(db), "--format", "parquet", "-"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "only with --format otlp-json" in err
    out = subprocess.run(
        [sys.executable, "-m", "spanscope.cli.main", "export", "--db", str(db), "--format", "otlp-json", "-"],
        capture_output=True,
        cwd=tmp_path,
        check=True,
    )
    lines = out.stdout.decode().splitlines()
    spans = [
        s for line in lines for r in json.loads(line)["resourceSpans"] for ss in r["scopeSpans"] for s in ss["spans"]
    ]
    assert len(spans) == 7
    assert b"exported 2 traces (7 spans) to stdout" in out.stderr
    assert not (tmp_path / "-").exists()


def test_import_counts_spans_repeated_inside_one_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = json.loads((FIXTURES / "zipkin" / "simple-db-p6.json").read_text())
    doubled = tmp_path / "doubled.json"
    doubled.write_text(json.dumps(records + records[:1]))
    assert main(["import", "--db", str(tmp_path / "i.db"), str(doubled)]) == 0
    total = capsys.readouterr().out.splitlines()[-1]
    read = len(records) + 1
    assert total.startswith(f"imported {read} spans from 1 file(s): {len(records)} new, 0 replaced, 0 already stored")
    assert ", 1 repeated in the input (kept once);" in total


def test_demo_summary_counts_map_nodes_as_map_does(tmp_path: Path) -> None:
    from spanscope.analysis import build_report
    from spanscope.cli.cmd_demo import render
    from spanscope.collectors.service_map import build_service_map
    from spanscope.render.map_text import render_map_text

    db = tmp_path / "s.db"
    seed(db)
    with open_store(db) as store:
        traces = list(store.iter_traces())
    graph = build_service_map(traces)
    assert any(data["kind"] == "client" for _key, data in graph.nodes(data=True))  # the case that differed
    demo_line = render(build_report(traces, service_map=graph), [], top=5)[0]
    map_line = render_map_text(graph).splitlines()[0]
    assert demo_line.split(":")[1].split(",")[0].strip() == map_line.split(":")[1].split(",")[0].strip()
