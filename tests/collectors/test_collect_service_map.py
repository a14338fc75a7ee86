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
        service_map_interval_s=3600,
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
