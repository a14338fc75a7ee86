"""Service map kept current: in-progress spans, traces replaced, retention, the store, and a property."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from spanscope.collectors.conventions import (
    ORIGIN_LAMBDA,
)
from spanscope.collectors.model import Kind, Status, Trace
from spanscope.collectors.service_map import (
    ServiceMapAccumulator,
    build_service_map,
    rebuild_from_store,
)

from tests.builders import api_trace, build_trace, ddb_call, lam, sqs_pair

API = ("api", ORIGIN_LAMBDA)
DDB = ("DynamoDB", "AWS::DynamoDB::Table")
SQS = ("SQS", "AWS::SQS::Queue")


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
