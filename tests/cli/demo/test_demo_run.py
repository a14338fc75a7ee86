"""A small demo run through the real collector: every kind of compute lands in the store and the map."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from spanscope.cli.cmd_demo import render
from spanscope.cli.demo.scenario import run_demo
from spanscope.cli.demo.truth import load_truth, truth_path
from spanscope.cli.demo.verdict import analyze_run
from spanscope.collectors.service_map import build_service_map
from spanscope.collectors.store import open_store
from spanscope.demo_apps.faults import FAULT_KINDS, Scale, parse_fault_names

TINY = Scale(
    requests=12,
    client_concurrency=2,
    batch_array_size=3,
    batch_slots=2,
    records_per_shard=600,
    map_tasks=3,
    reduce_tasks=5,
    device_readings=20,
    device_interval_s=0.1,
    pipeline_after_orders=4,
)

# node name -> origin type expected in the service map, one per kind of compute
EXPECTED_NODES = {
    "cloudfront": "AWS::CloudFront::Distribution",
    "edge-auth": "spanscope::Lambda@Edge::Function",
    "edge-rewrite": "spanscope::Lambda@Edge::Function",
    "orders-api": "AWS::Lambda::Function",
    "order-worker": "AWS::Lambda::Function",
    "fulfilment-pipeline": "AWS::StepFunctions::StateMachine",
    "invoice-render": "spanscope::Batch::Job",
    "sales-rollup": "spanscope::EMR::Job",
    "greenhouse-sensor-7": "spanscope::Greengrass::Device",
    "S3": "AWS::S3::Bucket",
    "DynamoDB": "AWS::DynamoDB::Table",
}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory):
    db = tmp_path_factory.mktemp("demo") / "spans.db"
    result = run_demo(db, parse_fault_names("all"), seed=3, scale=TINY, timeout_s=120)
    truth = load_truth(result.truth_path)
    report, verdicts, traces = analyze_run(db, truth)
    return result, truth, report, verdicts, traces


@pytest.mark.timeout(150)
def test_every_kind_of_compute_is_in_the_store_and_the_map(demo_run) -> None:
    result, truth, report, _verdicts, traces = demo_run
    assert not truth["observed"]["timed_out"]
    assert result.spans_stored > 100
    nodes = {n.name: n.type for n in report.service_map.nodes}
    for name, node_type in EXPECTED_NODES.items():
        assert nodes.get(name) == node_type, f"{name} missing or mistyped in {nodes}"
    origins = {s.origin for t in traces for s in t.spans}
    assert {"spanscope::Lambda@Edge::Function", "spanscope::Batch::Job", "spanscope::EMR::Job"} <= origins
    # the Spot interruption was recorded by the Batch integration and the child was retried
    interrupted = [s for t in traces for s in t.spans if s.attributes.get("spanscope.batch.interrupted") is True]
    assert interrupted and truth["observed"]["pipeline"]["batch"]["interruptions"] == 1
    # map, shuffle and reduce all ran, the reduce tasks in worker processes with Hadoop's task ids
    names = {(s.service, s.name) for t in traces for s in t.spans}
    assert {("sales-rollup", "map task"), ("sales-rollup", "shuffle"), ("sales-rollup", "reduce task")} <= names
    # the SQS hand-off: consumer spans in order-worker linked to the producer in orders-api
    assert any(s.links for t in traces for s in t.spans if s.service == "order-worker")


def test_truth_file_is_written_beside_the_store(demo_run) -> None:
    result, _truth, _report, _verdicts, _traces = demo_run
    assert result.truth_path == truth_path(result.db_path)
    on_disk = json.loads(Path(result.truth_path).read_text())
    assert on_disk["seed"] == 3
    assert [e["fault"] for e in on_disk["expected"]] == list(FAULT_KINDS)
    assert on_disk["observed"]["offline_window_ns"][0] < on_disk["observed"]["offline_window_ns"][1]
    assert on_disk["observed"]["aws"]["dynamodb_throttled"] > 0


def test_report_renders_every_section_and_a_verdict_per_fault(demo_run) -> None:
    _result, truth, report, verdicts, _traces = demo_run
    assert [v.fault for v in verdicts] == list(FAULT_KINDS)
    text = "\n".join(render(report, verdicts, top=5))
    for heading in ("Service map", "Top hotspots", "Failure chains", "Stragglers", "Cold starts", "Injected faults"):
        assert heading in text
    # the offline window's readings reached the store later, through the store-and-forward spool
    edge = next(v for v in verdicts if v.fault == "edge-offline")
    assert edge.extra["offline"] > 0
    observed = {k: v for k, v in truth["observed"].items() if k not in ("edge", "pipeline", "worker")}
    assert edge.extra["delivered"] == edge.extra["offline"], (edge.detail, observed)
    spool = truth["observed"]["device"]["spool"]
    assert spool["spooled_spans"] > 0 and spool["pending_batches"] == 0  # the outage went through the spool


@pytest.mark.timeout(150)
def test_nightly_pipeline_is_one_workflow_with_an_end_to_end_critical_path(demo_run) -> None:
    from spanscope.analysis.cold_starts import INITIALIZATION
    from spanscope.analysis.workflows import build_workflow

    _result, _truth, report, _verdicts, traces = demo_run
    (pipeline,) = [t for t in traces if any(s.service == "fulfilment-pipeline" for s in t.spans)]
    linked = [t for t in traces if t.root is not None and any(lk.trace_id == pipeline.trace_id for lk in t.root.links)]
    assert [t.root.service for t in linked if t.root] == ["sales-rollup"]  # the EMR step's job links to its submitter
    workflow = build_workflow([pipeline, *linked])
    assert workflow.coverage > 0.9, workflow.time_by_piece()
    assert {"queue wait", "execution start", "scheduling delay"} <= {h.kind for h in workflow.hops}
    hot = {(h.service, h.operation): h.critical_path_ns for h in report.hotspots}
    # Batch and EMR carry their end-to-end critical-path time, not the Step Functions task that waits on them
    assert hot.get(("invoice-render", "render-pdfs"), 0) > 0
    emr = sum(ns for (service, _op), ns in hot.items() if service == "sales-rollup")
    # (relative, not a wall-clock bound: the step's sleeps stretch and shrink with the machine's load)
    assert emr > 0 and emr > 3 * hot.get(("fulfilment-pipeline", "EMR.AddJobFlowSteps"), 0)
    # orders-api's cold starts are its Initialization, not CloudFront's origin call
    assert hot[("orders-api", INITIALIZATION)] > hot.get(("cloudfront", "origin POST /orders"), 0)
    assert any(w.operation == "POST /api/v2/batches/close" for w in report.workflows)


def test_demo_map_draws_the_orders_queue_between_api_and_worker(demo_run) -> None:
    """X-Ray's picture of the SQS hop: orders-api -> orders-queue [AWS::SQS::Queue] ~> order-worker."""
    result, _truth, _report, _verdicts, _traces = demo_run
    with open_store(result.db_path, readonly=True) as store:
        graph = build_service_map(store.iter_traces())
    api, worker = ("orders-api", "AWS::Lambda::Function"), ("order-worker", "AWS::Lambda::Function")
    queue = ("orders-queue", "AWS::SQS::Queue")
    assert graph.edges[api, queue]["asynchronous"] is False
    assert graph.edges[api, queue]["stats"].total_count > 0
    assert graph.edges[queue, worker]["asynchronous"] is True
    assert graph.edges[queue, worker]["link_stats"].total_count >= graph.edges[api, queue]["stats"].total_count
    assert not graph.has_edge(api, worker)  # the async hop is no synchronous edge
    assert not [edge for edge in graph.edges if edge[0] == edge[1]]  # and no self-loop
    assert ("SQS", "AWS::SQS::Queue") not in graph  # every send names its queue
