"""Hostile data end to end: cycles, 100,000-deep chains, 100,000-child fan-outs, duplicate ids, negative
durations and huge attributes go through the store, every analyzer, the service map and every text output
without recursion, crashes or terminal escapes (issue 9, items 7 and 8)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from spanscope.analysis.report import build_report
from spanscope.cli.main import main
from spanscope.collectors.model import Kind, Span, Status, Trace
from spanscope.collectors.service_map import build_service_map
from spanscope.collectors.store import open_store

from tests.builders import BASE_NS, build_spans, chain, make_span, trace_id_for

HOSTILE = "x\x1b[2J\x1b]0;pwned\x07\x1b]8;;http://evil\x1b\\[bold red]boom[/]\u202e\u2066\x9b31m\x85\x00end"
BAD_BYTES = ("\x1b", "\x07", "\x9b", "\x85", "\x00", "\u202e", "\u2066")


def _fanout(children: int) -> list[Span]:
    tid = trace_id_for("fanout")
    root = Span(tid, "f" * 16, None, "batch", "array-job", Kind.SERVER, BASE_NS, BASE_NS + 10**9)
    return [root] + [
        Span(tid, f"{i + 1:016x}", "f" * 16, "batch", "task", Kind.INTERNAL, BASE_NS + i, BASE_NS + i + 1000 + i % 97)
        for i in range(children)
    ]


def _oddities() -> list[Span]:
    spans = [
        make_span("a", "c", 5, 9, trace="odd", service=HOSTILE, operation=HOSTILE, status=Status.FAULT),
        make_span("b", "a", 6, 8, trace="odd"),
        make_span("c", "b", 1, 10, trace="odd"),  # a parent cycle a -> c -> b -> a
        make_span("d", None, 20, 10, trace="odd", attributes={"huge": "y" * 1_000_000, HOSTILE: HOSTILE}),
        make_span("d", None, 0, 0, trace="odd"),  # a duplicate id with a zero timestamp
        make_span("e", "ghost", 0, 0, trace="odd", annotations={"k": HOSTILE}),
    ]
    return spans


def _fill(db: Path, size: int) -> None:
    with open_store(db) as store:
        store.write_spans(chain(size))
        store.write_spans(_fanout(size))
        store.write_spans(_oddities())
        store.write_spans(build_spans([("ok", None, 0, 5, {"service": HOSTILE})], trace="plain"))


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("hostile") / "s.db"
    _fill(db, 3_000)
    return db


def test_analyzers_and_map_terminate_without_recursion(tmp_path: Path) -> None:
    db = tmp_path / "big.db"
    _fill(db, 100_000)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        with open_store(db, readonly=True) as store:
            traces = list(store.iter_traces())
        report = build_report(iter(traces), service_map=False)
        graph = build_service_map(traces)
    finally:
        sys.setrecursionlimit(limit)
    assert report.traces == 4
    assert report.spans >= 200_000
    assert graph.number_of_nodes() > 0
    odd = next(t for t in traces if t.trace_id == trace_id_for("odd"))
    assert odd.cycle_breaks and odd.missing_parent


@pytest.mark.parametrize(
    "argv",
    [
        ["traces"],
        ["show", trace_id_for("odd")],
        ["show", trace_id_for("plain")],
        ["map"],
        ["analyze"],
    ],
)
def test_text_outputs_are_inert(hostile_db: Path, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([argv[0], "--db", str(hostile_db), *argv[1:]]) == 0
    out = capsys.readouterr().out
    for bad in BAD_BYTES:
        assert bad not in out, f"{argv[0]} printed {bad!r}"
    if argv[0] in ("traces", "show"):
        assert "[bold red]boom[/]" in out  # markup stays literal


def test_json_outputs_escape_not_strip(hostile_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """JSON keeps the data exactly (escaped by the encoder), for scripts."""
    assert main(["show", "--db", str(hostile_db), trace_id_for("odd"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert any(s["name"] == HOSTILE for s in doc["spans"])


def test_deep_trace_show_and_json(hostile_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "--db", str(hostile_db), trace_id_for("deep"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["spans"]) == 3_000 and doc["critical_path"]


def test_trace_object_on_hostile_input_directly() -> None:
    spans = _oddities()
    trace = Trace(spans[0].trace_id, spans)
    assert len(list(trace.preorder())) == len(spans) - len(trace.duplicates)
