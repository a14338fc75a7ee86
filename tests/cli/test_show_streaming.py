"""`show --json` and `show` are written a span at a time (issue 15, item 6: a million-span trace took 3.5 GB).

The streamed JSON is byte for byte the document ``trace_to_json`` builds whole, and the text the same
waterfall; peak memory is measured by ``benchmarks/bench_big_trace`` (figures in the README).
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout

import orjson
import pytest
from spanscope.analysis import critical_path, failure_roles
from spanscope.cli.common import print_json, print_json_chunks
from spanscope.collectors.model import Status, Trace
from spanscope.render.trace_json import iter_trace_json, trace_to_json
from spanscope.render.waterfall_text import iter_waterfall, render_waterfall

from tests.builders import build_spans

HOSTILE = "evil\x1b[31m\u202e\x9b2J"


def _traces() -> list[Trace]:
    rows = [
        ("root", None, 0, 100, {"service": "api", "attributes": {"nan": float("nan"), "nested": [[1], [2.5]]}}),
        ("a", "root", 5, 60, {"service": HOSTILE, "status": Status.FAULT}),
        ("b", "a", 10, 20, {"service": "db", "attributes": {"k": HOSTILE}}),
        ("orphan", "missing", 30, 40, {"service": "q"}),
    ]
    many = [(f"s{i}", "s0" if i else None, i, i + 50, {"service": f"svc{i % 3}"}) for i in range(300)]
    single = [("only", None, 0, 1, {"service": "one"})]
    dup = build_spans(rows[:2])
    return [
        Trace(build_spans(rows)[0].trace_id, build_spans(rows)),
        Trace(build_spans(many)[0].trace_id, build_spans(many)),
        Trace(build_spans(single)[0].trace_id, build_spans(single)),
        Trace(dup[0].trace_id, dup + build_spans(rows[:1])),  # a duplicated record
    ]


@pytest.mark.parametrize("index", range(4))
def test_streamed_json_is_the_whole_document_byte_for_byte_in_pieces(index: int) -> None:
    trace = _traces()[index]
    path, roles = critical_path(trace), failure_roles(trace)
    whole, streamed = io.StringIO(), io.StringIO()
    with redirect_stdout(whole):
        print_json(trace_to_json(trace, path, roles))
    chunks = list(iter_trace_json(trace, path, roles))
    with redirect_stdout(streamed):
        print_json_chunks(chunks)
    assert streamed.getvalue() == whole.getvalue()
    assert len(chunks) == len(trace.spans) + 3  # head, one per span record, closing bracket, tail
    assert orjson.loads(streamed.getvalue())["trace_id"] == trace.trace_id


@pytest.mark.parametrize("index", range(4))
def test_waterfall_lines_are_the_whole_waterfall(index: int) -> None:
    trace = _traces()[index]
    path, roles = critical_path(trace), failure_roles(trace)
    lines = list(iter_waterfall(trace, path, roles, width=30))
    assert "".join(lines) == render_waterfall(trace, path, roles, width=30)
    assert len(lines) == len(trace.spans) - len(trace.duplicates) + 3
    assert all(line.endswith("\n") and "\n" not in line[:-1] for line in lines)
    assert "\x1b" not in "".join(lines)
