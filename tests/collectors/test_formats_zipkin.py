"""Zipkin v2 → spans: the real openzipkin samples field by field, shared client/server halves, malformed."""

from __future__ import annotations

from pathlib import Path

import orjson
from spanscope.collectors.formats.zipkin import parse_spans, server_half_id
from spanscope.collectors.model import Kind, Status, Trace

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "zipkin"


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
