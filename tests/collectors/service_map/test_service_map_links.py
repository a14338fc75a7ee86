"""Service map rules: asynchronous edges from span links (SQS, Batch, Step Functions producers)."""

from __future__ import annotations

import pytest
from spanscope.collectors.conventions import (
    ORIGIN_BATCH,
    ORIGIN_LAMBDA,
    ORIGIN_REMOTE,
)
from spanscope.collectors.model import Kind, Status
from spanscope.collectors.service_map import (
    CLIENT_NODE,
    build_service_map,
)

from tests.builders import build_trace, lam, sqs_pair

API = ("api", ORIGIN_LAMBDA)
SQS = ("SQS", "AWS::SQS::Queue")


# --- asynchronous links -------------------------------------------------------------------------------


def test_link_from_sqs_producer_makes_async_edge_from_queue_to_consumer():
    g = build_service_map([*sqs_pair("m1"), *sqs_pair("m2", consumer_status=Status.FAULT)])
    worker = ("worker", ORIGIN_LAMBDA)
    assert g.has_edge(API, SQS) and g.edges[API, SQS]["asynchronous"] is False
    edge = g.edges[SQS, worker]
    assert edge["asynchronous"] is True and edge["stats"] is None
    assert edge["link_stats"].total_count == 2 and edge["link_stats"].fault_count == 1
    # age = consumer start (120 ms) - producer end (20 ms)
    assert edge["event_age"].p50_s == pytest.approx(0.100, rel=0.05)
    assert not g.has_edge(CLIENT_NODE, worker)  # reached by the link, not by a client
    assert g.nodes[worker]["root"] is True
    assert g.graph["unresolved_links"] == 0


def test_link_order_does_not_matter_and_unknown_links_are_counted():
    producer, consumer = sqs_pair("m")
    g = build_service_map([consumer, producer])
    assert g.has_edge(SQS, ("worker", ORIGIN_LAMBDA))
    lonely = build_service_map([consumer])
    assert lonely.graph["unresolved_links"] == 1
    assert ("worker", ORIGIN_LAMBDA) in lonely


def test_batch_submit_links_to_job():
    submit = build_trace(
        [
            ("sched", None, 0, 30, lam("scheduler")),
            (
                "submit",
                "sched",
                5,
                10,
                {"service": "scheduler", "kind": Kind.CLIENT, "namespace": "aws", "remote_service": "Batch"},
            ),
        ],
        trace="s",
    )
    job = build_trace(
        [("job", None, 1000, 9000, {"service": "etl", "origin": ORIGIN_BATCH, "links": [("s", "submit")]})],
        trace="j",
    )
    g = build_service_map([submit, job])
    queue = ("Batch", "AWS::Batch::JobQueue")
    assert g.edges[("scheduler", ORIGIN_LAMBDA), queue]["asynchronous"] is False
    assert g.edges[queue, ("etl", ORIGIN_BATCH)]["asynchronous"] is True


def test_step_functions_start_links_to_execution():
    start = build_trace(
        [
            ("api", None, 0, 30, lam("api")),
            ("start", "api", 5, 10, {"service": "api", "kind": Kind.CLIENT, "namespace": "aws",
                                     "remote_service": "StepFunctions"}),
        ],
        trace="sf",
    )  # fmt: skip
    execution = build_trace(
        [("exec", None, 100, 900, {"service": "order-flow", "origin": "AWS::StepFunctions::StateMachine",
                                   "kind": Kind.SERVER, "links": [("sf", "start")]})],
        trace="ex",
    )  # fmt: skip
    g = build_service_map([start, execution])
    machine = ("StepFunctions", "AWS::StepFunctions::StateMachine")
    flow = ("order-flow", "AWS::StepFunctions::StateMachine")
    assert g.edges[API, machine]["asynchronous"] is False
    assert g.edges[machine, flow]["asynchronous"] is True


def test_producer_span_without_namespace_links_from_its_downstream_node():
    # an OTel messaging producer span without an X-Ray namespace: the link source is its downstream node
    producer = build_trace(
        [
            ("web", None, 0, 50, lam("api")),
            ("publish", "web", 1, 2, {"service": "api", "kind": Kind.PRODUCER,
                                      "attributes": {"peer.service": "orders-queue"}}),
        ],
        trace="pp",
    )  # fmt: skip
    consumer = build_trace([("c", None, 10, 20, lam("worker", links=[("pp", "publish")]))], trace="cc")
    g = build_service_map([producer, consumer])
    assert g.edges[("orders-queue", ORIGIN_REMOTE), ("worker", ORIGIN_LAMBDA)]["asynchronous"] is True
