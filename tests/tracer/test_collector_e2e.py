"""The tracer into the real collector: OTLP/HTTP and X-Ray UDP (OTel exporter and legacy xray-sdk mode).

Both X-Ray paths must yield the same trace shape at the collector.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from spanscope.collectors.collector import BackgroundCollector, Collector
from spanscope.collectors.errors import TraceNotFoundError
from spanscope.collectors.model import Trace
from spanscope.tracer import annotate, configure, force_flush, span, trace
from spanscope.tracer.integrations import lambda_handler

from tests.builders import all_receivers_config
from tests.tracer.lambda_fakes import FACADE_PARENT, FACADE_ROOT, LambdaContext, lambda_env


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    path = tmp_path_factory.mktemp("tracer-e2e") / "spans.db"
    with BackgroundCollector(all_receivers_config(path)) as running:
        yield running


def wait_trace(collector: Collector, trace_id: str, spans: int, timeout_s: float = 20) -> Trace:
    deadline = time.monotonic() + timeout_s
    found: Trace | None = None
    while time.monotonic() < deadline:
        try:
            found = collector.store.get_trace(trace_id)
            if len(found.spans) >= spans:
                return found
        except TraceNotFoundError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"trace {trace_id} has {len(found.spans) if found else 0} spans, wanted {spans}")


def test_lambda_invocation_over_otlp_http(collector: Collector, clean_env: pytest.MonkeyPatch) -> None:
    host, port = collector.addresses["otlp_http"]
    lambda_env(clean_env)
    clean_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://{host}:{port}")
    configure()

    @trace("load")
    def load() -> None:
        pass

    @lambda_handler
    def handler(event: Any, context: Any) -> str:
        annotate("tenant", "acme")
        load()
        return "ok"

    assert handler({}, LambdaContext()) == "ok"
    got = wait_trace(collector, FACADE_ROOT[2:].replace("-", ""), 2)
    root = next(s for s in got.spans if s.name == "orders-fn")
    assert root.parent_id == FACADE_PARENT
    assert root.origin == "AWS::Lambda::Function" and root.service == "orders-fn"
    assert root.annotations.get("tenant") == "acme" or root.attributes.get("tenant") == "acme"
    assert root.attributes["faas.coldstart"] is True
    child = next(s for s in got.spans if s.name == "load")
    assert child.parent_id == root.span_id


def test_otlp_grpc_by_protocol_env(collector: Collector, clean_env: pytest.MonkeyPatch) -> None:
    host, port = collector.addresses["otlp_grpc"]
    clean_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://{host}:{port}")
    clean_env.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    clean_env.setenv("OTEL_EXPORTER_OTLP_INSECURE", "true")
    configure(service="grpc-svc")

    with span("over-grpc", kind="server") as s:
        trace_id = f"{s.get_span_context().trace_id:032x}"
    force_flush(10000)
    got = wait_trace(collector, trace_id, 1)
    assert got.spans[0].name == "over-grpc" and got.spans[0].service == "grpc-svc"
    configure(exporters=["memory"])


def workload() -> str:
    @trace("checkout")
    def checkout() -> None:
        annotate("order_id", "o-1")
        attrs = {"rpc.system": "aws-api", "rpc.service": "DynamoDB"}
        with span("DynamoDB.PutItem", kind="client", attributes=attrs):
            pass
        with span("validate"):
            pass

    with span("entry", kind="server") as entry:
        trace_id = f"{entry.get_span_context().trace_id:032x}"
        checkout()
    force_flush(5000)
    return trace_id


def shape(got: Trace) -> list[tuple[int, str, str, str, dict[str, Any]]]:
    out = []
    for index, depth in got.preorder():
        s = got.spans[index]
        out.append((depth, s.service, s.namespace, s.remote_service or s.name, dict(s.annotations)))
    return sorted(out, key=repr)


def test_xray_exporter_and_legacy_sdk_give_the_same_shape(collector: Collector, clean_env: pytest.MonkeyPatch) -> None:
    host, port = collector.addresses["xray_udp"]
    clean_env.setenv("AWS_XRAY_DAEMON_ADDRESS", f"{host}:{port}")
    configure(service="shop", exporters=["xray-udp"], sampling=1.0)
    otel_trace_id = workload()
    configure(service="shop", backend="xray-sdk", sampling=1.0)
    legacy_trace_id = workload()
    configure(exporters=["memory"])
    otel = wait_trace(collector, otel_trace_id, 4)
    legacy = wait_trace(collector, legacy_trace_id, 4)
    assert shape(otel) == shape(legacy)
    assert any(ns == "aws" for _d, _s, ns, _n, _a in shape(otel))
    assert any(a == {"order_id": "o-1"} for *_rest, a in shape(otel))
