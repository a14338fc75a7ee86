"""X-Amzn-Trace-Id and traceparent: parse, format, extract, inject, environment carriers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from spanscope.tracer import environ_for_context, extract, inject, span
from spanscope.tracer.propagation import XRayPropagator, context_from_environ, parse_xray_header
from spanscope.tracer.xray.core.ids import xray_trace_id

HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1|68fd508a:5"


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "Root=garbage",
        "Parent=53995c3f42cd8ad8",
        "Root=1-00000000-000000000000000000000000",
        "x" * 5000,
        ";;;==;",
    ],
)
def test_bad_headers_give_none(text: str | None) -> None:
    assert parse_xray_header(text) is None


def test_header_round_trip_keeps_unknown_keys() -> None:
    h = parse_xray_header(HEADER)
    assert h is not None and h.sampled is True and h.extra == (("Lineage", "a87bd80c:1|68fd508a:5"),)
    assert h.format() == HEADER
    unknown = parse_xray_header("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?")
    assert unknown is not None and unknown.sampled is None and unknown.parent is None


def test_extract_then_inject_continues_the_trace(memory: InMemorySpanExporter) -> None:
    ctx = extract({"x-amzn-trace-id": HEADER})
    with span("server", kind="server", parent=ctx):
        headers = inject()
    s = memory.get_finished_spans()[0]
    assert f"{s.context.trace_id:032x}" == "5759e988bd862e3fe1be46a994272793"
    assert s.parent is not None and s.parent.is_remote and f"{s.parent.span_id:016x}" == "53995c3f42cd8ad8"
    out = parse_xray_header(headers["X-Amzn-Trace-Id"])
    assert out is not None and out.root == "1-5759e988-bd862e3fe1be46a994272793"
    assert out.parent == f"{s.context.span_id:016x}" and out.sampled is True
    assert out.extra == (("Lineage", "a87bd80c:1|68fd508a:5"),)
    assert headers["traceparent"] == f"00-5759e988bd862e3fe1be46a994272793-{s.context.span_id:016x}-01"


def test_traceparent_is_extracted_when_no_xray_header(memory: InMemorySpanExporter) -> None:
    ctx = extract({"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
    with span("w3c", parent=ctx):
        pass
    s = memory.get_finished_spans()[0]
    assert f"{s.context.trace_id:032x}" == "0af7651916cd43dd8448eb211c80319c"


def test_root_without_parent_becomes_the_trace_id(memory: InMemorySpanExporter) -> None:
    ctx = extract({"X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793"})
    with span("first", parent=ctx):
        pass
    s = memory.get_finished_spans()[0]
    assert f"{s.context.trace_id:032x}" == "5759e988bd862e3fe1be46a994272793" and s.parent is None
    with span("next"):
        pass
    assert memory.get_finished_spans()[1].context.trace_id != s.context.trace_id


def test_environment_carrier(memory: InMemorySpanExporter) -> None:
    with span("submit"):
        env = environ_for_context()
    assert set(env) == {"_X_AMZN_TRACE_ID", "TRACEPARENT"}
    parent = memory.get_finished_spans()[0]
    ctx = context_from_environ(env)
    remote = otel_trace.get_current_span(ctx).get_span_context()
    assert remote.span_id == parent.context.span_id and remote.trace_id == parent.context.trace_id
    only_w3c = context_from_environ({"TRACEPARENT": env["TRACEPARENT"]})
    assert otel_trace.get_current_span(only_w3c).get_span_context().span_id == parent.context.span_id
    assert environ_for_context() == {}


def test_xray_propagator_for_otel_users(memory: InMemorySpanExporter) -> None:
    propagator = XRayPropagator()
    ctx = propagator.extract({"X-Amzn-Trace-Id": HEADER})
    carrier: dict[str, str] = {}
    with span("via-propagator", parent=ctx):
        propagator.inject(carrier)
    assert carrier["X-Amzn-Trace-Id"].startswith("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=")
    assert propagator.fields == {"X-Amzn-Trace-Id"}
    assert xray_trace_id(1) == "1-00000000-000000000000000000000001"


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=300),
    st.dictionaries(st.text(max_size=20), st.one_of(st.text(max_size=80), st.none()), max_size=4),
)
def test_parsing_never_raises(text: str, carrier: dict[str, object]) -> None:
    header = parse_xray_header(text)
    if header is not None:
        assert parse_xray_header(header.format()) == header
    extract({"X-Amzn-Trace-Id": text, **carrier})
    extract({"traceparent": text})
    context_from_environ({"_X_AMZN_TRACE_ID": text, "TRACEPARENT": text})


def test_undecided_sampling_is_decided_by_our_sampler(clean_env: pytest.MonkeyPatch) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter as Memory
    from spanscope.tracer import configure

    for sampling, recorded in ((1.0, 1), ("parentbased_always_off", 0)):
        exporter = Memory()
        configure(exporters=[exporter], sampling=sampling)
        ctx = extract({"X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?"})
        with span("deferred", kind="server", parent=ctx):
            headers = inject()
        assert len(exporter.get_finished_spans()) == recorded
        out = parse_xray_header(headers["X-Amzn-Trace-Id"]) if headers else None
        if recorded:
            got = exporter.get_finished_spans()[0]
            assert got.parent is not None and f"{got.parent.span_id:016x}" == "53995c3f42cd8ad8"
            assert out is not None and out.sampled is True
