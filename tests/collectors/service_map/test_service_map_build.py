"""Service map rules: nodes, client node, inferred nodes, edges, async links, statistics, increments."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from spanscope.collectors.conventions import (
    ORIGIN_BATCH,
    ORIGIN_EDGE_DEVICE,
    ORIGIN_LAMBDA,
    ORIGIN_REMOTE,
)
from spanscope.collectors.model import Kind, Status, Trace
from spanscope.collectors.service_map import (
    CLIENT_NODE,
    HISTOGRAM_BOUNDS_S,
    ServiceMapAccumulator,
    build_service_map,
    rebuild_from_store,
)
from spanscope.collectors.service_map.stats import FINE_BOUNDS_NS, Statistics, add_duration, new_counts

from tests.builders import build_trace

API = ("api", ORIGIN_LAMBDA)
ORDERS = ("orders", ORIGIN_LAMBDA)
DDB = ("DynamoDB", "AWS::DynamoDB::Table")
SQS = ("SQS", "AWS::SQS::Queue")


def lam(service: str, **kw):
    return {"service": service, "origin": ORIGIN_LAMBDA, "kind": Kind.SERVER, **kw}


def ddb_call(service: str = "api", **kw):
    return {"service": service, "kind": Kind.CLIENT, "namespace": "aws", "remote_service": "DynamoDB", **kw}


def api_trace(label: str, *, status: Status = Status.OK, ddb_status: Status = Status.OK, end: float = 100) -> Trace:
    return build_trace(
        [
            ("root", None, 0, end, lam("api", status=status)),
            ("get", "root", 10, 30, ddb_call(status=ddb_status)),
        ],
        trace=label,
    )


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


# --- asynchronous links -------------------------------------------------------------------------------


def sqs_pair(label: str, *, consumer_status: Status = Status.OK) -> list[Trace]:
    producer = build_trace(
        [
            ("web", None, 0, 50, lam("api")),
            (
                "send",
                "web",
                10,
                20,
                {"service": "api", "kind": Kind.PRODUCER, "namespace": "aws", "remote_service": "SQS"},
            ),
        ],
        trace=f"{label}-p",
    )
    consumer = build_trace(
        [
            (
                "consume",
                None,
                120,
                170,
                lam("worker", kind=Kind.CONSUMER, status=consumer_status, links=[(f"{label}-p", "send")]),
            ),
        ],
        trace=f"{label}-c",
    )
    return [producer, consumer]


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


# --- statistics ---------------------------------------------------------------------------------------


def test_statistics_count_each_status_like_xray():
    traces = [
        api_trace("ok1"),
        api_trace("ok2"),
        api_trace("err", status=Status.ERROR),
        api_trace("thr", status=Status.THROTTLE),
        api_trace("flt", status=Status.FAULT),
    ]
    s = build_service_map(traces).nodes[API]["stats"]
    assert (s.ok_count, s.error_other, s.throttle_count, s.fault_count) == (2, 1, 1, 1)
    assert s.error_count == 2 and s.total_count == 5
    assert s.total_response_time_s == pytest.approx(0.5)
    doc = s.summary_json()
    assert doc == {
        "OkCount": 2,
        "ErrorStatistics": {"ThrottleCount": 1, "OtherCount": 1, "TotalCount": 2},
        "FaultStatistics": {"OtherCount": 1, "TotalCount": 1},
        "TotalCount": 5,
        "TotalResponseTime": pytest.approx(0.5),
    }


def test_histogram_buckets_are_fixed_and_inclusive_of_upper_bound():
    counts = new_counts()
    for seconds in (0.001, 0.0011, 0.0025, 0.003, 0.01, 0.5, 0.5001, 90_000.0, 200_000.0):
        add_duration(counts, 0, round(seconds * 1e9))
    s = Statistics.from_counts(counts)
    assert s.histogram == ((0.001, 1), (0.0025, 2), (0.005, 1), (0.01, 1), (0.5, 1), (1.0, 1), (86400.0, 2))
    assert all(value in HISTOGRAM_BOUNDS_S for value, _ in s.histogram)
    assert sum(c for _, c in s.histogram) == s.total_count == 9
    assert s.histogram_json()[0] == {"Value": 0.001, "Count": 1}


def test_every_histogram_bound_is_a_fine_bound():
    for bound in HISTOGRAM_BOUNDS_S:
        assert round(bound * 1e9) in FINE_BOUNDS_NS


def test_percentiles_are_nearest_rank_within_bucket_resolution():
    counts = new_counts()
    for ms in range(1, 101):  # 1..100 ms
        add_duration(counts, 0, ms * 1_000_000)
    s = Statistics.from_counts(counts)
    assert s.p50_s == pytest.approx(0.050, rel=0.045) and s.p50_s >= 0.050
    assert s.p90_s == pytest.approx(0.090, rel=0.045) and s.p90_s >= 0.090
    assert s.p99_s == pytest.approx(0.099, rel=0.045) and s.p99_s >= 0.099
    assert Statistics.from_counts(new_counts()).p50_s is None


def test_zero_and_negative_durations_count_as_zero():
    trace = build_trace([("root", None, 10, 5, lam("api"))])
    s = build_service_map([trace]).nodes[API]["stats"]
    assert s.total_count == 1 and s.total_response_time_s == 0


# --- incremental --------------------------------------------------------------------------------------


def test_in_progress_spans_make_structure_but_no_statistics():
    trace = build_trace(
        [("root", None, 0, 0, lam("api", in_progress=True)), ("get", "root", 1, 5, ddb_call())], trace="live"
    )
    g = build_service_map([trace])
    assert API in g and g.nodes[API]["stats"].total_count == 0
    assert g.edges[API, DDB]["stats"].total_count == 1


def test_accumulator_replaces_a_trace_added_again():
    acc = ServiceMapAccumulator()
    partial = build_trace(
        [("root", None, 0, 0, lam("api", in_progress=True)), ("get", "root", 1, 5, ddb_call())], trace="x"
    )
    acc.add_trace(partial)
    acc.add_trace(api_trace("other"))
    done = build_trace(
        [
            ("root", None, 0, 100, lam("api", status=Status.FAULT)),
            ("get", "root", 1, 5, ddb_call()),
            ("send", "root", 6, 9, {"service": "api", "kind": Kind.CLIENT, "namespace": "aws", "remote_service": "S3"}),
        ],
        trace="x",
    )
    acc.add_trace(done)
    g = acc.graph()
    assert acc.trace_count == 2
    assert g.nodes[API]["stats"].total_count == 2
    assert g.nodes[API]["stats"].fault_count == 1
    assert g.edges[API, DDB]["stats"].total_count == 2
    assert ("S3", "AWS::S3::Bucket") in g
    # replacing with a smaller version removes what only the old version had
    acc.add_trace(api_trace("x"))
    g = acc.graph()
    assert ("S3", "AWS::S3::Bucket") not in g
    assert g.nodes[API]["stats"].fault_count == 0
    assert g.nodes[API]["stats"] == build_service_map([api_trace("other"), api_trace("x")]).nodes[API]["stats"]


def test_accumulator_matches_one_shot_build_and_handles_links_on_replace():
    traces = [*sqs_pair("a"), *sqs_pair("b"), api_trace("c")]
    acc = ServiceMapAccumulator()
    for t in traces:
        acc.add_trace(t)
    for t in traces:  # adding everything again changes nothing
        acc.add_trace(t)
    one_shot = build_service_map(traces)
    g = acc.graph()
    assert set(g.edges) == set(one_shot.edges)
    for key in one_shot.nodes:
        assert g.nodes[key]["stats"] == one_shot.nodes[key]["stats"]
    for key in one_shot.edges:
        assert g.edges[key]["link_stats"] == one_shot.edges[key]["link_stats"]


def test_accumulator_predicate_rejecting_a_new_version_removes_the_old():
    acc = ServiceMapAccumulator(predicate=lambda t: not any(s.status is Status.FAULT for s in t.spans))
    acc.add_trace(api_trace("x"))
    assert acc.add_trace(api_trace("x", status=Status.FAULT)) is False
    assert API not in acc.graph()


def test_accumulator_forgets_beyond_retention():
    acc = ServiceMapAccumulator(retain_traces=1)
    acc.add_trace(api_trace("a"))
    acc.add_trace(api_trace("b"))
    acc.add_trace(api_trace("b"))  # still retained: replaced
    assert acc.graph().nodes[API]["stats"].total_count == 2


class _FakeStore:
    def __init__(self, traces):
        self.traces = traces
        self.calls = []

    def iter_traces(self, *, since_ns=None, until_ns=None):
        self.calls.append((since_ns, until_ns))
        return iter(self.traces)


def test_rebuild_from_store_resets_and_refills():
    store = _FakeStore([api_trace("a"), api_trace("b")])
    acc = ServiceMapAccumulator()
    acc.add_trace(api_trace("stale", status=Status.FAULT))
    acc.rebuild_from_store(store, 5, 10)
    assert store.calls == [(5, 10)]
    assert acc.graph().nodes[API]["stats"].fault_count == 0
    assert acc.graph().nodes[API]["stats"].total_count == 2
    assert rebuild_from_store(store).trace_count == 2


def test_graph_metadata():
    g = build_service_map([api_trace("a"), api_trace("b")])
    assert g.graph["trace_count"] == 2 and g.graph["span_count"] == 4
    assert g.graph["start_ns"] < g.graph["end_ns"]


def test_deep_trace_does_not_recurse():
    from tests.builders import chain

    spans = chain(5000)
    g = build_service_map([Trace(spans[0].trace_id, spans)])
    assert g.number_of_nodes() == 8  # 7 services + client


def test_update_from_store_follows_a_real_store(tmp_path):
    from spanscope.collectors.store import open_store

    from tests.builders import build_spans

    acc = ServiceMapAccumulator()
    with open_store(tmp_path / "s.db") as store:
        cursor = acc.update_from_store(store, 0)
        assert cursor == 0 and API not in acc.graph()
        store.write_spans(build_spans([("root", None, 0, 0, lam("api", in_progress=True))], trace="live"))
        cursor = acc.update_from_store(store, cursor)
        assert acc.graph().nodes[API]["stats"].total_count == 0  # in progress: structure only
        store.write_spans(
            build_spans([("root", None, 0, 50, lam("api")), ("get", "root", 1, 5, ddb_call())], trace="live")
        )
        cursor = acc.update_from_store(store, cursor)
        g = acc.graph()
        assert g.nodes[API]["stats"].total_count == 1 and g.has_edge(API, DDB)
        assert acc.update_from_store(store, cursor) == cursor


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


# --- property: replacing traces in any order gives the one-shot map ------------------------------------

_SERVICES = ["a", "b", "c"]
_CALLS = [{}, {"namespace": "aws", "remote_service": "DynamoDB"}, {"namespace": "aws", "remote_service": "SQS"},
          {"namespace": "remote", "remote_service": "pay.example.com"}]  # fmt: skip


@st.composite
def _trace_rows(draw, label: str):
    n = draw(st.integers(1, 7))
    rows = []
    for i in range(n):
        parent = None if i == 0 else f"{label}s{draw(st.integers(0, i - 1))}"
        options = {
            "service": draw(st.sampled_from(_SERVICES)),
            "kind": draw(st.sampled_from(list(Kind))),
            "status": draw(st.sampled_from(list(Status))),
            "origin": ORIGIN_LAMBDA,
            **draw(st.sampled_from(_CALLS)),
        }
        if draw(st.booleans()) and i == 0:
            options["links"] = [(draw(st.sampled_from(["t0", "t1", "t2"])), draw(st.sampled_from(["t0s1", "t1s1"])))]
        start = draw(st.integers(0, 50))
        rows.append((f"{label}s{i}", parent, start, start + draw(st.integers(0, 300)), options))
    return rows


def _signature(g):
    nodes = {k: (d["stats"].summary_json(), d["stats"].histogram, d["root"], d["kind"]) for k, d in g.nodes(data=True)}
    edges = {}
    for k in g.edges:
        d = g.edges[k]
        edges[k] = tuple(
            None if d[name] is None else (d[name].summary_json(), d[name].histogram)
            for name in ("stats", "link_stats", "event_age")
        )
    return nodes, edges


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_replacing_traces_in_any_order_equals_the_one_shot_map(data):
    finals = [build_trace(data.draw(_trace_rows(f"t{i}")), trace=f"t{i}") for i in range(3)]
    versions = []
    for trace in finals:  # earlier partial, in-progress versions of each trace
        if len(trace.spans) > 1 and data.draw(st.booleans()):
            partial = [s for s in trace.spans[: data.draw(st.integers(1, len(trace.spans) - 1))]]
            for span in partial[:1]:
                span_copy = type(span)(**{f: getattr(span, f) for f in span.__slots__})
                span_copy.in_progress = True
                partial = [span_copy, *partial[1:]]
            versions.append(Trace(trace.trace_id, partial))
    order = data.draw(st.permutations(versions))
    acc = ServiceMapAccumulator(retain_traces=None)
    for trace in order:
        acc.add_trace(trace)
    for trace in data.draw(st.permutations(finals)):
        acc.add_trace(trace)
    assert _signature(acc.graph()) == _signature(build_service_map(finals))
