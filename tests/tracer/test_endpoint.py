"""configure(endpoint=..., protocol=...) and the first export failure naming the URL and the variable that sets it."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from spanscope.collectors.collector import BackgroundCollector, Collector
from spanscope.collectors.errors import TraceNotFoundError
from spanscope.tracer import configure, force_flush, reset_stats, trace
from spanscope.tracer.exporters import named_exporter, otlp_endpoint

from tests.builders import LOOPBACK, collector_config
from tests.tracer.otlp_sink import OtlpSink
from tests.tracer.test_setup import run


def closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()  # nothing listens there: every export is refused
    return port


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    config = collector_config(tmp_path_factory.mktemp("endpoint") / "spans.db", otlp_grpc=LOOPBACK)
    with BackgroundCollector(config) as running:
        yield running


def wait_for_name(collector: Collector, trace_id: str, timeout_s: float = 20) -> list[str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            return [s.name for s in collector.store.get_trace(trace_id).spans]
        except TraceNotFoundError:
            time.sleep(0.05)
    raise AssertionError(f"trace {trace_id} never reached the collector")


def test_endpoint_rules_follow_the_sdk() -> None:
    assert otlp_endpoint("http/protobuf", "http://127.0.0.1:4318", {}) == (
        "http://127.0.0.1:4318/v1/traces",
        "configure(endpoint=...)",
    )
    assert otlp_endpoint("http/protobuf", "http://h:1/custom/path", {})[0] == "http://h:1/custom/path"
    assert otlp_endpoint("http/protobuf", None, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t:1/x"}) == (
        "http://t:1/x",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    )
    assert otlp_endpoint("grpc", None, {}) == ("http://localhost:4317", "the default")
    _exporter, target = named_exporter("otlp", {})
    assert target is not None
    assert "http://localhost:4318/v1/traces" in target
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in target and "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" in target


def test_configure_endpoint_over_http_protobuf(clean_env: pytest.MonkeyPatch) -> None:
    with OtlpSink() as sink:
        configure(service="ep-http", endpoint=sink.endpoint, protocol="http/protobuf")
        trace("ep-http-span")(lambda: None)()
        assert force_flush(10_000)
        got = sink.wait_for(1)
    assert [s["name"] for s in got] == ["ep-http-span"]
    assert got[0]["resource"]["service.name"] == "ep-http"


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_configure_endpoint_into_the_collector(
    collector: Collector, clean_env: pytest.MonkeyPatch, protocol: str
) -> None:
    # The environment points elsewhere: configure's arguments win.
    clean_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    key = "otlp_grpc" if protocol == "grpc" else "otlp_http"
    host, port = collector.addresses[key]
    configure(service=f"ep-{key}", endpoint=f"http://{host}:{port}", protocol=protocol)
    seen: list[str] = []

    @trace(f"op-{key}")
    def work() -> None:
        from spanscope.tracer import current_span

        seen.append(format(current_span().get_span_context().trace_id, "032x"))

    work()
    assert force_flush(10_000)
    assert wait_for_name(collector, seen[0]) == [f"op-{key}"]


def test_first_export_failure_logs_url_and_variable(
    clean_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    port = closed_port()
    clean_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    clean_env.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    configure(service="nowhere", exporters=["otlp"])
    reset_stats()
    with caplog.at_level("WARNING", logger="spanscope.tracer"):
        trace("lost")(lambda: None)()
        force_flush(10_000)
    messages = [r.getMessage() for r in caplog.records if "export_failed" in r.getMessage()]
    assert len(messages) == 1, [r.getMessage() for r in caplog.records]
    assert f"http://127.0.0.1:{port}/v1/traces" in messages[0]
    assert "set by OTEL_EXPORTER_OTLP_ENDPOINT" in messages[0]
    assert "'" not in messages[0].split("export_failed:otlp: ", 1)[1][:5]  # written as text, not as a repr


def test_failure_message_reaches_a_plain_program_stderr() -> None:
    port = closed_port()
    script = (
        "from spanscope.tracer import configure, force_flush, trace\n"
        f"configure(endpoint='127.0.0.1:{port}')\n"
        "trace(lambda: None)()\n"
        "force_flush(10000)\n"
    )
    out = run(
        script,
        {"OTEL_EXPORTER_OTLP_TIMEOUT": "1", "SPANSCOPE_EXIT_FLUSH_MILLIS": "200"},
    )
    assert out.returncode == 0, out.stderr
    assert f"to http://127.0.0.1:{port}/v1/traces (http/protobuf, set by configure(endpoint=...))" in out.stderr


def test_docstring_examples() -> None:
    import doctest

    import spanscope.tracer.exporters
    import spanscope.tracer.setup

    for module in (spanscope.tracer.exporters, spanscope.tracer.setup):
        assert doctest.testmod(module).failed == 0
    assert doctest.testmod(spanscope.tracer.exporters).attempted >= 3  # the endpoint rules' examples ran
