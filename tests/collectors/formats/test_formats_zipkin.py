"""Zipkin v2 → spans: the real openzipkin samples field by field, shared client/server halves, malformed."""

from __future__ import annotations

from pathlib import Path

import orjson
from spanscope.analysis import critical_path
from spanscope.collectors.formats.zipkin import parse_spans, server_half_id
from spanscope.collectors.model import Kind, Status, Trace

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "zipkin"


def load(name):
    return orjson.loads((FIXTURES / name).read_bytes())


def test_real_sample_skew_shared_span_keeps_both_halves():
    result = parse_spans(load("skew.json"))
    assert result.errors == []
    tid = "0" * 16 + "1e223ff1f80f1c69"
    async_, server, get, client = result.spans
    shared = "74280ae0c10d8062"
    derived = server_half_id(shared)
    assert derived not in (shared, "0" * 16) and len(derived) == 16

    assert (client.span_id, client.parent_id, client.service, client.kind) == (
        shared,
        "bf396325699c84bf",
        "servicea",
        Kind.CLIENT,
    )
    assert (client.start_ns, client.end_ns) == (1470150004074202000, 1470150004074202000 + 94539000)

    assert (server.span_id, server.parent_id, server.service, server.kind) == (derived, shared, "serviceb", Kind.SERVER)
    assert server.attributes == {"zipkin.shared_span_id": shared}
    assert (server.start_ns, server.end_ns) == (1470150004008761000, 1470150004008761000 + 93577000)

    # the server's own child hangs under the server half, not the client half
    assert (async_.span_id, async_.parent_id, async_.service, async_.kind) == (
        "43210ae0c10d1234",
        derived,
        "serviceb",
        Kind.INTERNAL,
    )
    assert (get.span_id, get.parent_id, get.service, get.name) == ("bf396325699c84bf", None, "servicea", "get")
    for s in result.spans:
        assert s.trace_id == tid and s.status is Status.OK and s.events == [] and s.links == []
    assert async_.resource == {"service.name": "serviceb", "zipkin.local_endpoint.ipv4": "192.0.0.0"}

    trace = Trace(tid, result.spans)
    order = [trace.spans[i].name for i, _ in trace.preorder()]
    assert order == ["get", "post", "post", "async"]
    assert not trace.missing_parent and not trace.duplicates


def test_real_sample_simple_db():
    result = parse_spans(load("simple-db-p6.json"))
    assert result.errors == []
    assert len(result.spans) == 5
    by_id = {s.span_id: s for s in result.spans}
    root = by_id["19f84f102048e047"]
    assert (root.parent_id, root.kind, root.name, root.service) == (None, Kind.SERVER, "http:/book", "bootifulmeters")
    assert root.start_ns == 1541485537291342000 and root.end_ns == 1541485537291342000 + 252016000
    assert root.attributes == {
        "http.host": "localhost",
        "http.method": "POST",
        "http.path": "/book",
        "http.url": "http://localhost:9777/book",
        "mvc.controller.class": "AppController",
        "mvc.controller.method": "postBook",
        "zipkin.remote_endpoint.ipv6": "::1",
        "zipkin.remote_endpoint.port": 53367,
    }
    assert root.namespace == ""  # a server span calls nothing
    call = by_id["8b1e63c0f49a81f7"]
    assert (call.parent_id, call.kind, call.name) == ("19f84f102048e047", Kind.CLIENT, "call")
    assert (call.namespace, call.remote_service) == ("remote", "app_db")
    assert call.attributes["sql.query"] == "call next value for hibernate_sequence"
    assert call.attributes["zipkin.remote_endpoint.serviceName"] == "app_db"
    assert call.end_ns - call.start_ns == 6051000
    assert call.resource == {"service.name": "bootifulmeters", "zipkin.local_endpoint.ipv4": "172.23.250.16"}


def test_annotations_error_tag_and_http_status():
    spans = [
        {
            "traceId": "a" * 32,
            "id": "1",
            "name": "get",
            "kind": "SERVER",
            "timestamp": 10,
            "duration": 5,
            "localEndpoint": {"serviceName": "api"},
            "tags": {"error": "boom"},
            "annotations": [{"timestamp": 12, "value": "ws"}],
        },
        {
            "traceId": "a" * 32,
            "id": "2",
            "parentId": "1",
            "name": "get",
            "kind": "CLIENT",
            "timestamp": 11,
            "duration": 2,
            "localEndpoint": {"serviceName": "api"},
            "tags": {"http.status_code": "404", "error": "404"},
            "remoteEndpoint": {"ipv4": "10.0.0.1"},
        },
    ]
    server, client = parse_spans(spans).spans
    assert server.status is Status.FAULT and server.status_message == "boom"
    assert [(e.name, e.time_ns) for e in server.events] == [("ws", 12_000)]
    assert client.status is Status.ERROR
    assert client.span_id == "0" * 15 + "2" and client.parent_id == "0" * 15 + "1"
    assert client.namespace == ""  # no name for the remote node anywhere


def test_malformed_spans_reported_by_index():
    good = {"traceId": "b" * 16, "id": "c" * 16, "name": "x", "timestamp": 1}
    result = parse_spans(
        [
            {"traceId": "nothex", "id": "1", "timestamp": 1},
            good,
            {"traceId": "b" * 16, "id": "2"},
            "str",
            {"traceId": "b" * 16, "id": "3", "timestamp": 1, "annotations": [{"value": "v"}]},
        ]
    )
    assert [s.span_id for s in result.spans] == ["c" * 16]
    assert [e.position for e in result.errors] == ["[0]", "[2]", "[3]", "[4]"]
    assert "traceId" in result.errors[0].reason and "timestamp" in result.errors[1].reason
    assert parse_spans({"not": "a list"}).errors[0].reason == "not a Zipkin v2 span list"


def test_list_of_traces_as_the_query_api_returns():
    skew, db = load("skew.json"), load("simple-db-p6.json")
    result = parse_spans([skew, [*db, "oops"]])
    assert len(result.spans) == 9
    assert [e.position for e in result.errors] == ["[1][5]"]


# --- shared roots (Envoy, yelp.json) and span fragments ------------------------------------------------


def _one_tree(spans: list) -> Trace:
    ids = {s.span_id for s in spans}
    assert [s.name for s in spans if s.parent_id and s.parent_id not in ids] == []  # no missing parent
    trace = Trace(spans[0].trace_id, spans)
    assert len(trace.roots) == 1
    return trace


def test_real_sample_yelp_imports_as_one_tree_under_its_shared_root():
    result = parse_spans(load("yelp.json"))
    assert result.errors == [] and len(result.spans) == 16
    trace = _one_tree(result.spans)
    root = trace.spans[trace.roots[0]]
    # the Envoy ingress root: SERVER, shared, no CLIENT half in the input -> keeps its own id and no parent
    assert (root.span_id, root.parent_id, root.service) == ("2e8cfb154b59a41f", None, "routing")
    assert len(trace.children(trace.roots[0])) == 2  # the two CLIENT halves that call on from the ingress
    # halves with a CLIENT in the input are still split, the server half under its client half
    mobile = [s for s in result.spans if s.attributes.get("zipkin.shared_span_id") == "f5f268651b2a2b34"]
    assert [(s.service, s.parent_id) for s in mobile] == [("mobile_api", "f5f268651b2a2b34")]
    # the critical path does not blame the root for the whole request (its own time is the gaps only)
    root_time = sum(seg.end_ns - seg.start_ns for seg in critical_path(trace) if seg.span_id == root.span_id)
    assert root_time < 0.1 * (root.end_ns - root.start_ns)  # 6.8 ms of 132 ms; it was all of it


def test_envoy_style_shared_root_keeps_its_children():
    tid = "5759e988bd862e3fe1be46a994272793"
    spans = [
        {"traceId": tid, "id": "1" * 16, "kind": "SERVER", "shared": True, "name": "ingress",
         "timestamp": 1_000_000, "duration": 90_000, "localEndpoint": {"serviceName": "front-envoy"}},
        {"traceId": tid, "id": "2" * 16, "parentId": "1" * 16, "kind": "CLIENT", "name": "egress",
         "timestamp": 1_001_000, "duration": 80_000, "localEndpoint": {"serviceName": "front-envoy"},
         "remoteEndpoint": {"serviceName": "app"}},
        {"traceId": tid, "id": "2" * 16, "parentId": "1" * 16, "kind": "SERVER", "shared": True, "name": "GET /",
         "timestamp": 1_002_000, "duration": 75_000, "localEndpoint": {"serviceName": "app"}},
    ]  # fmt: skip
    result = parse_spans(spans)
    trace = _one_tree(result.spans)
    ingress, egress, app = result.spans
    assert (ingress.span_id, ingress.parent_id) == ("1" * 16, None)
    assert egress.parent_id == ingress.span_id
    assert (app.span_id, app.parent_id) == (server_half_id("2" * 16), egress.span_id)
    assert trace.spans[trace.roots[0]] is ingress


def test_fragments_without_timestamp_merge_as_zipkin_ui_does():
    tid = "b" * 16
    fragments = [
        {"traceId": tid, "id": "a" * 16, "name": "get", "kind": "SERVER", "timestamp": 10, "duration": 90,
         "localEndpoint": {"serviceName": "api"}, "tags": {"http.path": "/x"}},
        {"traceId": tid, "id": "c" * 16, "parentId": "a" * 16, "kind": "CLIENT",
         "localEndpoint": {"serviceName": "api"}, "annotations": [{"timestamp": 20, "value": "cs"}]},
        # a late fragment of the root: tags and an annotation only
        {"traceId": tid, "id": "a" * 16, "localEndpoint": {"serviceName": "api"}, "tags": {"http.status_code": "200"},
         "annotations": [{"timestamp": 95, "value": "flushed"}]},
        # the client's other fragment: its name, timing and remote side
        {"traceId": tid, "id": "c" * 16, "name": "select", "timestamp": 20, "duration": 30,
         "remoteEndpoint": {"serviceName": "db"}, "annotations": [{"timestamp": 50, "value": "cr"}]},
        # a span reported only as annotations: its interval comes from them
        {"traceId": tid, "id": "d" * 16, "parentId": "a" * 16, "name": "cache", "localEndpoint": {"serviceName": "api"},
         "annotations": [{"timestamp": 60, "value": "start"}, {"timestamp": 70, "value": "end"}]},
    ]  # fmt: skip
    result = parse_spans(fragments)
    assert result.errors == []  # no problem line per fragment
    root, client, cache = result.spans
    assert (root.name, root.start_ns, root.end_ns) == ("get", 10_000, 100_000)
    assert root.attributes == {"http.path": "/x", "http.status_code": "200"}
    assert [e.name for e in root.events] == ["flushed"]
    assert (client.name, client.kind, client.start_ns, client.end_ns) == ("select", Kind.CLIENT, 20_000, 50_000)
    assert client.remote_service == "db" and [e.name for e in client.events] == ["cs", "cr"]
    assert (cache.start_ns, cache.end_ns) == (60_000, 70_000)
    _one_tree(result.spans)


def test_complete_duplicates_and_contradicting_fragments_are_not_merged():
    tid = "b" * 16
    span = {"traceId": tid, "id": "a" * 16, "name": "x", "timestamp": 1, "duration": 2,
            "localEndpoint": {"serviceName": "api"}}  # fmt: skip
    other_service = {"traceId": tid, "id": "a" * 16, "localEndpoint": {"serviceName": "db"}}
    result = parse_spans([span, dict(span), other_service])
    assert len(result.spans) == 2  # duplicates are kept as the data says; the other service's fragment is alone
    assert [e.position for e in result.errors] == ["[2]"]  # it has no timestamp of its own
