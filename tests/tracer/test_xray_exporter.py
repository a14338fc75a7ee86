"""The X-Ray UDP exporter against a real UDP socket on 127.0.0.1: framing, 64 KB packing, never raising."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExportResult
from opentelemetry.trace import SpanContext, SpanKind
from spanscope.tracer.xray.exporter import (
    HEADER,
    MAX_DATAGRAM_BYTES,
    XRayUdpExporter,
    documents_for_put_trace_segments,
    parse_daemon_address,
)

from tests.tracer.xray_schema import Recorder, deep_chain, validate

LIMIT = 64 * 1024


class UdpDaemon:
    """A stand-in X-Ray daemon: a UDP socket on 127.0.0.1 read by a thread."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.datagrams: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, _ = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            self.datagrams.append(data)

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[bytes]:
        deadline = time.monotonic() + timeout_s
        while len(self.datagrams) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.datagrams)

    def documents(self, count: int) -> list[dict[str, Any]]:
        docs = []
        for datagram in self.wait_for(count):
            assert len(datagram) <= MAX_DATAGRAM_BYTES <= LIMIT
            header, _, body = datagram.partition(b"\n")
            assert header + b"\n" == HEADER
            assert json.loads(header) == {"format": "json", "version": 1}
            docs.append(validate(body))
        return docs

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def daemon() -> Iterator[UdpDaemon]:
    d = UdpDaemon()
    yield d
    d.close()


@pytest.fixture
def rec() -> Iterator[Recorder]:
    recorder = Recorder()
    yield recorder
    recorder.provider.shutdown()


def all_ids(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every (sub)segment in the documents by id, nested ones included."""
    found: dict[str, dict[str, Any]] = {}
    stack = list(docs)
    while stack:
        doc = stack.pop()
        assert doc["id"] not in found, "duplicated document"
        found[doc["id"]] = doc
        stack.extend(doc.get("subsegments", []))
    return found


def parents(docs: list[dict[str, Any]]) -> dict[str, str]:
    """Child id -> parent id, whether nested or linked by parent_id."""
    out: dict[str, str] = {}
    stack: list[tuple[dict[str, Any], str | None]] = [(d, None) for d in docs]
    while stack:
        doc, nested_parent = stack.pop()
        parent = nested_parent or doc.get("parent_id")
        if parent:
            out[doc["id"]] = parent
        stack.extend((child, doc["id"]) for child in doc.get("subsegments", []))
    return out


def make_tree(rec: Recorder, children: int, payload_bytes: int) -> list[ReadableSpan]:
    with rec.tracer.start_as_current_span("handler", kind=SpanKind.SERVER):
        for i in range(children):
            with (
                rec.tracer.start_as_current_span(f"step-{i}", attributes={"blob": "x" * payload_bytes}),
                rec.tracer.start_as_current_span(f"leaf-{i}"),
            ):
                pass
    return rec.spans()


def test_parse_daemon_address_forms() -> None:
    assert parse_daemon_address("127.0.0.1:2000") == ("127.0.0.1", 2000)
    assert parse_daemon_address("tcp:10.1.1.1:2000 udp:10.1.1.2:2001") == ("10.1.1.2", 2001)
    assert parse_daemon_address("udp:xray.local:3000") == ("xray.local", 3000)
    assert parse_daemon_address("") == ("127.0.0.1", 2000)
    for bad in ("nonsense", "host:99999", "host:"):
        with pytest.raises(ValueError):
            parse_daemon_address(bad)


def test_small_trace_is_one_datagram_with_nested_subsegments(daemon: UdpDaemon, rec: Recorder) -> None:
    spans = make_tree(rec, children=3, payload_bytes=10)
    exporter = XRayUdpExporter(daemon.address)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    (doc,) = daemon.documents(1)
    assert doc["name"] == "checkout"
    assert [s["name"] for s in doc["subsegments"]] == ["step-0", "step-1", "step-2"]
    assert len(all_ids([doc])) == 7
    stats = exporter.stats
    assert (stats.spans, stats.documents, stats.datagrams) == (7, 1, 1)
    assert stats.streamed_subsegments == 0 and stats.truncated_documents == 0
    exporter.shutdown()


def test_large_trace_streams_subsegments_and_no_datagram_exceeds_64kb(
    daemon: UdpDaemon, rec: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    spans = make_tree(rec, children=120, payload_bytes=3000)  # about 370 KB of documents
    exporter = XRayUdpExporter(daemon.address)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    stats = exporter.stats
    docs = daemon.documents(stats.datagrams)
    assert len(docs) == stats.datagrams == stats.documents > 1
    by_id = all_ids(docs)
    assert set(by_id) == {format(s.context.span_id, "016x") for s in spans if s.context}
    # Every span keeps its parent, nested or via parent_id.
    expected = {
        format(s.context.span_id, "016x"): format(s.parent.span_id, "016x") for s in spans if s.parent and s.context
    }
    assert parents(docs) == expected
    streamed = [d for d in docs if d.get("type") == "subsegment"]
    assert streamed and all("trace_id" in d and "parent_id" in d for d in streamed)
    # Small subtrees still travel together: each step keeps its leaf nested.
    assert all(len(d.get("subsegments", [])) == 1 for d in streamed)
    sizes = sorted(len(d) for d in daemon.datagrams)
    assert max(sizes) <= MAX_DATAGRAM_BYTES
    assert stats.max_datagram_bytes == max(sizes)
    assert stats.truncated_documents == 0
    with capsys.disabled():
        print(
            f"\n[xray] 241 spans -> {len(sizes)} datagrams, sizes {sizes[0]}..{sizes[-1]} bytes, "
            f"{sum(sizes)} bytes in all"
        )


def test_oversize_single_span_is_trimmed_and_counted(daemon: UdpDaemon, rec: Recorder) -> None:
    attrs = {f"k{i}": "v" * 1500 for i in range(100)}  # ~150 KB of metadata
    attrs["aws.xray.annotations"] = "big"
    attrs["big"] = "y" * 900
    with rec.tracer.start_as_current_span("bulky", kind=SpanKind.SERVER, attributes=attrs):
        pass
    exporter = XRayUdpExporter(daemon.address)
    exporter.export(rec.spans())
    (doc,) = daemon.documents(1)
    assert len(daemon.datagrams[0]) <= MAX_DATAGRAM_BYTES
    assert doc["metadata"]["default"]["spanscope.truncated"] is True
    assert doc["annotations"]["big"] == "y" * 256
    assert exporter.stats.truncated_documents == 1


def test_absurd_span_falls_back_to_essentials(daemon: UdpDaemon, rec: Recorder) -> None:
    many = {f"key-{i:05d}-" + "k" * 600: i for i in range(120)}  # keys alone exceed the 8 KB limit
    with rec.tracer.start_as_current_span("absurd", attributes=many):
        pass
    exporter = XRayUdpExporter(daemon.address, max_datagram_bytes=8 * 1024)
    exporter.export(rec.spans())
    (doc,) = daemon.documents(1)
    assert len(daemon.datagrams[0]) <= 8 * 1024
    assert doc["name"] == "checkout"
    assert exporter.stats.truncated_documents == 1


def test_deep_chain_is_sent_with_bounded_nesting(daemon: UdpDaemon, rec: Recorder) -> None:
    deep_chain(rec, 400, prefix="level-")
    exporter = XRayUdpExporter(daemon.address)
    assert exporter.export(rec.spans()) is SpanExportResult.SUCCESS
    docs = daemon.documents(exporter.stats.datagrams)
    assert len(all_ids(docs)) == 400
    for doc in docs:
        depth, stack = 0, [(doc, 1)]
        while stack:
            node, level = stack.pop()
            depth = max(depth, level)
            stack.extend((c, level + 1) for c in node.get("subsegments", []))
        assert depth <= 32


def test_environment_address_with_udp_and_tcp_parts(
    daemon: UdpDaemon, rec: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", f"tcp:127.0.0.1:1 udp:127.0.0.1:{daemon.port}")
    exporter = XRayUdpExporter()
    assert exporter.address == ("127.0.0.1", daemon.port)
    spans = make_tree(rec, children=1, payload_bytes=1)
    exporter.export(spans)
    assert len(daemon.documents(1)) == 1


def test_through_a_real_batch_span_processor(daemon: UdpDaemon) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "edge-gw"}))
    exporter = XRayUdpExporter(daemon.address)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    with (
        tracer.start_as_current_span("poll", kind=SpanKind.SERVER),
        tracer.start_as_current_span("GET", kind=SpanKind.CLIENT, attributes={"peer.service": "plc"}),
    ):
        pass
    provider.force_flush()
    docs = daemon.documents(1)
    ids = all_ids(docs)
    assert {d["name"] for d in ids.values()} == {"edge-gw", "plc"}
    assert any(d.get("namespace") == "remote" for d in ids.values())
    provider.shutdown()


def test_never_raises_on_bad_address_bad_host_or_bad_span(rec: Recorder, daemon: UdpDaemon) -> None:
    spans = make_tree(rec, children=1, payload_bytes=1)
    bad = XRayUdpExporter("not an address")
    assert bad.address is None
    assert bad.export(spans) is SpanExportResult.FAILURE
    assert bad.stats.dropped_spans == 3

    unresolvable = XRayUdpExporter("no-such-host.invalid:2000")
    assert unresolvable.export(spans) is SpanExportResult.FAILURE
    assert unresolvable.stats.export_failures == 1

    broken = ReadableSpan(
        name="broken",
        context=SpanContext(0x6921F3A0BD862E3FE1BE46A994272793, 0x1234, is_remote=False),
        start_time="not a time",  # type: ignore[arg-type]
    )
    good = XRayUdpExporter(daemon.address)
    assert good.export([broken, *spans]) is SpanExportResult.SUCCESS
    assert good.stats.dropped_spans == 1
    assert len(all_ids(daemon.documents(1))) == 3

    good.shutdown()
    assert good.export(spans) is SpanExportResult.FAILURE  # after shutdown: dropped, not raised
    assert good.force_flush() is True


def test_documents_for_put_trace_segments_fit_64kb(rec: Recorder) -> None:
    spans = make_tree(rec, children=60, payload_bytes=4000)
    documents = documents_for_put_trace_segments(spans)
    assert len(documents) > 1
    assert all(len(d.encode()) <= MAX_DATAGRAM_BYTES for d in documents)
    docs = [validate(d) for d in documents]
    assert len(all_ids(docs)) == len(spans)


def test_in_progress_segment_is_announced_at_start(daemon: UdpDaemon) -> None:
    from spanscope.tracer.xray.exporter import InProgressSegmentProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "emr-job"}))
    exporter = XRayUdpExporter(daemon.address)
    provider.add_span_processor(InProgressSegmentProcessor(exporter))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("job", kind=SpanKind.SERVER):
        (started,) = daemon.documents(1)
        assert started["in_progress"] is True and "end_time" not in started
        with tracer.start_as_current_span("task"):
            pass
    docs = daemon.documents(3)
    assert len(docs) == 3  # in-progress segment, the task subsegment, the completed segment
    assert docs[2]["id"] == started["id"] and "in_progress" not in docs[2] and "end_time" in docs[2]
    provider.shutdown()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shape=st.lists(st.tuples(st.integers(0, 50), st.integers(0, 3000)), min_size=1, max_size=40),
    limit=st.sampled_from([2048, 4096, 16_384, MAX_DATAGRAM_BYTES - len(HEADER)]),
)
def test_packing_any_tree_keeps_every_span_once_within_the_limit(
    rec: Recorder, shape: list[tuple[int, int]], limit: int
) -> None:
    """Span i's parent is span (parent_pick % i); its attribute is payload bytes long."""
    from spanscope.tracer.xray.documents import document_trees
    from spanscope.tracer.xray.exporter import XRayExportStats, pack_documents

    rec.memory.clear()
    opened: list[Any] = []
    for i, (parent_pick, payload) in enumerate(shape):
        ctx = otel_trace.set_span_in_context(opened[parent_pick % i]) if i else None
        kind = SpanKind.SERVER if i == 0 else SpanKind.INTERNAL
        opened.append(rec.tracer.start_span(f"n{i}", context=ctx, kind=kind, attributes={"p": "q" * payload}))
    for span in reversed(opened):
        span.end()
    spans = rec.spans()
    stats = XRayExportStats()
    payloads = pack_documents(document_trees(spans), limit, stats)
    assert all(len(p) <= limit for p in payloads)
    docs = [validate(p) for p in payloads]
    expected = {
        format(s.context.span_id, "016x"): format(s.parent.span_id, "016x") for s in spans if s.parent and s.context
    }
    assert len(all_ids(docs)) == len(spans)
    assert parents(docs) == expected
