"""configure(): env vars, exporter names, samplers, reuse of an application's TracerProvider."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, TraceIdRatioBased
from spanscope.tracer import configure, force_flush, span, stats, trace
from spanscope.tracer.exporters import daemon_udp_address, default_exporter_names, exporter_from_name
from spanscope.tracer.runtime import RUNTIME
from spanscope.tracer.setup import memory_exporter, sampler_from

from tests.tracer.otlp_sink import OtlpSink


def run(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AWS_", "SPANSCOPE_"))}
    base["SPANSCOPE_EXIT_FLUSH_MILLIS"] = "20000"  # generous: the test machine may be loaded
    base.update(env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], env=base, capture_output=True, text=True, timeout=60
    )


def test_samplers_from_env_and_arguments() -> None:
    default = sampler_from(None, {})
    assert isinstance(default, ParentBased) and "AlwaysOnSampler" in default.get_description()  # type: ignore[no-untyped-call]
    assert sampler_from(None, {"OTEL_TRACES_SAMPLER": "always_off"}) is ALWAYS_OFF
    ratio = sampler_from(None, {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"})
    assert "TraceIdRatioBased{0.25}" in ratio.get_description()
    assert isinstance(
        sampler_from(None, {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.5"}), TraceIdRatioBased
    )
    assert "TraceIdRatioBased{0.1}" in sampler_from(0.1, {}).get_description()
    assert sampler_from(ALWAYS_ON, {}) is ALWAYS_ON


def test_default_exporters_follow_the_environment() -> None:
    assert default_exporter_names({}) == ["otlp"]
    assert default_exporter_names({"OTEL_TRACES_EXPORTER": "console,otlp"}) == ["console", "otlp"]
    assert default_exporter_names({"AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000"}) == ["xray-udp"]
    both = {
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces",
    }
    assert default_exporter_names(both) == ["otlp"]
    assert daemon_udp_address("169.254.79.129:2000") == "169.254.79.129:2000"


def test_exporter_names(clean_env: pytest.MonkeyPatch) -> None:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Grpc
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as Http

    assert isinstance(exporter_from_name("otlp-http", {}), Http)
    assert isinstance(exporter_from_name("otlp", {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}), Grpc)
    assert isinstance(exporter_from_name("memory", {}), InMemorySpanExporter)
    assert exporter_from_name("no-such-exporter", {}) is None
    assert stats()["unknown_exporter"] >= 1


def test_memory_exporter_by_name(clean_env: pytest.MonkeyPatch) -> None:
    configure(service="named", exporters=["memory"])
    trace(lambda: None)()
    exporter = memory_exporter()
    assert exporter is not None and len(exporter.get_finished_spans()) == 1


def test_otel_env_vars_export_over_otlp_http(sink: OtlpSink) -> None:
    out = run(
        """
        from spanscope.tracer import trace, annotate
        @trace
        def work():
            annotate("tenant", "t-1")
        work()
        """,
        {
            "OTEL_SERVICE_NAME": "env-svc",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": sink.endpoint + "/v1/traces",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test",
            "AWS_REGION": "ap-south-1",
        },
    )
    assert out.returncode == 0, out.stderr
    got = sink.wait_for(1)[0]  # the provider's atexit shutdown flushed it
    assert got["name"] == "work"
    assert got["resource"]["service.name"] == "env-svc"
    assert got["resource"]["deployment.environment"] == "test"
    assert got["resource"]["cloud.region"] == "ap-south-1"
    assert got["attributes"] == {"tenant": "t-1", "aws.xray.annotations": ["tenant"]}


def test_exit_is_not_held_by_an_unreachable_collector() -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: every export attempt is refused and retried
    out = run(
        """
        from spanscope.tracer import trace
        trace(lambda: None)()
        print("done")
        """,
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "120",  # the exporter alone would retry for two minutes
            "SPANSCOPE_EXIT_FLUSH_MILLIS": "300",
        },
    )  # run() gives up after 60 s: the exit flush must have been cut short
    assert out.returncode == 0 and out.stdout.strip() == "done"


def test_sampler_env_ratio_zero_records_nothing(sink: OtlpSink) -> None:
    out = run(
        """
        from spanscope.tracer import trace
        for _ in range(50):
            trace(lambda: None)()
        """,
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint,
            "OTEL_TRACES_SAMPLER": "traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0",
        },
    )
    assert out.returncode == 0, out.stderr
    assert sink.wait_for(1, timeout_s=0.5) == []


def test_xray_daemon_address_selects_the_udp_exporter() -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(20)
    try:
        port = receiver.getsockname()[1]
        out = run(
            """
            from spanscope.tracer import trace
            trace(lambda: None)()
            """,
            {"AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{port}", "OTEL_SERVICE_NAME": "udp-svc"},
        )
        assert out.returncode == 0, out.stderr
        datagram = receiver.recv(65536).decode()
    finally:
        receiver.close()
    header, _, body = datagram.partition("\n")
    assert json.loads(header) == {"format": "json", "version": 1}
    assert json.loads(body)["name"] == "udp-svc"


def test_application_provider_is_reused_not_replaced() -> None:
    out = run(
        """
        import json
        from opentelemetry import trace as otel_trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        app_exporter = InMemorySpanExporter()
        provider = TracerProvider(resource=Resource.create({"service.name": "app-owned"}))
        provider.add_span_processor(SimpleSpanProcessor(app_exporter))
        otel_trace.set_tracer_provider(provider)

        from spanscope.tracer import trace, configure
        configure(service="ignored")  # no exporters given: the application's pipeline is used as is
        @trace
        def work():
            with otel_trace.get_tracer("app").start_as_current_span("app-span"):
                pass
        work()
        spans = app_exporter.get_finished_spans()
        print(json.dumps({
            "same": otel_trace.get_tracer_provider() is provider,
            "names": [s.name for s in spans],
            "service": spans[-1].resource.attributes["service.name"],
            "location": spans[-1].attributes.get("spanscope.location"),
            "nested": spans[0].parent.span_id == spans[1].context.span_id,
        }))
        """,
        {"AWS_REGION": "eu-central-1"},
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {
        "same": True,
        "names": ["app-span", "work"],
        "service": "app-owned",
        "location": "eu-central-1",
        "nested": True,
    }


def test_failing_exporter_is_counted_not_raised(clean_env: pytest.MonkeyPatch) -> None:
    class Broken(InMemorySpanExporter):
        def export(self, spans):
            raise OSError("disk full")

    configure(exporters=[Broken()], processor="simple")

    @trace
    def work() -> int:
        return 3

    assert work() == 3 and work() == 3
    assert stats()["exporter_error:Broken"] >= 2
    assert force_flush(100) is True


def test_unknown_configuration_never_raises(clean_env: pytest.MonkeyPatch) -> None:
    configure(exporters=["bogus"], sampling="bogus", backend="bogus")
    with span("still works") as s:
        assert s.is_recording()
    assert {"unknown_exporter", "unknown_sampler", "unknown_backend"} <= set(stats())
    assert RUNTIME.backend is not None


def test_after_shutdown_spans_are_no_ops_until_configured(clean_env: pytest.MonkeyPatch) -> None:
    from spanscope.tracer import shutdown

    exporter = InMemorySpanExporter()
    configure(exporters=[exporter])
    trace(lambda: None)()
    shutdown()
    assert trace(lambda: 7)() == 7
    with span("after") as s:
        assert not s.is_recording()
    assert len(exporter.get_finished_spans()) == 1
    fresh = InMemorySpanExporter()  # shutdown shut the first exporter down too
    configure(exporters=[fresh])
    trace(lambda: None)()
    assert len(fresh.get_finished_spans()) == 1
