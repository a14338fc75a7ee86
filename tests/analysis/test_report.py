"""The post-mortem report and its Markdown and JSON renderings, on small hand-built traces."""

from __future__ import annotations

import json

from spanscope.analysis.report import build_report
from spanscope.collectors.model import Kind, Status
from spanscope.render.report_json import report_to_json
from spanscope.render.report_md import render_report_markdown

from tests.builders import build_trace, trace_id_for

F = Status.FAULT
HOSTILE = "evil\x1b[31m|x|\x1b]8;;http://x\x07<b>[link](http://y)\u202e"


def traces():
    out = []
    for i in range(6):
        rows = [
            (
                "root",
                None,
                0,
                200,
                {
                    "service": "api",
                    "operation": "POST /orders",
                    "kind": Kind.SERVER,
                    "status": F if i % 2 else Status.OK,
                },
            ),
            (
                "db",
                "root",
                10,
                150,
                {
                    "service": "api",
                    "operation": "PutItem",
                    "kind": Kind.CLIENT,
                    "namespace": "aws",
                    "remote_service": "DynamoDB",
                    "status": F if i % 2 else Status.OK,
                },
            ),
            (
                "fn",
                "root",
                160,
                190 if i else 195,
                {
                    "service": "resize",
                    "operation": "resize",
                    "attributes": {
                        "faas.coldstart": i == 0,
                        "faas.name": "resize",
                        "spanscope.faas.init_duration_ns": 20_000_000,
                    },
                },
            ),
        ]
        rows += [(f"m{k}", "root", 0, 100 if k else 190, {"service": "emr", "operation": "map"}) for k in range(6)]
        out.append(build_trace(rows, trace=f"r{i}"))
    return out


def test_report_sections_ranked_and_json_keys_match_the_contract():
    report = build_report(traces())
    doc = json.loads(json.dumps(report_to_json(report)))
    assert {"hotspots", "failure_chains", "stragglers", "cold_starts"} <= set(doc)
    assert set(doc["hotspots"][0]) >= {
        "service",
        "operation",
        "critical_path_s",
        "self_s",
        "count",
        "p50_s",
        "p95_s",
        "p99_s",
    }
    cps = [h["critical_path_s"] for h in doc["hotspots"]]
    assert cps == sorted(cps, reverse=True)
    [chain_doc] = doc["failure_chains"]
    assert chain_doc["origin"] == {"service": "api", "operation": "PutItem"}
    assert [p["operation"] for p in chain_doc["path"]] == ["PutItem", "POST /orders"]
    assert chain_doc["count"] == 3 and len(chain_doc["trace_ids"]) == 3
    assert doc["stragglers"] and doc["stragglers"][0]["operation"] == "map"
    assert doc["stragglers"][0]["explained_by_input"] is None
    [cold] = doc["cold_starts"]
    assert cold["function"] == "resize" and cold["cold_count"] == 1 and cold["invocations"] == 6
    assert doc["traces"] == 6 and doc["failed_traces"] == 3
    names = {n["name"] for n in doc["service_map"]["nodes"]}
    assert {"api", "DynamoDB"} <= names


def test_markdown_is_readable_and_names_every_section():
    text = render_report_markdown(build_report(traces()))
    for heading in ("## Latency hotspots", "## Failure chains", "## Stragglers", "## Cold starts", "## Service map"):
        assert heading in text
    assert trace_id_for("r1") in text
    assert "api · PutItem → api · POST /orders" in text


def test_markdown_without_service_map_marks_the_optional_section():
    text = render_report_markdown(build_report(traces(), service_map=False))
    assert "(Optional section: no service map was built for this report.)" in text


def test_hostile_names_are_inert_in_markdown():
    tr = build_trace([("x", None, 0, 10, {"service": HOSTILE, "operation": HOSTILE, "status": F})])
    text = render_report_markdown(build_report([tr]))
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    assert "<b>" not in text and "\\[link\\](http" in text  # brackets escaped: no link can form
    assert "\\|x\\|" in text


def test_baseline_section():
    base = [build_trace([("root", None, 0, 100), ("q", "root", 10, 40)], trace=f"b{i}") for i in range(20)]
    cur = [
        build_trace(
            [("root", None, 0, 400, {"attributes": {"cloud.region": "eu-west-1"}}), ("q", "root", 10, 340)],
            trace=f"c{i}",
        )
        for i in range(20)
    ]
    report = build_report(cur, baseline=base)
    doc = report_to_json(report)
    assert doc["baseline"]["growth"][0]["operation"] == "q"
    assert doc["baseline"]["attributes"][0]["key"] == "cloud.region"
    assert "## Compared with the baseline" in render_report_markdown(report)


def test_empty_input():
    report = build_report([])
    doc = report_to_json(report)
    assert doc["hotspots"] == [] and doc["traces"] == 0
    assert "No spans." in render_report_markdown(report)
