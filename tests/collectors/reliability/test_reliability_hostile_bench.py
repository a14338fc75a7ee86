"""The hostile-data benchmark's shapes are what they claim and go through every step with counted results (no timings).

Each shape at n and 4n: the store keeps one span per id, the report analyses every span given, the map walks every
stored span, and the map does not grow with the spans (the same nodes and edges at 4n when the services are the same).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from spanscope.analysis.report import build_report
from spanscope.collectors.model import Trace
from spanscope.collectors.service_map import build_service_map
from spanscope.collectors.store import open_store

from tests.load import HOSTILE_SHAPES, hostile_spans


def run_steps(shape: str, n: int, tmp: Path) -> dict[str, object]:
    """Write, read, report and map one shape, as ``benchmarks.bench_hostile`` times them; the counted results."""
    spans = hostile_spans(shape, n)
    with open_store(tmp / f"{shape}-{n}.db") as store:
        store.write_spans(spans)
        trace = store.get_trace(spans[0].trace_id)
    assert trace is not None
    stored = len(trace.spans)
    if shape == "duplicates":  # the store keeps one version; analyze the raw duplicates too
        trace = Trace(trace.trace_id, list(trace.spans) + hostile_spans(shape, n)[:stored])
    report = build_report([trace], service_map=False)
    graph = build_service_map([trace])
    return {
        "ids": len({s.span_id for s in spans}),
        "services": {s.service for s in spans},
        "names": {s.service for s in spans} | {s.name for s in spans},  # services and inferred calls
        "stored": stored,
        "analysed": len(trace.spans),
        "report_spans": report.spans,
        "map_spans": graph.graph["span_count"],
        "nodes": set(graph.nodes),
        "edges": set(graph.edges),
    }


@pytest.mark.parametrize("shape", HOSTILE_SHAPES)
def test_shape_runs_every_step(tmp_path: Path, shape: str) -> None:
    small, big = run_steps(shape, 400, tmp_path), run_steps(shape, 1600, tmp_path)
    for r in (small, big):
        assert r["stored"] == r["ids"] > 0, r["stored"]  # one span per id, none lost
        assert r["report_spans"] == r["analysed"] >= r["stored"]
        assert r["map_spans"] == r["stored"]
        assert r["nodes"] and {name for name, _type in r["nodes"]} - {"client"} <= r["names"]  # type: ignore[operator]
    assert big["stored"] == 4 * small["stored"]  # type: ignore[operator]
    if big["services"] == small["services"]:
        assert big["nodes"] == small["nodes"] and big["edges"] == small["edges"]


def test_shapes_are_hostile() -> None:
    n = 400
    make = hostile_spans
    cycle = Trace(make("cycle", n)[0].trace_id, make("cycle", n))
    assert cycle.cycle_breaks
    deep = Trace(make("deep", n)[0].trace_id, make("deep", n))
    assert max(depth for _i, depth in deep.preorder()) == n - 1
    assert sum(1 for s in make("fanout", n) if s.parent_id == make("fanout", n)[0].span_id) == n - 1
    dup = make("duplicates", n)
    assert len(dup) == 2 * n and len({s.span_id for s in dup}) == n
    assert all(s.end_ns < s.start_ns for s in make("negative", n)[1:])
    assert all(len(s.attributes["blob"]) == 65_536 for s in make("huge_attributes", n))
