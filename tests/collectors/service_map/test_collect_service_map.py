"""The collector keeps an incremental service map as traces are written (whole traces, across batches)."""

from __future__ import annotations

from pathlib import Path

import requests
from spanscope.collectors.collector import BackgroundCollector, CollectorConfig
from spanscope.collectors.formats.otlp_proto import spans_to_request
from spanscope.collectors.model import Kind

from tests.builders import make_span


def test_service_map_follows_traces_written_in_pieces(tmp_path: Path) -> None:
    config = CollectorConfig(
        db_path=tmp_path / "spans.db",
        xray_udp=None,
        otlp_http=("127.0.0.1", 0),
        otlp_grpc=None,
        log_interval_s=0,
    )
    with BackgroundCollector(config) as collector:
        assert collector.service_map is not None
        host, port = collector.addresses["otlp_http"]
        url = f"http://{host}:{port}/v1/traces"
        parts = [
            [make_span("front", None, 0, 50, service="web", kind=Kind.SERVER)],
            [
                make_span("call", "front", 5, 40, service="web", kind=Kind.CLIENT),
                make_span("back", "call", 10, 30, service="orders", kind=Kind.SERVER),
            ],
        ]
        for part in parts:
            body = spans_to_request(part).SerializeToString()
            assert requests.post(url, data=body, headers={"Content-Type": "application/x-protobuf"}).status_code == 200
        assert collector.refresh_service_map() == 1
        graph = collector.service_map.graph()
        name = {node: data["name"] for node, data in graph.nodes(data=True)}
        edges = {(name[a], name[b]) for a, b in graph.edges}
        assert ("web", "orders") in edges
        assert graph.graph["trace_count"] == 1
        assert collector.counters.get("service_map.trace_updates") == 1


def test_service_map_endpoint_serves_get_service_graph_json(tmp_path: Path) -> None:
    config = CollectorConfig(
        db_path=tmp_path / "spans.db", xray_udp=None, otlp_http=("127.0.0.1", 0), otlp_grpc=None, log_interval_s=0
    )
    with BackgroundCollector(config) as collector:
        host, port = collector.addresses["otlp_http"]
        spans = [
            make_span("front", None, 0, 50, service="web", kind=Kind.SERVER),
            make_span("back", "front", 10, 30, service="orders", kind=Kind.SERVER),
        ]
        body = spans_to_request(spans).SerializeToString()
        headers = {"Content-Type": "application/x-protobuf"}
        assert requests.post(f"http://{host}:{port}/v1/traces", data=body, headers=headers).status_code == 200
        graph = requests.get(f"http://{host}:{port}/v1/service-map").json()
        names = {service["Name"] for service in graph["Services"]}
        assert {"web", "orders"} <= names


def test_map_follows_the_store_cursor_and_holds_nothing_per_trace_meanwhile(tmp_path: Path) -> None:
    """Traces written while nobody looks are found by the store's change cursor, not kept in the
    collector (a set of pending trace ids used to grow with every trace: the soak's RSS creep)."""
    config = CollectorConfig(
        db_path=tmp_path / "spans.db", xray_udp=None, otlp_http=("127.0.0.1", 0), otlp_grpc=None, log_interval_s=0
    )
    with BackgroundCollector(config) as collector:
        host, port = collector.addresses["otlp_http"]
        headers = {"Content-Type": "application/x-protobuf"}
        for i in range(3):
            spans = [make_span(f"r{i}", None, 0, 5, trace=f"t{i}", service=f"s{i}", kind=Kind.SERVER)]
            body = spans_to_request(spans).SerializeToString()
            assert requests.post(f"http://{host}:{port}/v1/traces", data=body, headers=headers).status_code == 200
        assert collector.writer is not None and collector.writer._after_commit == []  # no per-trace hook
        assert collector.refresh_service_map() == 3
        assert collector.refresh_service_map() == 0  # nothing new
        assert collector.service_map.graph().graph["trace_count"] == 3


def test_a_stale_map_is_rebuilt_from_the_whole_store(tmp_path: Path) -> None:
    from spanscope.collectors.store import open_store

    db = tmp_path / "spans.db"
    with open_store(db) as store:  # written before the collector started: not on the map until a rebuild
        store.write_spans([make_span("old", None, 0, 5, trace="old", service="old", kind=Kind.SERVER)])
    config = CollectorConfig(db_path=db, xray_udp=None, otlp_http=("127.0.0.1", 0), otlp_grpc=None, log_interval_s=0)
    with BackgroundCollector(config) as collector:
        host, port = collector.addresses["otlp_http"]
        spans = [make_span(f"r{i}", None, 0, 5, trace=f"t{i}", service=f"s{i}", kind=Kind.SERVER) for i in range(3)]
        body = spans_to_request(spans).SerializeToString()
        headers = {"Content-Type": "application/x-protobuf"}
        assert requests.post(f"http://{host}:{port}/v1/traces", data=body, headers=headers).status_code == 200
        assert collector.refresh_service_map() == 3
        collector._mark_map_stale()  # what a store swap after corruption does
        assert collector.refresh_service_map() == 4
        assert collector.counters.get("service_map.rebuilds") == 1
        assert collector.service_map.graph().graph["trace_count"] == 4
