"""Failure roles and failure chains on small hand-built traces."""

from __future__ import annotations

from spanscope.analysis import ChainHop, FailureRole, failure_chains, failure_chains_partial, failure_roles
from spanscope.analysis.failures import merge_failure_chains
from spanscope.collectors.model import Kind, Status

from tests.builders import build_trace, span_id_for, trace_id_for

F = Status.FAULT


def roles(tr):
    names = {s.span_id: s.name for s in tr.spans}
    return {names[k]: (v.value if v else None) for k, v in failure_roles(tr).items()}


def test_origin_and_propagated():
    tr = build_trace(
        [
            ("root", None, 0, 100, {"status": F}),
            ("svc", "root", 10, 90, {"status": F}),
            ("db", "svc", 20, 30, {"status": F}),
            ("cache", "svc", 40, 50),
        ]
    )
    assert roles(tr) == {"root": "propagated", "svc": "propagated", "db": "origin", "cache": None}


def test_error_caught_midway_is_stopped():
    tr = build_trace(
        [
            ("root", None, 0, 100),
            ("handler", "root", 10, 90),
            ("repo", "handler", 20, 80, {"status": Status.ERROR}),
            ("db", "repo", 30, 40, {"status": F}),
        ]
    )
    assert roles(tr) == {"root": None, "handler": "stopped", "repo": "propagated", "db": "origin"}
    [chain] = failure_chains([tr])
    assert [h.operation for h in chain.path] == ["db", "repo"]
    assert chain.stopped_by == ("svc", "handler")


def test_failed_span_with_ok_children_is_origin():
    tr = build_trace([("root", None, 0, 10, {"status": Status.THROTTLE}), ("kid", "root", 1, 2)])
    assert failure_roles(tr)[span_id_for("root")] is FailureRole.ORIGIN


def test_async_consumer_failure_does_not_make_producer_stopped():
    tr = build_trace(
        [
            ("root", None, 0, 100),
            ("send", "root", 10, 20, {"kind": Kind.PRODUCER, "service": "api"}),
            ("process", "send", 30, 95, {"kind": Kind.CONSUMER, "service": "worker", "status": F}),
        ]
    )
    assert roles(tr) == {"root": None, "send": None, "process": "origin"}
    [chain] = failure_chains([tr])
    assert [(h.service, h.operation, h.via) for h in chain.path] == [
        ("worker", "process", ""),
        ("api", "send", "async"),
    ]


def test_error_crossing_an_sqs_hop_via_span_link():
    producer = build_trace(
        [
            ("api", None, 0, 100, {"service": "api", "kind": Kind.SERVER}),
            (
                "sqs-send",
                "api",
                10,
                20,
                {"service": "api", "kind": Kind.PRODUCER, "operation": "orders send"},
            ),
        ],
        trace="p",
    )
    consumers = [
        build_trace(
            [
                (
                    "worker",
                    None,
                    200,
                    300,
                    {
                        "service": "worker",
                        "kind": Kind.CONSUMER,
                        "status": F,
                        "links": [("p", "sqs-send")],
                    },
                ),
                (
                    "ddb",
                    "worker",
                    210,
                    220,
                    {"service": "worker", "kind": Kind.CLIENT, "status": F, "operation": "DynamoDB"},
                ),
            ],
            trace=f"c{i}",
        )
        for i in range(3)
    ]
    chains = failure_chains([*consumers, producer])
    assert len(chains) == 1
    chain = chains[0]
    assert chain.count == 3
    assert chain.origin == ("worker", "DynamoDB")
    assert [(h.service, h.operation, h.via) for h in chain.path] == [
        ("worker", "DynamoDB", ""),
        ("worker", "worker", ""),
        ("api", "orders send", "link"),
    ]
    assert set(chain.trace_ids) == {trace_id_for(f"c{i}") for i in range(3)}


def test_link_to_unknown_trace_still_makes_a_chain():
    tr = build_trace([("w", None, 0, 10, {"status": F, "links": [("gone", "x")]})], trace="c")
    [chain] = failure_chains([tr])
    assert chain.path[-1].via == "link" and chain.path[-1].service == ""


def test_chains_grouped_across_traces_and_ranked_by_traces_affected():
    def tr(label, origin):
        return build_trace(
            [
                ("root", None, 0, 100, {"status": F}),
                (origin, "root", 10, 20, {"status": F}),
            ],
            trace=label,
        )

    traces = [tr("a", "db"), tr("b", "db"), tr("c", "cache"), tr("d", "db")]
    chains = failure_chains(traces)
    assert [(c.origin[1], c.count) for c in chains] == [("db", 3), ("cache", 1)]


def test_two_origins_with_same_signature_count_one_trace():
    tr = build_trace(
        [
            ("root", None, 0, 100, {"status": F}),
            ("db1", "root", 10, 20, {"status": F, "operation": "db"}),
            ("db2", "root", 30, 40, {"status": F, "operation": "db"}),
        ]
    )
    [chain] = failure_chains([tr])
    assert chain.count == 1


def test_partials_merge_in_any_grouping():
    traces = [
        build_trace([("root", None, 0, 10, {"status": F}), ("x", "root", 1, 2, {"status": F})], trace=str(i))
        for i in range(6)
    ]
    parts = [failure_chains_partial(t) for t in traces]
    left = parts[0].merge(parts[1]).merge(parts[2])
    right = parts[3].merge(parts[4]).merge(parts[5])
    [chain] = merge_failure_chains([left, right])
    assert chain.count == 6 and len(chain.trace_ids) == 5


def test_sqs_hop_to_an_xray_style_client_subsegment_producer():
    producer = build_trace(
        [
            ("api", None, 0, 100, {"service": "api", "kind": Kind.SERVER}),
            (
                "send",
                "api",
                10,
                20,
                {
                    "service": "api",
                    "kind": Kind.CLIENT,
                    "namespace": "aws",
                    "remote_service": "SQS",
                    "operation": "SQS",
                },
            ),
        ],
        trace="p",
    )
    consumer = build_trace(
        [("w", None, 200, 300, {"service": "worker", "status": F, "links": [("p", "send")]})], trace="c"
    )
    [chain] = failure_chains([producer, consumer])
    assert chain.path[-1] == ChainHop("api", "SQS", "link")
