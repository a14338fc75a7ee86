"""An acknowledged span is already in the forward queue and found by the next service-map refresh.

Before, the writer acknowledged first and ran its after-commit hooks second: a collector killed in
between had stored spans it would never forward, and a map refresh right after the reply could miss
them (``test_collect_service_map.py`` failed intermittently on that).
"""

from __future__ import annotations

from pathlib import Path

import requests
from spanscope.collectors.collector import BackgroundCollector
from spanscope.collectors.formats.otlp_proto import spans_to_request
from spanscope.collectors.model import Kind

from tests.builders import collector_config, make_span


def test_every_acknowledged_request_is_already_queued_for_forwarding_and_mapped(tmp_path: Path) -> None:
    unreachable = "http://127.0.0.1:9/v1/traces"  # nothing answers: payloads stay queued
    config = collector_config(tmp_path / "spans.db", forward_otlp=unreachable)
    with BackgroundCollector(config) as collector:
        url = "http://{}:{}/v1/traces".format(*collector.addresses["otlp_http"])
        for i in range(30):
            spans = [make_span(f"r{i}", None, 0, 5, trace=f"t{i}", service=f"s{i % 3}", kind=Kind.SERVER)]
            body = spans_to_request(spans).SerializeToString()
            reply = requests.post(url, data=body, headers={"Content-Type": "application/x-protobuf"}, timeout=30)
            assert reply.status_code == 200
            # checked right after each reply, with no waiting
            assert collector.counters.get("forward_otlp.queued") >= i + 1
            assert collector.refresh_service_map() == 1
