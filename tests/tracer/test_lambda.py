"""@lambda_handler run as the Lambda runtime runs it: env vars, facade header, context object, events."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from spanscope.tracer import annotate, configure, span, stats, trace
from spanscope.tracer.integrations import lambda_handler, process_sqs_batch, sqs_records

from tests.tracer.lambda_fakes import FACADE_PARENT, FACADE_ROOT, LambdaContext, lambda_env, sqs_event

PRODUCER = "Root=1-5759e988-00000000000000000000abcd;Parent=1111111111111111;Sampled=1"
PRODUCER2 = "Root=1-5759e989-00000000000000000000abce;Parent=2222222222222222;Sampled=1"


@pytest.fixture
def lambda_memory(clean_env: pytest.MonkeyPatch) -> InMemorySpanExporter:
    lambda_env(clean_env)
    exporter = InMemorySpanExporter()
    configure(exporters=[exporter])  # service name, platform and region come from the Lambda environment
    return exporter


def only(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    found = [s for s in exporter.get_finished_spans() if s.name == name]
    assert len(found) == 1, [s.name for s in exporter.get_finished_spans()]
    return found[0]


def test_continues_the_facade_with_faas_attributes(lambda_memory: InMemorySpanExporter) -> None:
    @trace("query")
    def query() -> None:
        pass

    @lambda_handler
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        annotate("order_id", event["order"])
        query()
        return {"statusCode": 201}

    result = handler({"order": "o-1"}, LambdaContext())
    assert result == {"statusCode": 201}
    s = only(lambda_memory, "orders-fn")
    assert s.kind is SpanKind.SERVER
    assert f"{s.context.trace_id:032x}" == FACADE_ROOT[2:].replace("-", "")
    assert s.parent is not None and f"{s.parent.span_id:016x}" == FACADE_PARENT
    attrs: dict[str, Any] = dict(s.attributes or {})
    assert attrs["faas.invocation_id"] == "8f507cfc-example-4697-b07a-ac58fc914c95"
    assert attrs["aws.lambda.invoked_arn"].endswith(":function:orders-fn")
    assert attrs["cloud.account.id"] == "123456789012" and attrs["faas.max_memory"] == 128 * 1024 * 1024
    assert attrs["faas.coldstart"] is True and attrs["ColdStart"] is True
    assert attrs["spanscope.faas.init_duration_ns"] >= 0
    assert set(attrs["aws.xray.annotations"]) == {"ColdStart", "order_id"}
    assert attrs["http.response.status_code"] == 201
    resource = dict(s.resource.attributes)
    assert resource["cloud.platform"] == "aws_lambda" and resource["faas.name"] == "orders-fn"
    assert resource["service.name"] == "orders-fn" and resource["cloud.region"] == "us-east-1"
    assert resource["spanscope.location"] == "us-east-1"
    assert only(lambda_memory, "query").parent.span_id == s.context.span_id  # type: ignore[union-attr]


def test_cold_start_only_on_first_invocation_per_handler(
    lambda_memory: InMemorySpanExporter, clean_env: pytest.MonkeyPatch
) -> None:
    @lambda_handler(name="fn")
    def handler(event: Any, context: Any) -> str:
        return "ok"

    for i in range(3):
        root = f"1-5759e988-bd862e3fe1be46a99427279{i}"
        clean_env.setenv("_X_AMZN_TRACE_ID", f"Root={root};Parent={FACADE_PARENT};Sampled=1")
        handler({}, LambdaContext())
    spans = lambda_memory.get_finished_spans()
    assert [s.attributes["faas.coldstart"] for s in spans] == [True, False, False]  # type: ignore[index]
    assert "spanscope.faas.init_duration_ns" not in (spans[1].attributes or {})
    assert len({s.context.trace_id for s in spans}) == 3  # each invocation continues its own facade


def test_error_is_recorded_and_reraised_unchanged(lambda_memory: InMemorySpanExporter) -> None:
    error = RuntimeError("db down")

    @lambda_handler
    def handler(event: Any, context: Any) -> None:
        raise error

    with pytest.raises(RuntimeError) as caught:
        handler({}, LambdaContext())
    assert caught.value is error
    s = only(lambda_memory, "orders-fn")
    assert s.status.status_code is StatusCode.ERROR
    assert s.events[-1].name == "exception"


def test_unsampled_facade_records_nothing(lambda_memory: InMemorySpanExporter, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("_X_AMZN_TRACE_ID", f"Root={FACADE_ROOT};Parent={FACADE_PARENT};Sampled=0")

    @lambda_handler
    def handler(event: Any, context: Any) -> int:
        return 5

    assert handler({}, LambdaContext()) == 5
    assert lambda_memory.get_finished_spans() == ()


def test_sqs_batch_one_span_per_record_linked_to_its_producer(lambda_memory: InMemorySpanExporter) -> None:
    seen: list[str] = []

    @lambda_handler
    def handler(event: dict[str, Any], context: Any) -> None:
        for record in sqs_records(event):
            with span("store"):
                seen.append(record["body"])

    handler(sqs_event([PRODUCER, PRODUCER2, None]), LambdaContext())
    assert seen == ["order 0", "order 1", "order 2"]
    root = only(lambda_memory, "orders-fn")
    assert dict(root.attributes or {})["faas.trigger"] == "pubsub"
    assert [f"{ln.context.span_id:016x}" for ln in root.links] == ["1111111111111111", "2222222222222222"]
    records = [s for s in lambda_memory.get_finished_spans() if s.name == "orders process"]
    assert len(records) == 3
    assert all(r.kind is SpanKind.CONSUMER and r.parent.span_id == root.context.span_id for r in records)  # type: ignore[union-attr]
    assert f"{records[0].links[0].context.trace_id:032x}" == "5759e98800000000000000000000abcd"
    assert dict(records[0].links[0].attributes or {}) == {"spanscope.link.kind": "sqs"}
    assert records[2].links == ()
    stores = [s for s in lambda_memory.get_finished_spans() if s.name == "store"]
    assert sorted(s.parent.span_id for s in stores) == sorted(r.context.span_id for r in records)  # type: ignore[union-attr]


def test_partial_batch_failures(lambda_memory: InMemorySpanExporter) -> None:
    def handle(record: Mapping[str, Any]) -> None:
        if record["body"] == "order 1":
            raise ValueError("bad order")

    @lambda_handler
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return process_sqs_batch(event, handle)

    result = handler(sqs_event([PRODUCER, PRODUCER2]), LambdaContext())
    assert result == {"batchItemFailures": [{"itemIdentifier": "059f36b4-87a3-44ab-83d2-661975593411"}]}
    failed = [s for s in lambda_memory.get_finished_spans() if s.status.status_code is StatusCode.ERROR]
    assert [s.name for s in failed] == ["orders process"]


def test_flush_is_bounded_by_remaining_time(lambda_memory: InMemorySpanExporter) -> None:
    @lambda_handler(flush_timeout_millis=5000, flush_margin_millis=100)
    def handler(event: Any, context: Any) -> str:
        return "fine"

    assert handler({}, LambdaContext(remaining_ms=50)) == "fine"  # flush budget clamps to 0, still returns
    assert len(lambda_memory.get_finished_spans()) == 1


def test_flush_never_waits_past_its_budget_for_a_stuck_exporter(clean_env: pytest.MonkeyPatch) -> None:
    lambda_env(clean_env)
    entered = threading.Event()
    release = threading.Event()

    class Stuck(InMemorySpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            entered.set()
            release.wait(30)
            return super().export(spans)

    stuck = Stuck()
    configure(exporters=[stuck], processor="batch")

    @lambda_handler(flush_timeout_millis=200)
    def handler(event: Any, context: Any) -> str:
        return "returned"

    try:
        assert handler({}, LambdaContext()) == "returned"
        assert entered.wait(10)  # the flush reached the exporter...
        assert stuck.get_finished_spans() == ()  # ...and the handler returned while it was still stuck
        assert stats()["flush_timeout"] >= 1
    finally:
        release.set()


def test_api_gateway_event_without_facade(clean_env: pytest.MonkeyPatch) -> None:
    lambda_env(clean_env)
    clean_env.delenv("_X_AMZN_TRACE_ID")
    exporter = InMemorySpanExporter()
    configure(exporters=[exporter])

    @lambda_handler
    def handler(event: Any, context: Any) -> dict[str, Any]:
        return {"statusCode": 503}

    event = {
        "requestContext": {"http": {"method": "GET"}},
        "headers": {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
    }
    handler(event, LambdaContext())
    s = exporter.get_finished_spans()[0]
    assert f"{s.context.trace_id:032x}" == "0af7651916cd43dd8448eb211c80319c"
    assert dict(s.attributes or {})["faas.trigger"] == "http"
    assert s.status.status_code is StatusCode.ERROR
