"""aws-xray-sdk's recorder pointed at the collector's UDP port, like at the X-Ray daemon.

Segments with nested subsegments, and enough subsegments to cross the SDK's streaming threshold so
that completed subsegments are sent on their own before the segment: every segment and subsegment
arrives with its parent link.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aws_xray_sdk.core.context import Context
from aws_xray_sdk.core.recorder import AWSXRayRecorder
from spanscope.collectors.collector import BackgroundCollector, Collector
from spanscope.collectors.model import otel_trace_id

from tests.builders import LOOPBACK, collector_config
from tests.waiting import wait_for


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Collector]:
    with BackgroundCollector(collector_config(tmp_path / "spans.db", xray_udp=LOOPBACK, otlp_http=None)) as running:
        yield running


def recorder_for(collector: Collector, threshold: int) -> AWSXRayRecorder:
    host, port = collector.addresses["xray_udp"]
    recorder = AWSXRayRecorder()
    recorder.configure(
        daemon_address=f"{host}:{port}",
        context=Context(),
        sampling=False,
        plugins=(),
        context_missing="LOG_ERROR",
        streaming_threshold=threshold,
        service="checkout",
    )
    return recorder


def wait_for_spans(collector: Collector, n: int) -> None:
    wait_for(lambda: collector.counters.get("writer.spans") >= n, timeout_s=15, what=f"{n} spans written")


def record(recorder: AWSXRayRecorder, fan_out: int) -> tuple[str, dict[str, str | None]]:
    """One segment with ``fan_out`` subsegments, each with a nested subsegment; returns (trace id, parents)."""
    parents: dict[str, str | None] = {}
    segment = recorder.begin_segment("checkout")
    segment.put_annotation("customer", "c-42")
    parents[segment.id] = None
    for i in range(fan_out):
        outer = recorder.begin_subsegment(f"step-{i}")
        parents[outer.id] = segment.id
        inner = recorder.begin_subsegment("DynamoDB", namespace="aws")
        parents[inner.id] = outer.id
        recorder.end_subsegment()
        recorder.end_subsegment()
    trace_id = segment.trace_id
    recorder.end_segment()
    return trace_id, parents


def check(collector: Collector, trace_id: str, parents: dict[str, str | None]) -> None:
    wait_for_spans(collector, len(parents))
    trace = collector.store.get_trace(otel_trace_id(trace_id))
    got = {s.span_id: s.parent_id for s in trace.spans}
    assert got == parents
    assert not trace.missing_parent
    root = trace.root
    assert root is not None and root.name == "checkout" and root.annotations == {"customer": "c-42"}
    assert all(s.service == "checkout" for s in trace.spans)


def test_segment_with_subsegments_below_the_streaming_threshold(collector: Collector) -> None:
    recorder = recorder_for(collector, threshold=100)
    trace_id, parents = record(recorder, fan_out=3)
    check(collector, trace_id, parents)
    assert collector.counters.get("xray_udp.received") == 1  # one document held everything


def test_streaming_threshold_sends_subsegments_independently(collector: Collector) -> None:
    recorder = recorder_for(collector, threshold=2)
    trace_id, parents = record(recorder, fan_out=6)
    check(collector, trace_id, parents)
    assert collector.counters.get("xray_udp.received") > 1  # subsegments were streamed on their own
    assert collector.counters.snapshot().get("xray_udp.rejected:invalid_segment", 0) == 0
