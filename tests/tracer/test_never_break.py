"""Never break the host: property tests over generated functions, arguments and tracer failures.

Whatever the decorated function does and whatever goes wrong inside the tracer (exporter raising or
failing, a span processor raising, bad names, kinds, attributes, annotations), the caller sees exactly
what it would see without the tracer: the same return object, the same exception object with its
traceback, KeyboardInterrupt/SystemExit/GeneratorExit passing through.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from spanscope.tracer import add_metadata, annotate, configure, span, stats, trace


class Custom(Exception):
    pass


class RaisingExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        raise OSError("collector unreachable")


class FailingExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.FAILURE


class BuggyProcessor(SpanProcessor):
    def __init__(self, where: str) -> None:
        self.where = where

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if self.where == "start":
            raise RuntimeError("processor bug on start")

    def on_end(self, span: ReadableSpan) -> None:
        if self.where == "end":
            raise RuntimeError("processor bug on end")


FAILURES = [
    "healthy",
    "half-sampled",
    "exporter-raises",
    "exporter-fails",
    "processor-start",
    "processor-end",
    "disabled",
]


def set_up(failure: str) -> InMemorySpanExporter:
    memory = InMemorySpanExporter()
    if failure == "exporter-raises":
        configure(exporters=[memory, RaisingExporter()], processor="simple", sampling=1.0)
    elif failure == "exporter-fails":
        configure(exporters=[FailingExporter(), memory], processor="simple", sampling=1.0)
    elif failure.startswith("processor-"):
        provider = TracerProvider(shutdown_on_exit=False)
        provider.add_span_processor(BuggyProcessor(failure.split("-")[1]))
        provider.add_span_processor(SimpleSpanProcessor(memory))
        configure(tracer_provider=provider)
    elif failure == "disabled":
        configure(disabled=True)
    elif failure == "half-sampled":
        configure(exporters=[memory], sampling=0.5)
    else:
        configure(exporters=[memory], sampling=1.0)
    return memory


OUTCOMES = st.sampled_from(
    ["return", "ValueError", "KeyError", "Custom", "KeyboardInterrupt", "SystemExit", "return-none"]
)
SHAPES = st.sampled_from(["sync", "async", "generator", "async-generator"])
WEIRD_TEXT = st.text(min_size=0, max_size=40)
WEIRD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    WEIRD_TEXT,
    st.binary(max_size=8),
    st.lists(st.one_of(st.integers(), WEIRD_TEXT, st.none()), max_size=4),
    st.dictionaries(WEIRD_TEXT, st.one_of(st.integers(), WEIRD_TEXT), max_size=3),
    st.builds(object),
)
ATTRIBUTES = st.one_of(st.none(), st.dictionaries(st.one_of(WEIRD_TEXT, st.integers()), WEIRD_VALUES, max_size=4))
KINDS = st.one_of(st.sampled_from(["internal", "server", "client", "producer", "consumer"]), WEIRD_TEXT)


def make_exception(outcome: str) -> BaseException | None:
    return {
        "ValueError": ValueError("bad value"),
        "KeyError": KeyError("missing"),
        "Custom": Custom("custom"),
        "KeyboardInterrupt": KeyboardInterrupt(),
        "SystemExit": SystemExit(3),
    }.get(outcome)


def innermost_function(exc: BaseException) -> str:
    return traceback.extract_tb(exc.__traceback__)[-1].name


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    failure=st.sampled_from(FAILURES),
    shape=SHAPES,
    outcome=OUTCOMES,
    items=st.integers(min_value=0, max_value=3),
    name=st.one_of(st.none(), WEIRD_TEXT),
    kind=KINDS,
    attributes=ATTRIBUTES,
    annotation=st.tuples(st.one_of(WEIRD_TEXT, st.integers()), WEIRD_VALUES),
    metadata=st.tuples(st.one_of(WEIRD_TEXT, st.integers()), WEIRD_VALUES),
    bare=st.booleans(),
)
def test_decorated_functions_behave_exactly_as_undecorated(
    clean_env: pytest.MonkeyPatch,
    failure: str,
    shape: str,
    outcome: str,
    items: int,
    name: str | None,
    kind: str,
    attributes: dict[Any, Any] | None,
    annotation: tuple[Any, Any],
    metadata: tuple[Any, Any],
    bare: bool,
) -> None:
    memory = set_up(failure)
    sentinel = object()
    error = make_exception(outcome)
    result_value = None if outcome == "return-none" else sentinel

    def side_effects() -> None:
        annotate(*annotation)
        add_metadata(*metadata)
        with span(name or "inner", kind=kind, attributes=attributes) as s:
            s.set_attribute("x", 1)

    def user_sync() -> object:
        side_effects()
        if error is not None:
            raise error
        return result_value

    async def user_async() -> object:
        await asyncio.sleep(0)
        side_effects()
        if error is not None:
            raise error
        return result_value

    def user_gen() -> Any:
        for i in range(items):
            side_effects()
            yield i
        if error is not None:
            raise error
        return result_value

    async def user_agen() -> Any:
        for i in range(items):
            side_effects()
            await asyncio.sleep(0)
            yield i
        if error is not None:
            raise error

    user = {"sync": user_sync, "async": user_async, "generator": user_gen, "async-generator": user_agen}[shape]
    decorated = trace(user) if bare else trace(name, kind=kind, attributes=attributes)(user)
    assert decorated.__name__ == user.__name__

    caught: BaseException | None = None
    got: Any = None
    try:
        if shape == "sync":
            got = decorated()
        elif shape == "async":
            got = asyncio.run(decorated())
        elif shape == "generator":
            gen = decorated()
            produced = []
            while True:
                try:
                    produced.append(next(gen))
                except StopIteration as stop:
                    got = stop.value
                    break
            assert produced == list(range(items))
        else:

            async def drain() -> list[int]:
                return [i async for i in decorated()]

            assert asyncio.run(drain()) == list(range(items))
            got = result_value
    except BaseException as exc:  # the point is to see every exception
        caught = exc

    if error is None:
        assert caught is None, repr(caught)
        assert got is result_value
    else:
        assert caught is error
        assert innermost_function(caught) == user.__name__
    if failure == "healthy":
        assert len(memory.get_finished_spans()) >= 1


def test_failures_are_counted_and_logged_once(clean_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    set_up("exporter-raises")
    for _ in range(5):
        trace(lambda: None)()
    assert stats()["exporter_error:RaisingExporter"] >= 5
    messages = [r.getMessage() for r in caplog.records if "exporter_error:RaisingExporter" in r.getMessage()]
    assert len(messages) <= 1


def test_generator_exit_passes_through(memory: InMemorySpanExporter) -> None:
    closed = []

    @trace
    def numbers() -> Any:
        try:
            yield 1
            yield 2
        finally:
            closed.append(True)

    gen = numbers()
    assert next(gen) == 1
    gen.close()
    assert closed == [True]
    assert len(memory.get_finished_spans()) == 1


JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12,
)
EVENTS = st.one_of(
    JSON,
    st.builds(lambda records: {"Records": records}, st.lists(JSON, max_size=3)),
    st.builds(
        lambda cf: {"Records": [{"cf": cf}]},
        st.dictionaries(st.sampled_from(["config", "request", "response"]), JSON, max_size=3),
    ),
    st.builds(
        lambda attrs: {"Records": [{"eventSource": "aws:sqs", "attributes": attrs, "messageId": 1}]},
        st.one_of(JSON, st.fixed_dictionaries({"AWSTraceHeader": st.text(max_size=80)})),
    ),
)


class OddContext:
    def __init__(self, request_id: object, arn: object, remaining: object) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = arn
        self.memory_limit_in_mb = arn
        self._remaining = remaining

    def get_remaining_time_in_millis(self) -> object:
        if isinstance(self._remaining, Exception):
            raise self._remaining
        return self._remaining


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    integration=st.sampled_from(["lambda", "edge", "batch", "sqs"]),
    event=EVENTS,
    request_id=JSON,
    arn=st.one_of(JSON, st.just("arn:aws:lambda:us-east-1:1:function:f")),
    remaining=st.one_of(st.integers(-(10**6), 10**6), st.text(max_size=5), st.just(ValueError("boom"))),
    env=st.dictionaries(
        st.sampled_from(
            ["_X_AMZN_TRACE_ID", "AWS_BATCH_JOB_ATTEMPT", "AWS_BATCH_JOB_ARRAY_INDEX", "AWS_REGION", "TRACEPARENT"]
        ),
        st.text(max_size=60),
        max_size=3,
    ),
)
def test_integrations_never_break_on_odd_payloads(
    clean_env: pytest.MonkeyPatch,
    integration: str,
    event: Any,
    request_id: Any,
    arn: Any,
    remaining: Any,
    env: dict[str, str],
) -> None:
    from spanscope.tracer.integrations import batch_job, edge_handler, lambda_handler, sqs_records

    for name, value in env.items():
        if "\x00" not in value:
            clean_env.setenv(name, value)
    set_up("healthy")
    sentinel = object()
    context = OddContext(request_id, arn, remaining)

    def handler(ev: Any, ctx: Any) -> object:
        assert ev is event and ctx is context
        return sentinel

    if integration == "lambda":
        assert lambda_handler(flush_timeout_millis=50)(handler)(event, context) is sentinel
    elif integration == "edge":
        assert edge_handler(flush_timeout_millis=50)(handler)(event, context) is sentinel
    elif integration == "batch":
        assert batch_job(flush_timeout_millis=50)(lambda: sentinel)() is sentinel
    elif isinstance(event, dict) and isinstance(event.get("Records"), list):
        assert list(sqs_records(event)) == event["Records"]  # every record, as given, whatever it holds
