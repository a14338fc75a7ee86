"""X-Ray daemon UDP receiver: good, streamed and in-progress documents stored; bad datagrams counted."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from spanscope.collectors.collector import BackgroundCollector, Collector, CollectorConfig
from spanscope.collectors.receivers.xray_udp import DEFAULT_RCVBUF_BYTES, parse_datagram

from tests.waiting import wait_for

HEADER = b'{"format": "json", "version": 1}\n'
TRACE = "1-5759e988-bd862e3fe1be46a994272793"
TRACE_HEX = "5759e988bd862e3fe1be46a994272793"


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Collector]:
    config = CollectorConfig(
        db_path=tmp_path / "spans.db", xray_udp=("127.0.0.1", 0), otlp_http=None, otlp_grpc=None, log_interval_s=0
    )
    with BackgroundCollector(config) as running:
        yield running


def send(collector: Collector, *payloads: bytes) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for payload in payloads:
            sock.sendto(payload, collector.addresses["xray_udp"])
    finally:
        sock.close()


def received(collector: Collector) -> int:
    return collector.counters.get("xray_udp.received")


def segment(**fields) -> dict:
    doc = {"name": "api", "id": "70de5b6f19ff9a0a", "trace_id": TRACE, "start_time": 1465300000.0}
    doc.update(fields)
    return doc


def datagram(doc: dict) -> bytes:
    return HEADER + json.dumps(doc).encode()


def test_segment_with_nested_subsegments_is_stored(collector: Collector) -> None:
    doc = segment(
        end_time=1465300000.5,
        subsegments=[
            {
                "name": "DynamoDB",
                "id": "1111111111111111",
                "namespace": "aws",
                "start_time": 1465300000.1,
                "end_time": 1465300000.2,
            },
        ],
    )
    send(collector, datagram(doc))
    wait_for(lambda: collector.counters.get("writer.spans") >= 2)
    trace = collector.store.get_trace(TRACE_HEX)
    by_id = {s.span_id: s for s in trace.spans}
    assert by_id["1111111111111111"].parent_id == "70de5b6f19ff9a0a"
    assert collector.counters.get("xray_udp.accepted") == 1


def test_streamed_subsegment_joins_its_segment_and_in_progress_is_replaced(collector: Collector) -> None:
    send(collector, datagram(segment(in_progress=True)))
    wait_for(lambda: collector.counters.get("writer.spans") >= 1)
    assert collector.store.get_trace(TRACE_HEX).spans[0].in_progress
    streamed = {
        "type": "subsegment",
        "name": "S3",
        "id": "2222222222222222",
        "trace_id": TRACE,
        "parent_id": "70de5b6f19ff9a0a",
        "namespace": "aws",
        "start_time": 1465300000.1,
        "end_time": 1465300000.3,
    }
    send(collector, datagram(streamed), datagram(segment(end_time=1465300001.0)))
    wait_for(lambda: collector.counters.get("writer.spans") >= 3)
    trace = collector.store.get_trace(TRACE_HEX)
    by_id = {s.span_id: s for s in trace.spans}
    assert set(by_id) == {"70de5b6f19ff9a0a", "2222222222222222"}
    assert not by_id["70de5b6f19ff9a0a"].in_progress
    assert by_id["70de5b6f19ff9a0a"].end_ns == 1465300001 * 10**9
    assert by_id["2222222222222222"].parent_id == "70de5b6f19ff9a0a"
    assert trace.root is by_id["70de5b6f19ff9a0a"]


def test_malformed_datagrams_are_counted_and_the_receiver_keeps_running(collector: Collector) -> None:
    bad = [
        b"no header at all",
        b'{"format": "xml", "version": 1}\n{}',
        HEADER + b"{not json",
        HEADER + b"[1, 2]",
        HEADER + json.dumps({"name": "x", "id": "short", "trace_id": TRACE, "start_time": 1}).encode(),
        b"\xff\xfe\n\x00",
    ]
    send(collector, *bad)
    wait_for(lambda: received(collector) >= len(bad))
    snapshot = collector.counters.snapshot()
    rejected = {k.split(":", 1)[1]: v for k, v in snapshot.items() if k.startswith("xray_udp.rejected:")}
    assert sum(rejected.values()) == len(bad)
    assert {"missing_header", "bad_header", "bad_json", "not_a_segment", "invalid_segment"} <= set(rejected)
    send(collector, datagram(segment(end_time=1465300000.5)))
    # the writer may count its commit before the receiver counts the datagram accepted: wait for both
    wait_for(lambda: collector.counters.get("writer.spans") == 1 and collector.counters.get("xray_udp.accepted") == 1)
    assert collector.store.span_count() == 1


def test_parse_datagram_refuses_oversized_input() -> None:
    spans, reason = parse_datagram(HEADER + b" " * (64 * 1024), lambda doc: [])
    assert (spans, reason) == ([], "too_large")


def test_receive_buffer_request_is_reported(collector: Collector) -> None:
    udp = collector._udp
    assert udp.rcvbuf_requested == DEFAULT_RCVBUF_BYTES
    assert udp.rcvbuf_granted > 0
    assert udp.rcvbuf_capped == (udp.rcvbuf_granted < udp.rcvbuf_requested)
    if udp.rcvbuf_capped:
        assert any("receive buffer capped" in w for w in collector.warnings)


def test_datagrams_arriving_while_the_write_queue_is_full_are_counted_undecoded(
    collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = collector.writer
    assert writer is not None
    monkeypatch.setattr(type(writer), "saturated", property(lambda self: True))
    # one well-formed, one malformed: neither is decoded, both are counted as dropped for overload
    send(collector, datagram(segment(end_time=1465300000.5)), b"not a datagram")
    wait_for(lambda: collector.counters.get("xray_udp.dropped:overload") == 2)
    assert received(collector) == 2
    assert collector.counters.get("xray_udp.rejected:missing_header") == 0
    assert collector.counters.get("xray_udp.accepted") == 0
    monkeypatch.undo()
    send(collector, datagram(segment(end_time=1465300000.5)))
    wait_for(lambda: collector.counters.get("xray_udp.accepted") == 1)
