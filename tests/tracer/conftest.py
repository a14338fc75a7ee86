"""Tracer test fixtures: an in-memory exporter configured per test, a loopback OTLP/HTTP sink."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from spanscope.tracer import configure, reset_stats

from tests.tracer.otlp_sink import OtlpSink

AWS_ENV = (
    "_X_AMZN_TRACE_ID",
    "TRACEPARENT",
    "TRACESTATE",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_BATCH_JOB_ID",
    "AWS_IOT_THING_NAME",
    "OTEL_SERVICE_NAME",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "AWS_XRAY_DAEMON_ADDRESS",
    "SPANSCOPE_DISABLED",
    "SPANSCOPE_LOCATION",
)


@pytest.fixture(autouse=True)
def _leave_tracing_on() -> Iterator[None]:
    """A test that switched tracing off (or to the legacy backend) does not leave it so for the next one."""
    yield
    from spanscope.tracer.legacy import XRaySdkBackend
    from spanscope.tracer.runtime import RUNTIME

    if RUNTIME.passthrough or isinstance(RUNTIME.backend, XRaySdkBackend):
        configure(exporters=["memory"], disabled=False)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in AWS_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def memory(clean_env: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """The tracer configured with an in-memory exporter (every span sampled)."""
    exporter = InMemorySpanExporter()
    configure(service="test-svc", exporters=[exporter], sampling=1.0)
    reset_stats()
    yield exporter
    exporter.clear()


@pytest.fixture
def sink() -> Iterator[OtlpSink]:
    with OtlpSink() as server:
        yield server


def by_name(exporter: InMemorySpanExporter) -> dict[str, object]:
    return {s.name: s for s in exporter.get_finished_spans()}
