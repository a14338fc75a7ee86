"""End to end: real SDK spans -> XRayUdpExporter -> spanscope's collector (X-Ray UDP receiver) -> store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode
from spanscope.collectors.collector import BackgroundCollector, Collector
from spanscope.collectors.model import Kind
from spanscope.collectors.model import Status as ModelStatus
from spanscope.tracer.xray.exporter import XRayUdpExporter, documents_for_put_trace_segments

from tests.builders import LOOPBACK, collector_config
from tests.tracer.xray_schema import Recorder, validate
from tests.waiting import wait_for


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Collector]:
    with BackgroundCollector(collector_config(tmp_path / "spans.db", xray_udp=LOOPBACK, otlp_http=None)) as running:
        yield running


def exporter_for(collector: Collector) -> XRayUdpExporter:
    host, port = collector.addresses["xray_udp"]
    return XRayUdpExporter(f"{host}:{port}")


def hex_ids(spans: list[ReadableSpan]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for span in spans:
        assert span.context is not None
        out[format(span.context.span_id, "016x")] = format(span.parent.span_id, "016x") if span.parent else None
    return out


def test_trace_shape_survives_the_trip_to_the_collector(collector: Collector) -> None:
    rec = Recorder()
    producer = SpanContext(0x6921F3A0BD862E3FE1BE46A994272793, 0x1111222233334444, is_remote=True)
    with rec.tracer.start_as_current_span(
        "handler", kind=SpanKind.SERVER, links=[Link(producer)], attributes={"http.response.status_code": 200}
    ):
        with rec.tracer.start_as_current_span(
            "GetItem",
            kind=SpanKind.CLIENT,
            attributes={"rpc.system": "aws-api", "rpc.service": "DynamoDB", "rpc.method": "GetItem"},
        ):
            pass
        with rec.tracer.start_as_current_span(
            "call-payments",
            kind=SpanKind.CLIENT,
            attributes={"peer.service": "payments", "http.response.status_code": 503},
        ) as span:
            span.set_status(Status(StatusCode.ERROR))
        with rec.tracer.start_as_current_span("render"):
            pass
    spans = rec.spans()
    for document in documents_for_put_trace_segments(spans):  # the same packing the exporter sends
        validate(document)
    exporter = exporter_for(collector)
    exporter.export(spans)
    wait_for(lambda: collector.counters.get("writer.spans") >= len(spans), timeout_s=15)
    first = spans[0].context
    assert first is not None
    trace_id = format(first.trace_id, "032x")
    trace = collector.store.get_trace(trace_id)
    stored = {s.span_id: s for s in trace.spans}
    assert {sid: s.parent_id for sid, s in stored.items()} == hex_ids(spans)
    root = trace.root
    assert root is not None and root.service == "checkout" and root.kind is Kind.SERVER
    assert root.origin == "AWS::Lambda::Function"
    assert [(link.trace_id, link.span_id) for link in root.links] == [
        ("6921f3a0bd862e3fe1be46a994272793", "1111222233334444")
    ]
    dynamo = next(s for s in stored.values() if s.namespace == "aws")
    assert (dynamo.kind, dynamo.remote_service) == (Kind.CLIENT, "DynamoDB")
    payments = next(s for s in stored.values() if s.namespace == "remote")
    assert payments.remote_service == "payments" and payments.status is ModelStatus.FAULT
    assert all(s.service == "checkout" for s in stored.values())
    rec.provider.shutdown()


def test_large_streamed_trace_arrives_whole(collector: Collector) -> None:
    rec = Recorder()
    with rec.tracer.start_as_current_span("batch-job", kind=SpanKind.SERVER):
        for i in range(150):
            with rec.tracer.start_as_current_span(f"chunk-{i}", attributes={"payload": "z" * 2000}):
                pass
    opened: list[Any] = []
    ctx = None
    for i in range(60):  # and a deep chain, beyond the nesting bound
        span = rec.tracer.start_span(f"deep-{i}", context=ctx)
        ctx = otel_trace.set_span_in_context(span)
        opened.append(span)
    for span in reversed(opened):
        span.end()
    spans = rec.spans()
    for document in documents_for_put_trace_segments(spans):
        validate(document)
    exporter = exporter_for(collector)
    exporter.export(spans)
    stats = exporter.stats
    assert stats.datagrams > 1 and stats.max_datagram_bytes <= 64_000
    # the writer may count its commit before the receiver counts the datagrams accepted: wait for both
    wait_for(
        lambda: (
            collector.counters.get("writer.spans") >= len(spans)
            and collector.counters.get("xray_udp.accepted") >= stats.datagrams
        ),
        timeout_s=15,
    )
    assert collector.counters.get("xray_udp.accepted") == stats.datagrams
    by_trace: dict[str, dict[str, str | None]] = {}
    for finished in spans:
        assert finished.context is not None
        by_trace.setdefault(format(finished.context.trace_id, "032x"), {}).update(hex_ids([finished]))
    for trace_id, expected in by_trace.items():
        trace = collector.store.get_trace(trace_id)
        assert {s.span_id: s.parent_id for s in trace.spans} == expected
    rec.provider.shutdown()


_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)
_values = st.one_of(_text, st.integers(-(2**63), 2**63 - 1), st.floats(), st.booleans(), st.lists(_text, max_size=3))


@settings(max_examples=40, deadline=None)
@given(
    names=st.lists(_text, min_size=1, max_size=6),
    kinds=st.lists(st.sampled_from(list(SpanKind)), min_size=6, max_size=6),
    attributes=st.dictionaries(_text.filter(bool), _values, max_size=5),
    event=st.booleans(),
    error=st.booleans(),
)
def test_every_document_converts_back_into_the_same_tree(
    names: list[str], kinds: list[SpanKind], attributes: dict[str, Any], event: bool, error: bool
) -> None:
    """The importer the collector uses (formats.xray) accepts whatever the tracer emits, links intact."""
    from spanscope.collectors.formats.xray import spans_from_document
    from spanscope.tracer.xray.documents import segment_documents

    rec = Recorder()
    producer = Link(SpanContext(0x6921F3A0BD862E3FE1BE46A994272793, 0x1111222233334444, is_remote=True))
    opened: list[Any] = []
    for i, name in enumerate(names):
        ctx = otel_trace.set_span_in_context(opened[i // 2]) if i else None
        span = rec.tracer.start_span(name, context=ctx, kind=kinds[i], attributes=attributes, links=[producer])
        if event:
            span.add_event("checkpoint", {"step": i})
        if error:
            span.record_exception(ValueError(name))
            span.set_status(Status(StatusCode.ERROR, name))
        opened.append(span)
    for span in reversed(opened):
        span.end()
    spans = rec.spans()
    converted = [s for doc in segment_documents(spans) for s in spans_from_document(validate(doc))]
    assert {s.span_id: s.parent_id for s in converted} == hex_ids(spans)
    assert all(len(s.links) == 1 for s in converted)
    if error:
        assert all(s.failed for s in converted)
    rec.provider.shutdown()
