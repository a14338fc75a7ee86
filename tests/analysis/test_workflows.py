"""Workflows: linked traces on one timeline, the end-to-end critical path across hops, their bounds, and the
hotspots / workflows sections of the report that use them."""

from __future__ import annotations

from collections.abc import Sequence

from spanscope.analysis.cold_starts import INITIALIZATION
from spanscope.analysis.hotspots import hotspots
from spanscope.analysis.report import build_report
from spanscope.analysis.workflows import build_workflow, follow_links, one_timeline
from spanscope.collectors.model import Kind, Trace

from tests.builders import build_trace, trace_id_for

COLD = {"faas.coldstart": True, "spanscope.faas.init_duration_ns": 400_000_000}


def pipeline() -> tuple[Trace, Trace]:
    """An API request that enqueues; a consumer starts a state machine that runs a Batch array and an EMR
    step (its own trace, linked to the AddJobFlowSteps call)."""
    main = build_trace(
        [
            ("root", None, 0, 50, {"service": "api", "operation": "POST /close", "kind": Kind.SERVER}),
            ("send", "root", 10, 40, {"service": "api", "kind": Kind.PRODUCER}),
            ("consume", "send", 100, 130, {"service": "worker", "kind": Kind.CONSUMER}),
            ("start", "consume", 105, 125, {"service": "worker", "kind": Kind.CLIENT}),
            (
                "sfn",
                "start",
                200,
                2000,
                {"service": "pipeline", "kind": Kind.SERVER, "origin": "AWS::StepFunctions::StateMachine"},
            ),
            ("render", "sfn", 201, 1000, {"service": "pipeline"}),
            ("submit", "render", 202, 203, {"service": "pipeline", "kind": Kind.CLIENT}),
            (
                "job0",
                "submit",
                300,
                700,
                {
                    "service": "batch",
                    "operation": "render-job",
                    "kind": Kind.SERVER,
                    "attributes": {"aws.batch.job.id": "j:0"},
                },
            ),
            (
                "job1",
                "submit",
                500,
                990,
                {
                    "service": "batch",
                    "operation": "render-job",
                    "kind": Kind.SERVER,
                    "attributes": {"aws.batch.job.id": "j:1"},
                },
            ),
            (
                "rollup",
                "sfn",
                1000,
                1990,
                {"service": "pipeline", "operation": "EMR.AddJobFlowSteps", "kind": Kind.CLIENT},
            ),
        ],
        trace="main",
    )
    emr = build_trace(
        [
            (
                "job",
                None,
                1010,
                1980,
                {
                    "service": "emr",
                    "operation": "sales-rollup",
                    "origin": "spanscope::EMR::Job",
                    "links": [("main", "rollup")],
                },
            ),
            ("map", "job", 1010, 1500, {"service": "emr"}),
            ("reduce", "job", 1500, 1980, {"service": "emr"}),
        ],
        trace="emr",
    )
    return main, emr


def test_end_to_end_path_crosses_queue_state_machine_batch_and_emr() -> None:
    main, emr = pipeline()
    w = build_workflow([main, emr])
    assert w.duration_ns == 2000 * 1_000_000
    assert w.coverage > 0.9  # one-trace critical path: 50 ms of 2 s
    kinds = {h.kind for h in w.hops}
    assert {"queue wait", "execution start", "scheduling delay"} <= kinds
    queue = next(h for h in w.hops if h.kind == "queue wait")
    assert queue.gap_ns == 60 * 1_000_000  # consumer start - producer end
    pieces = w.time_by_piece()
    assert pieces["queue wait"] == 60 * 1_000_000
    assert pieces["step start"] == 10 * 1_000_000  # the EMR job began 10 ms after AddJobFlowSteps
    on_path = {(p.service, p.name) for p in w.path if not p.piece}
    assert ("batch", "render-job") in on_path and ("emr", "reduce") in on_path
    # the EMR step's time is its job's, not the waiting client's
    client = sum(p.duration_ns for p in w.path if p.name == "EMR.AddJobFlowSteps")
    assert client < 50 * 1_000_000
    # one timeline for display: the linked root hangs under the span it links to
    shown = one_timeline(w)
    assert len(shown.spans) == len(main.spans) + len(emr.spans)
    assert shown.get(emr.root.span_id).parent_id == main.get(emr.root.links[0].span_id).span_id  # type: ignore[union-attr]


def test_report_credits_linked_and_asynchronous_work_on_the_end_to_end_path() -> None:
    main, emr = pipeline()
    alone = {(h.service, h.operation): h.critical_path_ns for h in hotspots([main, emr])}
    assert alone.get(("batch", "render-job"), 0) == 0  # analysed one by one: the request path only
    report = build_report([emr, main], service_map=False)
    hot = {(h.service, h.operation): h.critical_path_ns for h in report.hotspots}
    assert hot[("batch", "render-job")] > 400 * 1_000_000
    assert hot[("emr", "reduce")] == 480 * 1_000_000
    assert hot.get(("pipeline", "EMR.AddJobFlowSteps"), 0) < 50 * 1_000_000
    assert report.workflows and report.workflows[0].operation == "POST /close"
    wf = report.workflows[0]
    assert wf.p50_ns == 2000 * 1_000_000 and 0 < wf.queue_wait_share < 0.1


def test_cold_start_gap_is_initialization_of_the_function_not_caller_self_time() -> None:
    t = build_trace(
        [
            ("edge", None, 0, 600, {"service": "cdn", "kind": Kind.SERVER}),
            ("origin", "edge", 10, 590, {"service": "cdn", "operation": "origin POST", "kind": Kind.CLIENT}),
            ("fn", "origin", 440, 585, {"service": "orders-api", "kind": Kind.SERVER, "attributes": COLD}),
        ]
    )
    hot = {(h.service, h.operation): h for h in hotspots([t])}
    init = hot[("orders-api", INITIALIZATION)]
    assert init.critical_path_ns == 400 * 1_000_000 and init.self_ns == 400 * 1_000_000 and init.count == 1
    origin = hot[("cdn", "origin POST")]
    assert origin.critical_path_ns == 35 * 1_000_000  # 430 ms gap - 400 ms init + 5 ms after
    assert origin.self_ns == 35 * 1_000_000
    ranked = [(h.service, h.operation) for h in hotspots([t])]
    assert ranked[0] == ("orders-api", INITIALIZATION)
    # and on an end-to-end path
    w = build_workflow([t])
    assert next(p.piece for p in w.path if p.service == "orders-api") == INITIALIZATION


def test_link_cycle_missing_traces_and_fan_out_are_bounded_and_reported() -> None:
    a = build_trace([("a", None, 0, 10, {"links": [("b", "b")]})], trace="a")
    b = build_trace([("b", None, 20, 30, {"links": [("a", "a"), ("gone", "x")]})], trace="b")
    traces = {t.trace_id: t for t in (a, b)}

    def load(ids: Sequence[str]) -> list[Trace]:
        return [traces[i] for i in ids if i in traces]

    members, notes = follow_links(a, load, lambda tid: [])
    assert {t.trace_id for t in members} == {a.trace_id, b.trace_id}
    assert any("not in the store" in n for n in notes)
    w = build_workflow(members, notes=notes)
    assert w.path and w.duration_ns == 30 * 1_000_000
    report = build_report([a, b], service_map=False)
    assert any("cycle" in n for n in report.notes)

    # 10,000 consumer traces linked to one producer: the walk stops at the bound and says so
    producer = build_trace([("p", None, 0, 5, {"kind": Kind.PRODUCER})], trace="p")
    consumers = [
        build_trace([(f"c{i}", None, 10, 20, {"kind": Kind.CONSUMER, "links": [("p", "p")]})], trace=f"c{i}")
        for i in range(10_000)
    ]
    by_id = {t.trace_id: t for t in [producer, *consumers]}
    linking = [t.trace_id for t in consumers]
    members, notes = follow_links(
        producer,
        lambda ids: [by_id[i] for i in ids],
        lambda tid: linking if tid == producer.trace_id else [],
        max_traces=50,
    )
    assert len(members) == 50 and any("9,951 more" in n for n in notes)
    assert build_workflow(members).hops
    report = build_report([producer, *consumers], service_map=False)
    assert report.traces == 10_001
    assert any("cut to" in n for n in report.notes)
    assert trace_id_for("p") == producer.trace_id


def test_the_held_spans_bound_is_noted_once(monkeypatch) -> None:
    import spanscope.analysis.report as report_module

    monkeypatch.setattr(report_module, "MAX_PENDING_SPANS", 2)
    producer = build_trace([("p", None, 0, 5, {"kind": Kind.PRODUCER})], trace="p")
    consumers = [
        build_trace([(f"c{i}", None, 10, 20, {"kind": Kind.CONSUMER, "links": [("p", "p")]})], trace=f"c{i}")
        for i in range(6)
    ]
    report = build_report([*consumers, producer], service_map=False)
    bound_notes = [n for n in report.notes if "held spans" in n]
    assert len(bound_notes) == 1, report.notes
