"""Messaging on the service map (X-Ray semantics): producer -> destination node ~> consumer, never a sync edge."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from spanscope.collectors.collector import BackgroundCollector, CollectorConfig
from spanscope.collectors.conventions import ORIGIN_LAMBDA
from spanscope.collectors.formats.otlp_json import parse_request
from spanscope.collectors.formats.otlp_proto import spans_to_request
from spanscope.collectors.formats.xray import spans_from_document
from spanscope.collectors.model import Kind, Span, SpanLink, Status, Trace
from spanscope.collectors.service_map import MAX_SPAN_LINKS, ServiceMapAccumulator, build_service_map
from spanscope.collectors.service_map.render_json import service_graph_json
from spanscope.render.map_graphviz import render_map_dot, render_map_mermaid
from spanscope.render.map_text import render_map_text

from tests.builders import BASE_NS, build_trace, lam, span_id_for, trace_id_for

API = ("api", ORIGIN_LAMBDA)
WORKER = ("worker", ORIGIN_LAMBDA)
QUEUE = ("orders-queue", "AWS::SQS::Queue")
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/orders-queue"


def send(service: str = "api", **attributes):
    """The tracer's SQS producer span (send_sqs_message): AWS SDK call, kind producer, queue URL."""
    attrs = {"rpc.system": "aws-api", "rpc.service": "SQS", "rpc.method": "SendMessage", "aws.sqs.queue_url": QUEUE_URL}
    attrs.update(attributes)
    return {"service": service, "kind": Kind.PRODUCER, "namespace": "aws", "remote_service": "SQS", "attributes": attrs}


def edges(graph) -> dict[tuple, bool]:
    return {(a, b): d["asynchronous"] for a, b, d in graph.edges(data=True)}


def assert_async_hop(graph, producer, destination, consumer) -> None:
    found = edges(graph)
    assert found.get((producer, destination)) is False, found  # messages sent: the producer's calls
    assert found.get((destination, consumer)) is True, found  # messages received: asynchronous only
    assert (producer, consumer) not in found, found  # never a synchronous edge for the hop
    assert not [e for e in found if e[0] == e[1]], found  # never a self-loop
    assert graph.edges[destination, consumer]["stats"] is None


# --- destinations: names and types --------------------------------------------------------------------


def otlp_producer(attributes: dict[str, str], *, kind: int = 4, name: str = "trip-events publish") -> list[Span]:
    """An OTLP/JSON request with one producer span (kind 4) under a server span, as an OTel SDK sends it."""
    kv = [{"key": k, "value": {"stringValue": v}} for k, v in attributes.items()]
    tid = trace_id_for("otlp")
    doc = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "trips"}}]},
                "scopeSpans": [
                    {
                        "spans": [
                            {"traceId": tid, "spanId": "a" * 16, "name": "POST /trips", "kind": 2,
                             "startTimeUnixNano": str(BASE_NS), "endTimeUnixNano": str(BASE_NS + 50_000_000)},
                            {"traceId": tid, "spanId": "b" * 16, "parentSpanId": "a" * 16, "name": name,
                             "kind": kind, "attributes": kv, "startTimeUnixNano": str(BASE_NS + 10_000_000),
                             "endTimeUnixNano": str(BASE_NS + 20_000_000)},
                        ]
                    }
                ],
            }
        ]
    }  # fmt: skip
    result = parse_request(doc)
    assert not result.errors
    return result.spans


def test_otlp_producer_span_names_the_queue_by_its_destination():
    spans = otlp_producer({"messaging.system": "aws_sqs", "messaging.destination.name": "trip-events"})
    graph = build_service_map([Trace(spans[0].trace_id, spans)])
    queue = ("trip-events", "AWS::SQS::Queue")
    assert queue in graph and graph.nodes[queue]["kind"] == "inferred"
    assert ("trip-events publish", "remote") not in graph
    assert graph.edges[("trips", ""), queue]["stats"].total_count == 1


@pytest.mark.parametrize(
    ("kind", "attributes", "node"),
    [
        (4, {"messaging.system": "aws_sns", "messaging.destination.name": "alerts"}, ("alerts", "AWS::SNS::Topic")),
        (4, {"messaging.system": "aws.eventbridge", "messaging.destination.name": "default"},
         ("default", "AWS::Events::EventBus")),
        (4, {"messaging.system": "aws_kinesis", "messaging.destination.name": "clicks"},
         ("clicks", "AWS::Kinesis::Stream")),
        (4, {"messaging.system": "kafka", "messaging.destination.name": "payments"}, ("payments", "kafka")),
        # AWS SDK client spans (kind 3): the operation says it sends; the URL's or ARN's last segment names it
        (3, {"rpc.system": "aws-api", "rpc.service": "SQS", "rpc.method": "SendMessageBatch",
             "aws.sqs.queue_url": QUEUE_URL}, QUEUE),
        (3, {"rpc.system": "aws-api", "rpc.service": "SNS", "rpc.method": "Publish",
             "aws.sns.topic.arn": "arn:aws:sns:us-east-1:123456789012:trip-alerts"},
         ("trip-alerts", "AWS::SNS::Topic")),
        (3, {"rpc.system": "aws-api", "rpc.service": "EventBridge", "rpc.method": "PutEvents",
             "messaging.destination.name": "arn:aws:events:us-east-1:123456789012:event-bus/trips"},
         ("trips", "AWS::Events::EventBus")),
        (3, {"rpc.system": "aws-api", "rpc.service": "Kinesis", "rpc.method": "PutRecord",
             "aws.kinesis.stream_name": "clicks"}, ("clicks", "AWS::Kinesis::Stream")),
        (3, {"rpc.system": "aws-api", "rpc.service": "Kinesis", "rpc.method": "PutRecords",
             "aws.stream.arn": "arn:aws:kinesis:eu-west-1:123456789012:stream/clicks"},
         ("clicks", "AWS::Kinesis::Stream")),
    ],
)  # fmt: skip
def test_every_messaging_system_makes_one_typed_destination_node(kind, attributes, node):
    spans = otlp_producer(attributes, kind=kind, name="send")
    graph = build_service_map([Trace(spans[0].trace_id, spans)])
    assert node in graph, sorted(graph.nodes)
    assert graph.edges[("trips", ""), node]["asynchronous"] is False


def test_sdk_call_that_sends_nothing_stays_an_ordinary_inferred_node():
    spans = otlp_producer({"rpc.system": "aws-api", "rpc.service": "SQS", "rpc.method": "ReceiveMessage",
                           "aws.sqs.queue_url": QUEUE_URL}, kind=3, name="SQS.ReceiveMessage")  # fmt: skip
    graph = build_service_map([Trace(spans[0].trace_id, spans)])
    assert ("SQS", "AWS::SQS::Queue") in graph and QUEUE not in graph


def test_xray_sqs_subsegment_is_named_by_its_queue_url():
    doc = {"name": "api", "id": "70de5b6f19ff9a0a", "trace_id": "1-581cf771-a006649127e371903a2de979",
           "start_time": 1478293361.271, "end_time": 1478293361.449, "origin": ORIGIN_LAMBDA,
           "subsegments": [{"name": "SQS", "id": "70de5b6f19ff9a0b", "namespace": "aws",
                            "start_time": 1478293361.3, "end_time": 1478293361.4,
                            "aws": {"operation": "SendMessage", "queue_url": QUEUE_URL}}]}  # fmt: skip
    spans = spans_from_document(doc)
    graph = build_service_map([Trace(spans[0].trace_id, spans)])
    assert graph.has_edge(API, QUEUE)


# --- consumers: through links, through being parented to the send ------------------------------------


def producer_trace(label: str, *, status: Status = Status.OK) -> Trace:
    return build_trace(
        [("web", None, 0, 50, lam("api")), (f"{label}-send", "web", 10, 20, send(status=status))],
        trace=label,
    )


def test_consumer_linked_from_another_trace_is_an_async_edge_from_the_queue():
    consumer = build_trace(
        [("c", None, 120, 170, lam("worker", kind=Kind.CONSUMER, status=Status.FAULT, links=[("p", "p-send")]))],
        trace="c",
    )
    graph = build_service_map([producer_trace("p"), consumer])
    assert_async_hop(graph, API, QUEUE, WORKER)
    edge = graph.edges[QUEUE, WORKER]
    assert edge["link_stats"].total_count == 1 and edge["link_stats"].fault_count == 1  # the consumer's status
    assert edge["event_age"].p50_s == pytest.approx(0.100, rel=0.05)  # consumer start - producer end


def test_consumer_parented_to_the_send_is_an_async_edge_not_a_call():
    # the demo's shape: Lambda's SQS poller continues the first record's trace header, so the worker's
    # invocation is a child of the send, links to every record's producer, and has one consumer span per record
    rows = [
        ("web", None, 0, 50, lam("api")),
        ("p1-send", "web", 10, 20, send()),
        ("invoke", "p1-send", 400, 500, lam("worker", links=[("t", "p1-send"), ("other", "other-send")])),
        ("rec1", "invoke", 401, 450, {"service": "worker", "kind": Kind.CONSUMER, "links": [("t", "p1-send")]}),
        ("rec2", "invoke", 451, 499, {"service": "worker", "kind": Kind.CONSUMER, "status": Status.FAULT,
                                      "links": [("other", "other-send")]}),
    ]  # fmt: skip
    graph = build_service_map([build_trace(rows, trace="t"), producer_trace("other")])
    assert_async_hop(graph, API, QUEUE, WORKER)
    received = graph.edges[QUEUE, WORKER]["link_stats"]
    assert received.total_count == 2  # two messages, each counted once (parent, invocation link, record link)
    assert received.fault_count == 1  # with the status of the record's consumer span
    assert graph.edges[API, QUEUE]["stats"].total_count == 2
    assert graph.graph["unresolved_links"] == 0


def test_consumer_span_in_the_producers_own_service_goes_through_the_queue():
    rows = [
        ("web", None, 0, 50, lam("api")),
        ("s", "web", 10, 20, send()),
        ("handle", "s", 30, 40, {"service": "api", "kind": Kind.CONSUMER}),
    ]
    graph = build_service_map([build_trace(rows)])
    assert edges(graph) == {(("client", "client"), API): False, (API, QUEUE): False, (QUEUE, API): True}


def test_plain_producer_with_a_consumer_child_never_draws_a_synchronous_edge():
    # a Zipkin/Jaeger-style PRODUCER with only a remote service name, and its CONSUMER child in another service
    rows = [
        ("web", None, 0, 50, lam("api")),
        ("pub", "web", 10, 20, {"service": "api", "kind": Kind.PRODUCER, "namespace": "remote",
                                "remote_service": "kafka"}),
        ("sub", "pub", 30, 40, {"service": "billing", "kind": Kind.CONSUMER}),
    ]  # fmt: skip
    graph = build_service_map([build_trace(rows)])
    assert_async_hop(graph, API, ("kafka", "remote"), ("billing", ""))


def test_non_messaging_async_call_linked_and_parented_makes_no_self_loop():
    # Step Functions StartExecution: the execution is the call's child AND links to it
    rows = [
        ("api", None, 0, 30, lam("api")),
        ("start", "api", 5, 10, {"service": "api", "kind": Kind.CLIENT, "namespace": "aws",
                                 "remote_service": "StepFunctions"}),
        ("exec", "start", 11, 90, {"service": "flow", "origin": "AWS::StepFunctions::StateMachine",
                                   "kind": Kind.SERVER, "links": [("t", "start")]}),
    ]  # fmt: skip
    graph = build_service_map([build_trace(rows)])
    assert not [e for e in graph.edges if e[0] == e[1]]
    assert graph.edges[API, ("flow", "AWS::StepFunctions::StateMachine")]["asynchronous"] is False


# --- bounds: cycles, missing traces, fan-out ----------------------------------------------------------


def test_link_cycles_and_links_to_missing_traces_are_bounded_and_reported():
    a = build_trace(
        [("a", None, 0, 50, lam("api", links=[("b", "b-send")])), ("a-send", "a", 10, 20, send())], trace="a"
    )
    b = build_trace(
        [("b", None, 60, 90, lam("worker", links=[("a", "a-send"), ("gone", "x")])), ("b-send", "b", 70, 80,
                                                                                      send("worker"))],
        trace="b",
    )  # fmt: skip
    graph = build_service_map([a, b])
    assert graph.edges[QUEUE, WORKER]["asynchronous"] is True
    assert graph.edges[QUEUE, API]["asynchronous"] is True
    assert graph.graph["unresolved_links"] == 1
    assert "1 span links point outside this window" in render_map_text(graph)


def test_a_fan_out_of_10000_links_is_bounded():
    producers = [producer_trace(f"p{i}") for i in range(20)]
    tid = trace_id_for("fan")
    links = [SpanLink(trace_id_for(f"p{i % 20}"), span_id_for(f"p{i % 20}-send")) for i in range(20)]
    links += [SpanLink(f"{i:032x}", f"{i + 1:016x}") for i in range(10_000 - 20)]  # producers not in the store
    fan = Span(tid, "f" * 16, None, "worker", "batch", Kind.CONSUMER, BASE_NS, BASE_NS + 1_000_000,
               origin=ORIGIN_LAMBDA, links=links)  # fmt: skip
    acc = ServiceMapAccumulator(retain_links=5_000)
    acc.add_traces([*producers, Trace(tid, [fan])])
    graph = acc.graph()
    assert graph.graph["dropped_links"] == 10_000 - MAX_SPAN_LINKS
    assert graph.edges[QUEUE, WORKER]["link_stats"].total_count == 20
    assert graph.graph["unresolved_links"] == MAX_SPAN_LINKS - 20
    acc.add_trace(Trace(tid, [fan]))  # replacing the trace does not count the fan-out twice
    assert acc.graph().graph["dropped_links"] == 10_000 - MAX_SPAN_LINKS


def test_the_accumulator_forgets_the_oldest_link_joins_beyond_its_bound():
    acc = ServiceMapAccumulator(retain_links=10)
    for i in range(30):
        acc.add_trace(producer_trace(f"p{i}"))
    assert len(acc._targets) == 10
    acc.add_trace(build_trace([("c", None, 100, 110, lam("worker", links=[("p0", "p0-send"), ("p29", "p29-send")]))],
                              trace="c"))  # fmt: skip
    graph = acc.graph()
    assert graph.graph["unresolved_links"] == 1  # p0's send was forgotten, p29's is known
    assert graph.edges[QUEUE, WORKER]["link_stats"].total_count == 1


# --- every output: incremental map, json, text, dot, mermaid, live collector ----------------------------


def hop_traces() -> list[Trace]:
    consumer = build_trace(
        [("c", None, 120, 170, lam("worker", kind=Kind.CONSUMER, links=[("p", "p-send")]))], trace="c"
    )
    return [consumer, producer_trace("p")]


def test_incremental_map_matches_the_one_shot_map_in_any_order():
    acc = ServiceMapAccumulator()
    for trace in hop_traces():  # the consumer arrives first, as it can in a live collector
        acc.add_trace(trace)
        acc.graph()
    assert_async_hop(acc.graph(), API, QUEUE, WORKER)


def test_every_format_draws_the_hop_through_the_queue():
    graph = build_service_map(hop_traces())
    text = render_map_text(graph)
    assert "api [AWS::Lambda::Function] -> orders-queue [AWS::SQS::Queue]" in text
    assert "orders-queue [AWS::SQS::Queue] ~> worker [AWS::Lambda::Function]  (async link)" in text
    assert "api [AWS::Lambda::Function] -> worker" not in text
    document = service_graph_json(graph)
    by_name = {s["Name"]: s for s in document["Services"]}
    queue = by_name["orders-queue"]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert [e["ReferenceId"] for e in by_name["api"]["Edges"]] == [queue["ReferenceId"]]
    (received,) = queue["Edges"]
    assert received["ReferenceId"] == by_name["worker"]["ReferenceId"] and received["EdgeType"] == "link"
    dot = render_map_dot(graph)
    ids = {line.split()[0]: line for line in dot.splitlines() if "label=" in line and "->" not in line}
    queue_id = next(i for i, line in ids.items() if "orders-queue" in line)
    assert any(line.strip().startswith(f"{queue_id} ->") and "style=dashed" in line for line in dot.splitlines())
    mermaid = render_map_mermaid(graph)
    queue_id = next(line.split("[")[0].strip() for line in mermaid.splitlines() if "orders-queue" in line)
    assert any(line.strip().startswith(f"{queue_id} -.->") for line in mermaid.splitlines())


def test_live_collector_map_draws_the_queue(tmp_path: Path) -> None:
    config = CollectorConfig(
        db_path=tmp_path / "spans.db", xray_udp=None, otlp_http=("127.0.0.1", 0), otlp_grpc=None, log_interval_s=0
    )
    with BackgroundCollector(config) as collector:
        host, port = collector.addresses["otlp_http"]
        headers = {"Content-Type": "application/x-protobuf"}
        for trace in hop_traces():  # two requests, consumer first
            body = spans_to_request(trace.spans).SerializeToString()
            assert requests.post(f"http://{host}:{port}/v1/traces", data=body, headers=headers).status_code == 200
        document = requests.get(f"http://{host}:{port}/v1/service-map").json()
    by_name = {s["Name"]: s for s in document["Services"]}
    assert by_name["orders-queue"]["Type"] == "AWS::SQS::Queue"
    assert [e.get("EdgeType") for e in by_name["orders-queue"]["Edges"]] == ["link"]
    assert by_name["orders-queue"]["Edges"][0]["ReferenceId"] == by_name["worker"]["ReferenceId"]
    assert all(e["ReferenceId"] != by_name["worker"]["ReferenceId"] for e in by_name["api"]["Edges"])
