"""The lean recording path: decorator spans are SDK spans that export exactly what the SDK path exports."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from spanscope.tracer import add_metadata, annotate, configure, extract, trace
from spanscope.tracer.lean import LeanSpan, lean_sampling
from spanscope.tracer.runtime import RUNTIME


@trace
def leaf(n: int) -> int:
    otel_trace.get_current_span().set_attribute("leaf.n", n)
    otel_trace.get_current_span().add_event("halfway", {"n": n})
    if n == 2:
        raise ValueError("two")
    return n


@trace(name="parent", kind="server", attributes={"static": "yes", "count": 3})
def parent() -> int:
    annotate("customer", "c-1")
    add_metadata("order", {"id": 7, "lines": [1, 2]})
    total = leaf(1)
    try:
        leaf(2)
    except ValueError:
        total += 10
    return total


def normalized(spans: Sequence[ReadableSpan]) -> list[Any]:
    """The OTLP encoding of ``spans`` with ids, times and stack traces replaced by their order of appearance."""
    request = encode_spans(spans)
    seen: dict[bytes, int] = {}

    def ident(raw: bytes) -> int:
        return seen.setdefault(raw, len(seen)) if raw else -1

    out = []
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                span.trace_id = ident(span.trace_id).to_bytes(16, "big", signed=True)
                span.span_id = ident(span.span_id).to_bytes(8, "big", signed=True)
                span.parent_span_id = ident(span.parent_span_id).to_bytes(8, "big", signed=True)
                span.start_time_unix_nano = span.end_time_unix_nano = 0
                for event in span.events:
                    event.time_unix_nano = 0
                    for kv in event.attributes:
                        if kv.key == "exception.stacktrace":
                            kv.value.string_value = "<stack>"
                out.append((resource_spans.resource.SerializeToString(), scope_spans.scope.name, span))
    return out


def run_parent(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    exporter.clear()
    assert parent() == 11
    return list(exporter.get_finished_spans())


def test_decorator_spans_are_lean_sdk_spans(memory: InMemorySpanExporter) -> None:
    assert RUNTIME.backend.lean
    spans = run_parent(memory)
    assert [type(s) for s in spans] == [LeanSpan] * 3
    assert all(isinstance(s, SdkSpan) and isinstance(s, ReadableSpan) for s in spans)
    assert [s.name for s in spans] == ["leaf", "leaf", "parent"]


def test_lean_and_sdk_paths_export_the_same(memory: InMemorySpanExporter) -> None:
    lean = run_parent(memory)
    RUNTIME.backend.lean = False  # the same backend through tracer.start_span
    try:
        sdk = run_parent(memory)
    finally:
        RUNTIME.backend.lean = True
    assert [type(s).__name__ for s in sdk] == ["ReadableSpan"] * 3  # the SDK hands on a copy
    assert normalized(lean) == normalized(sdk)
    assert [s.dropped_attributes for s in lean] == [s.dropped_attributes for s in sdk]
    for a, b in zip(lean, sdk, strict=True):
        assert a.context.trace_flags == b.context.trace_flags
        assert a.context.trace_state == b.context.trace_state
        assert a.attributes == b.attributes
        assert a.status.status_code == b.status.status_code
    assert lean[0].parent == lean[2].context and lean[2].parent is None


def test_json_of_a_bare_span_matches_the_sdk(memory: InMemorySpanExporter) -> None:
    @trace
    def bare() -> None:
        return None

    bare()
    RUNTIME.backend.lean = False
    try:
        bare()
    finally:
        RUNTIME.backend.lean = True
    lean, sdk = memory.get_finished_spans()
    assert type(lean) is LeanSpan
    assert lean.to_json().count("\n") == sdk.to_json().count("\n")
    assert (lean.attributes, lean.events, lean.links) == (sdk.attributes, sdk.events, sdk.links) == ({}, (), ())
    assert '"attributes": {}' in lean.to_json()


def test_an_ended_lean_span_takes_no_writes(memory: InMemorySpanExporter, caplog: pytest.LogCaptureFixture) -> None:
    @trace
    def keep() -> otel_trace.Span:
        return otel_trace.get_current_span()

    span = keep()
    with caplog.at_level(logging.WARNING):
        span.set_attribute("late", 1)
        span.add_event("late")
        span.end()
    assert memory.get_finished_spans()[0].attributes == {}
    assert memory.get_finished_spans()[0].events == ()
    assert len(memory.get_finished_spans()) == 1
    assert not span.is_recording()
    assert "ended span" in caplog.text


def test_remote_parent_and_trace_state_are_kept(memory: InMemorySpanExporter) -> None:
    from opentelemetry import context as otel_context

    ctx = extract({"traceparent": "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01", "tracestate": "k=v"})
    token = otel_context.attach(ctx)
    try:
        leaf(1)
    finally:
        otel_context.detach(token)
    (span,) = memory.get_finished_spans()
    assert type(span) is LeanSpan
    assert span.context.trace_id == 0x5759E988BD862E3FE1BE46A994272793
    assert span.parent is not None and span.parent.span_id == 0x53995C3F42CD8AD8 and span.parent.is_remote
    assert dict(span.context.trace_state) == {"k": "v"}


class Recording(SpanProcessor):
    def __init__(self) -> None:
        self.started: list[tuple[str, Context | None]] = []

    def on_start(self, span: SdkSpan, parent_context: Context | None = None) -> None:
        span.set_attribute("seen.by", "processor")
        self.started.append((span.name, parent_context))


def test_an_application_provider_keeps_its_processors_and_limits(clean_env: pytest.MonkeyPatch) -> None:
    provider = TracerProvider(
        resource=Resource.create({"service.name": "app"}), span_limits=SpanLimits(max_span_attributes=2)
    )
    exporter = InMemorySpanExporter()
    recording = Recording()
    provider.add_span_processor(recording)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    configure(tracer_provider=provider)
    try:
        assert RUNTIME.backend.lean
        run_parent(exporter)
        spans = exporter.get_finished_spans()
        assert [s.name for s in spans] == ["leaf", "leaf", "parent"]
        assert [name for name, _ in recording.started] == ["parent", "leaf", "leaf"]
        assert all(len(s.attributes) <= 2 for s in spans)
        assert spans[2].dropped_attributes > 0 and spans[2].resource.attributes["service.name"] == "app"
    finally:
        configure(exporters=["memory"])


class EveryOther(Sampler):
    def __init__(self) -> None:
        self.calls = 0

    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        self.calls += 1
        return SamplingResult(Decision.RECORD_AND_SAMPLE if self.calls % 2 else Decision.DROP)

    def get_description(self) -> str:
        return "EveryOther"


def test_a_sampler_of_its_own_goes_through_the_sdk(clean_env: pytest.MonkeyPatch) -> None:
    sampler = EveryOther()
    assert not lean_sampling(sampler)
    exporter = InMemorySpanExporter()
    configure(service="s", exporters=[exporter], sampling=sampler)
    try:
        assert not RUNTIME.backend.lean
        for n in (1, 3, 4, 5):
            leaf(n)
        assert sampler.calls == 4
        assert [type(s).__name__ for s in exporter.get_finished_spans()] == ["ReadableSpan", "ReadableSpan"]
    finally:
        configure(exporters=["memory"])


def test_a_copied_lean_span_is_a_readable_span_as_the_sdk_hands_on(memory: InMemorySpanExporter) -> None:
    import copy
    import pickle

    run_parent(memory)
    span = memory.get_finished_spans()[0]
    assert type(span) is LeanSpan
    with pytest.raises(TypeError):  # as for the SDK's ReadableSpan: its BoundedAttributes hold a lock
        pickle.dumps(span)
    for clone in (copy.copy(span), copy.deepcopy(span)):
        assert type(clone) is ReadableSpan
        assert (clone.name, clone.context, clone.parent, dict(clone.attributes)) == (
            span.name,
            span.context,
            span.parent,
            dict(span.attributes),
        )
        assert [e.name for e in clone.events] == [e.name for e in span.events]
