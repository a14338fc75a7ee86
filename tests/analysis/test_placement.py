"""The edge-vs-region latency split of `analyze`: critical-path time per placement scope and crossings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from spanscope.analysis.placement import placement_split
from spanscope.analysis.report import build_report
from spanscope.cli.main import main
from spanscope.collectors.model import Kind
from spanscope.collectors.store import open_store
from spanscope.render.report_md import render_report_markdown

from tests.builders import MS, build_trace

EDGE = {"spanscope.location": "edge:IAD89-C1"}
WAVELENGTH = {"spanscope.location": "wavelength:us-east-1-wl1-bos-wlz-1"}
REGION = {"cloud.region": "us-east-1"}


def edge_to_region(label: str, *, network_ms: float = 20, edge=EDGE):
    """An edge function (0-100 ms) calls the regional API; the call's own time is the network both ways."""
    half = network_ms / 2
    return build_trace(
        [
            ("viewer", None, 0, 100, {"service": "edge-fn", "kind": Kind.SERVER, "resource": edge}),
            ("origin", "viewer", 10, 90, {"service": "edge-fn", "kind": Kind.CLIENT, "resource": edge}),
            ("api", "origin", 10 + half, 90 - half, {"service": "api", "kind": Kind.SERVER, "resource": REGION}),
            ("db", "api", 30, 50, {"service": "api", "kind": Kind.CLIENT, "namespace": "aws",
                                   "remote_service": "DynamoDB"}),
        ],
        trace=label,
    )  # fmt: skip


def test_critical_path_is_split_between_edge_region_and_the_hop_between():
    split = placement_split([edge_to_region("a"), edge_to_region("b", network_ms=40)])
    assert split.edge_ns == 2 * 20 * MS  # 0-10 and 90-100 ms in the edge function, twice
    assert split.crossing_ns == (20 + 40) * MS  # the calls' own time: network between edge and region
    assert split.region_ns == (60 + 40) * MS  # the API's interval, DynamoDB included
    assert split.total_ns == 2 * 100 * MS  # the whole critical path of both traces
    (crossing,) = split.crossings
    assert (crossing.source, crossing.target, crossing.count) == ("edge:IAD89-C1", "us-east-1", 2)
    assert crossing.p50_ns == 20 * MS and crossing.p95_ns == 40 * MS
    assert [(w, scope) for w, scope, _ns in split.locations] == [("us-east-1", "region"), ("edge:IAD89-C1", "edge")]


def test_every_edge_placement_kind_counts_as_edge_and_region_only_traces_need_no_path():
    region_only = build_trace([("api", None, 0, 50, {"service": "api", "kind": Kind.SERVER, "resource": REGION})])
    unplaced = build_trace([("x", None, 0, 30, {"service": "x", "kind": Kind.SERVER})], trace="u")
    split = placement_split([edge_to_region("w", edge=WAVELENGTH), region_only, unplaced])
    assert split.edge_traces == 1 and split.traces == 3
    assert split.crossings[0].source == "wavelength:us-east-1-wl1-bos-wlz-1"
    assert split.region_ns == 60 * MS + 50 * MS and split.unplaced_ns == 30 * MS


def test_report_json_and_markdown_carry_the_split(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    traces = [edge_to_region(f"t{i}") for i in range(3)]
    text = render_report_markdown(build_report(traces))
    assert "## Edge vs region" in text and "edge:IAD89-C1" in text
    db = tmp_path / "spans.db"
    with open_store(db) as store:
        store.write_spans([s for t in traces for s in t.spans])
    assert main(["analyze", "--db", str(db), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    placement = report["placement"]
    assert placement["edge_s"] == pytest.approx(0.06) and placement["crossing_s"] == pytest.approx(0.06)
    assert placement["region_s"] == pytest.approx(0.18)
    assert placement["crossings"][0]["from"] == "edge:IAD89-C1" and placement["crossings"][0]["count"] == 3
    assert {"hotspots", "failure_chains", "stragglers", "cold_starts"} <= set(report)  # today's keys stay
