"""Service map rules: the client node, service nodes, inferred nodes and edges (X-Ray's trace map)."""

from __future__ import annotations

import pytest
from spanscope.collectors.conventions import (
    ORIGIN_BATCH,
    ORIGIN_EDGE_DEVICE,
    ORIGIN_LAMBDA,
    ORIGIN_REMOTE,
)
from spanscope.collectors.model import Kind, Status
from spanscope.collectors.service_map import (
    CLIENT_NODE,
    build_service_map,
)

from tests.builders import api_trace, build_trace, ddb_call, lam

API = ("api", ORIGIN_LAMBDA)
ORDERS = ("orders", ORIGIN_LAMBDA)
DDB = ("DynamoDB", "AWS::DynamoDB::Table")
SQS = ("SQS", "AWS::SQS::Queue")


# --- nodes and edges ----------------------------------------------------------------------------------


def test_client_node_feeds_each_trace_entry_point():
    g = build_service_map([api_trace("a"), api_trace("b")])
    assert g.nodes[CLIENT_NODE]["kind"] == "client"
    assert g.has_edge(CLIENT_NODE, API)
    assert g.edges[CLIENT_NODE, API]["stats"].total_count == 2
    assert g.nodes[API]["root"] is True
    assert g.nodes[DDB]["root"] is False
    assert g.nodes[API]["stats"].total_count == 2


def test_inferred_node_for_aws_call_without_instrumented_callee():
    g = build_service_map([api_trace("a", ddb_status=Status.THROTTLE)])
    assert g.nodes[DDB]["kind"] == "inferred"
    edge = g.edges[API, DDB]["stats"]
    node = g.nodes[DDB]["stats"]
    assert edge.total_count == node.total_count == 1
    assert edge.throttle_count == 1 and edge.error_count == 1 and edge.fault_count == 0
    assert edge.total_response_time_s == pytest.approx(0.020)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"namespace": "aws", "remote_service": "S3"}, ("S3", "AWS::S3::Bucket")),
        ({"namespace": "aws", "remote_service": "SQS"}, SQS),
        ({"namespace": "remote", "remote_service": "api.example.com"}, ("api.example.com", ORIGIN_REMOTE)),
        ({"attributes": {"rpc.system": "aws-api", "rpc.service": "DynamoDB"}}, DDB),
        ({"attributes": {"url.full": "https://pay.example.net/charge"}}, ("pay.example.net", ORIGIN_REMOTE)),
        ({"attributes": {"peer.service": "ledger"}}, ("ledger", ORIGIN_REMOTE)),
        ({"namespace": "aws", "remote_service": "Textract"}, ("Textract", "AWS::Textract")),
    ],
)
def test_inferred_node_names_and_types(options, expected):
    trace = build_trace(
        [("root", None, 0, 10, lam("api")), ("call", "root", 1, 5, {"service": "api", "kind": Kind.CLIENT, **options})]
    )
    g = build_service_map([trace])
    assert g.nodes[expected]["kind"] == "inferred"
    assert g.has_edge(API, expected)


def test_instrumented_callee_replaces_inferred_node_and_edge_uses_client_span():
    # api --(client span, 40 ms, fault)--> orders (server segment, 30 ms, fault)
    trace = build_trace(
        [
            ("root", None, 0, 100, lam("api", status=Status.FAULT)),
            (
                "call",
                "root",
                10,
                50,
                {
                    "service": "api",
                    "kind": Kind.CLIENT,
                    "status": Status.FAULT,
                    "namespace": "remote",
                    "remote_service": "orders",
                },
            ),
            ("serve", "call", 15, 45, lam("orders", status=Status.FAULT)),
            ("q", "serve", 20, 25, ddb_call("orders")),
        ]
    )
    g = build_service_map([trace])
    assert ("orders", ORIGIN_REMOTE) not in g
    edge = g.edges[API, ORDERS]["stats"]
    assert edge.total_count == 1 and edge.fault_count == 1
    assert edge.total_response_time_s == pytest.approx(0.040)  # the caller's view
    assert g.nodes[ORDERS]["stats"].total_response_time_s == pytest.approx(0.030)  # the callee's own
    assert g.has_edge(ORDERS, DDB)
    assert not g.has_edge(CLIENT_NODE, ORDERS)


def test_cross_service_child_without_client_span_makes_edge_from_segment():
    trace = build_trace(
        [("root", None, 0, 100, lam("api")), ("work", "root", 5, 60, {"service": "batch", "origin": ORIGIN_BATCH})]
    )
    g = build_service_map([trace])
    batch = ("batch", ORIGIN_BATCH)
    assert g.edges[API, batch]["stats"].total_response_time_s == pytest.approx(0.055)
    assert g.nodes[batch]["kind"] == "service"


def test_node_type_from_resource_platform_and_custom_origin():
    trace = build_trace(
        [
            ("root", None, 0, 10, {"service": "gw", "kind": Kind.SERVER, "resource": {"cloud.platform": "aws_ec2"}}),
            ("dev", "root", 1, 5, {"service": "thing", "resource": {"spanscope.origin": ORIGIN_EDGE_DEVICE}}),
        ]
    )
    g = build_service_map([trace])
    assert ("gw", "AWS::EC2::Instance") in g
    assert ("thing", ORIGIN_EDGE_DEVICE) in g


def test_internal_spans_stay_inside_their_segment_node():
    trace = build_trace(
        [
            ("root", None, 0, 100, lam("api")),
            ("parse", "root", 1, 5, {"service": "api"}),
            ("inner", "parse", 2, 3, {"service": "api"}),
            ("get", "inner", 2, 3, ddb_call()),
        ]
    )
    g = build_service_map([trace])
    assert set(g.nodes) == {CLIENT_NODE, API, DDB}
    assert g.nodes[API]["stats"].total_count == 1
    assert g.has_edge(API, DDB)


def test_span_without_service_inherits_its_parents():
    trace = build_trace([("root", None, 0, 10, lam("api")), ("get", "root", 1, 5, ddb_call(service=""))])
    g = build_service_map([trace])
    assert g.has_edge(API, DDB)


def test_broken_traces_do_not_crash():
    # a missing parent and a parent cycle
    trace = build_trace(
        [
            ("orphan", "gone", 0, 10, lam("api")),
            ("a", "b", 0, 10, lam("x")),
            ("b", "a", 1, 9, lam("y")),
        ]
    )
    g = build_service_map([trace])
    assert API in g and ("x", ORIGIN_LAMBDA) in g and ("y", ORIGIN_LAMBDA) in g


def test_predicate_filters_traces():
    wanted = api_trace("b", status=Status.FAULT)
    g = build_service_map([api_trace("a"), wanted], predicate=lambda t: t.trace_id == wanted.trace_id)
    assert g.nodes[API]["stats"].total_count == 1
    assert g.nodes[API]["stats"].fault_count == 1
