"""Verdicts against hand-made reports, and the demo report's text staying inert for hostile span names."""

from __future__ import annotations

from spanscope.analysis.report import build_report
from spanscope.cli.cmd_demo import render
from spanscope.cli.demo.truth import expected_findings
from spanscope.cli.demo.verdict import judge
from spanscope.collectors.model import Kind, Status
from spanscope.demo_apps.faults import Scale, plan_faults

from tests.builders import build_trace


def _truth(faults: list[str]) -> dict:
    plan = plan_faults(faults, seed=5, scale=Scale.quick())
    return {"expected": expected_findings(plan), "observed": {}}


def _throttled(label: str, origin_op: str = "DynamoDB.PutItem"):
    return build_trace(
        [
            ("GET /", None, 0, 100, {"service": "cloudfront", "kind": Kind.SERVER, "status": Status.FAULT}),
            ("orders-api", "GET /", 10, 90, {"service": "orders-api", "kind": Kind.SERVER, "status": Status.FAULT}),
            (origin_op, "orders-api", 20, 80, {"service": "orders-api", "kind": Kind.CLIENT, "status": Status.FAULT}),
        ],
        trace=label,
    )


def test_error_fault_rank_follows_the_failure_chains() -> None:
    truth = _truth(["dynamodb-throttle"])
    traces = [_throttled(f"t{i}") for i in range(3)] + [_throttled("other", "S3.GetObject")]
    (verdict,) = judge(build_report(traces, service_map=False), truth)
    assert verdict.found and verdict.rank == 1
    traces = [_throttled(f"t{i}", "S3.GetObject") for i in range(3)] + [_throttled("one")]
    (verdict,) = judge(build_report(traces, service_map=False), truth)
    assert verdict.found and verdict.rank == 2  # found (top 3), but not AC@1


def test_missing_fault_is_reported_missed() -> None:
    truth = _truth(["dynamodb-throttle", "s3-latency", "slow-reducer", "cold-start-storm"])
    verdicts = judge(build_report([], service_map=False), truth)
    assert [v.found for v in verdicts] == [False, False, False, False]
    assert "no failure chain starts at orders-api DynamoDB.PutItem" in verdicts[0].detail


def test_rendered_report_is_inert_text() -> None:
    hostile = "\x1b]8;;http://x\x07evil\x1b[31m[bold]red[/bold]\u202e"
    trace = build_trace(
        [
            (hostile, None, 0, 100, {"service": hostile, "kind": Kind.SERVER, "status": Status.FAULT}),
        ]
    )
    report = build_report([trace])
    text = "\n".join(render(report, judge(report, _truth(["bad-deploy"])), top=5))
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "[bold]red[/bold]" in text  # markup stays literal
    assert "MISSED" in text
