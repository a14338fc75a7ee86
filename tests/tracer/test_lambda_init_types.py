"""Cold starts under provisioned concurrency and SnapStart (``AWS_LAMBDA_INITIALIZATION_TYPE``), as Powertools
reads them: only an on-demand or SnapStart first invocation is cold; init only where it delays a request."""

from __future__ import annotations

import time
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from spanscope.analysis.cold_starts import initialization_ns
from spanscope.collectors.model import Span
from spanscope.tracer import configure
from spanscope.tracer.integrations import aws_lambda, lambda_handler

from tests.tracer.lambda_fakes import FACADE_PARENT, LambdaContext, lambda_env


@pytest.fixture
def memory(clean_env: pytest.MonkeyPatch) -> InMemorySpanExporter:
    lambda_env(clean_env)
    exporter = InMemorySpanExporter()
    configure(exporters=[exporter])
    return exporter


def invoke_twice(env: pytest.MonkeyPatch) -> None:
    @lambda_handler(name="fn")
    def handler(event: Any, context: Any) -> str:
        return "ok"

    for i in range(2):
        env.setenv("_X_AMZN_TRACE_ID", f"Root=1-5759e988-bd862e3fe1be46a99427279{i};Parent={FACADE_PARENT};Sampled=1")
        handler({}, LambdaContext())


def attrs_of(exporter: InMemorySpanExporter) -> list[dict[str, Any]]:
    return [dict(s.attributes or {}) for s in exporter.get_finished_spans() if s.name == "fn"]


def test_provisioned_concurrency_first_request_is_not_cold_and_has_no_init(
    memory: InMemorySpanExporter, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "provisioned-concurrency")
    invoke_twice(clean_env)
    first, second = attrs_of(memory)
    assert first["faas.coldstart"] is False and second["faas.coldstart"] is False
    assert first["ColdStart"] is False
    assert "spanscope.faas.init_duration_ns" not in first
    assert first["spanscope.faas.initialization_type"] == "provisioned-concurrency"


def test_on_demand_first_request_is_cold_with_its_init(
    memory: InMemorySpanExporter, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
    invoke_twice(clean_env)
    first, second = attrs_of(memory)
    assert first["faas.coldstart"] is True and second["faas.coldstart"] is False
    assert first["spanscope.faas.init_duration_ns"] >= 0
    assert "spanscope.faas.initialization_type" not in first


def test_snap_start_first_request_is_cold_with_restore_not_init(
    memory: InMemorySpanExporter, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    clean_env.setattr(aws_lambda, "_RESTORED_NS", [time.time_ns() - 5_000_000])  # the after-restore hook ran
    invoke_twice(clean_env)
    first, second = attrs_of(memory)
    assert first["faas.coldstart"] is True and second["faas.coldstart"] is False
    assert "spanscope.faas.init_duration_ns" not in first  # init ran before the snapshot: it delayed nothing
    restore = first["spanscope.faas.restore_duration_ns"]
    assert restore >= 5_000_000
    span = Span("5759e988bd862e3fe1be46a994272790", "a" * 16, None, "fn", "fn", attributes=first)
    assert initialization_ns(span) == restore  # the analyzers count the restore as the cold start's piece
