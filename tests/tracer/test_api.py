"""Core API: @trace on every kind of function, span(), annotations, metadata, ids, sampling, off switch."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from spanscope.tracer import add_metadata, annotate, configure, inject, span, stats, trace
from spanscope.tracer.propagation import context_from_xray, parse_xray_header


def spans(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {s.name: s for s in exporter.get_finished_spans()}


def test_bare_and_argument_forms(memory: InMemorySpanExporter) -> None:
    @trace
    def bare(x: int) -> int:
        return x + 1

    @trace("named", kind="client", attributes={"peer.service": "stripe", "n": 3})
    def named() -> str:
        return "ok"

    @trace(kind=SpanKind.PRODUCER)
    def keyword_only() -> None:
        return None

    @trace(name="by-keyword")
    def by_keyword() -> int:
        return 4

    assert bare(1) == 2 and named() == "ok" and keyword_only() is None and by_keyword() == 4
    got = spans(memory)
    assert "test_bare_and_argument_forms.<locals>.bare" in got
    assert got["named"].kind is SpanKind.CLIENT
    assert dict(got["named"].attributes or {}) == {"peer.service": "stripe", "n": 3}
    assert got["test_bare_and_argument_forms.<locals>.keyword_only"].kind is SpanKind.PRODUCER
    assert "by-keyword" in got
    assert bare.__name__ == "bare"


def test_nesting_and_xray_trace_ids(memory: InMemorySpanExporter) -> None:
    @trace("child")
    def child() -> None:
        pass

    @trace("parent")
    def parent() -> None:
        child()
        child()

    before = int(time.time())
    parent()
    got = memory.get_finished_spans()
    root = next(s for s in got if s.name == "parent")
    children = [s for s in got if s.name == "child"]
    assert len(children) == 2
    assert all(s.parent is not None and s.parent.span_id == root.context.span_id for s in children)
    epoch = root.context.trace_id >> 96
    assert before - 1 <= epoch <= int(time.time()) + 1
    assert root.resource.attributes["service.name"] == "test-svc"


def test_exception_recorded_and_reraised_unchanged(memory: InMemorySpanExporter) -> None:
    error = ValueError("boom")

    @trace("fails")
    def fails() -> None:
        raise error

    with pytest.raises(ValueError) as caught:
        fails()
    assert caught.value is error
    s = spans(memory)["fails"]
    assert s.status.status_code is StatusCode.ERROR
    assert s.events[0].name == "exception"
    assert s.events[0].attributes is not None and s.events[0].attributes["exception.type"] == "ValueError"


async def test_async_function_and_gather(memory: InMemorySpanExporter) -> None:
    @trace("leaf")
    async def leaf(i: int) -> int:
        await asyncio.sleep(0.001 * (3 - i))
        return i

    @trace("fan_out")
    async def fan_out() -> list[int]:
        return list(await asyncio.gather(*(leaf(i) for i in range(3))))

    assert await fan_out() == [0, 1, 2]
    got = memory.get_finished_spans()
    root = next(s for s in got if s.name == "fan_out")
    leaves = [s for s in got if s.name == "leaf"]
    assert len(leaves) == 3 and all(s.parent and s.parent.span_id == root.context.span_id for s in leaves)


def test_generator_context_only_while_generator_runs(memory: InMemorySpanExporter) -> None:
    @trace("inner")
    def inner() -> None:
        pass

    @trace("produce")
    def produce(n: int) -> Any:
        for i in range(n):
            inner()
            received = yield i
            assert received is None
        return "done"

    @trace("consume")
    def consume() -> list[int]:
        out = []
        for item in produce(2):
            inner()  # between items the consumer's context is current, not the generator's
            out.append(item)
        return out

    assert consume() == [0, 1]
    got = memory.get_finished_spans()
    produce_span = next(s for s in got if s.name == "produce")
    consume_span = next(s for s in got if s.name == "consume")
    inners = [s for s in got if s.name == "inner"]
    parents = sorted(s.parent.span_id for s in inners if s.parent)
    assert parents.count(produce_span.context.span_id) == 2
    assert parents.count(consume_span.context.span_id) == 2
    assert produce_span.parent and produce_span.parent.span_id == consume_span.context.span_id


def test_generator_return_send_throw_close(memory: InMemorySpanExporter) -> None:
    @trace("echo")
    def echo() -> Any:
        total = 0
        try:
            while True:
                value = yield total
                total += value
        except KeyError:
            yield -1
        return total

    gen = echo()
    assert next(gen) == 0
    assert gen.send(5) == 5
    assert gen.throw(KeyError("x")) == -1
    with pytest.raises(StopIteration) as stop:
        next(gen)
    assert stop.value.value == 5
    gen2 = echo()
    next(gen2)
    gen2.close()
    assert [s.name for s in memory.get_finished_spans()] == ["echo", "echo"]


async def test_async_generator(memory: InMemorySpanExporter) -> None:
    @trace("ticks")
    async def ticks(n: int) -> Any:
        for i in range(n):
            await asyncio.sleep(0)
            yield i

    assert [i async for i in ticks(3)] == [0, 1, 2]
    assert [s.name for s in memory.get_finished_spans()] == ["ticks"]

    @trace("accumulate")
    async def accumulate() -> Any:
        total = 0
        while True:
            total += (yield total) or 0

    for disabled in (False, True):
        configure(exporters=[memory], sampling=1.0, disabled=disabled)
        agen = accumulate()
        assert await agen.asend(None) == 0
        assert await agen.asend(5) == 5
        assert await agen.asend(2) == 7
        await agen.aclose()


def test_span_context_manager(memory: InMemorySpanExporter) -> None:
    with span("outer", attributes={"a": 1}) as outer:
        outer.set_attribute("b", "x")
        with span("inner", kind="client"):
            pass
    got = spans(memory)
    assert dict(got["outer"].attributes or {}) == {"a": 1, "b": "x"}
    assert got["inner"].parent and got["inner"].parent.span_id == got["outer"].context.span_id
    with pytest.raises(KeyError), span("broken"):
        raise KeyError("k")
    assert spans(memory)["broken"].status.status_code is StatusCode.ERROR


async def test_async_span_context_manager(memory: InMemorySpanExporter) -> None:
    async with span("a-outer") as s:
        assert s.is_recording()
    assert "a-outer" in spans(memory)


def test_annotations_follow_xray_rules(memory: InMemorySpanExporter) -> None:
    with span("annotated"):
        assert annotate("customer_id", "c-42")
        assert annotate("amount", 12.5)
        assert annotate("vip", True)
        assert not annotate("bad-key", 1)
        assert not annotate("k" * 501, 1)
        assert not annotate("obj", {"no": "dicts"})  # type: ignore[arg-type]
        assert not annotate("nan", float("nan"))
    s = spans(memory)["annotated"]
    attrs: dict[str, Any] = dict(s.attributes or {})
    assert attrs["customer_id"] == "c-42" and attrs["amount"] == 12.5 and attrs["vip"] is True
    assert tuple(attrs["aws.xray.annotations"]) == ("customer_id", "amount", "vip")
    assert "bad-key" not in attrs
    assert stats()["annotation_invalid"] == 4


def test_at_most_50_annotations_per_trace(memory: InMemorySpanExporter) -> None:
    with span("many"):
        results = [annotate(f"k{i}", i) for i in range(60)]
        assert annotate("k3", 99)  # re-annotating a used key is fine
    assert results.count(True) == 50
    assert stats()["annotation_limit"] == 10
    assert len(spans(memory)["many"].attributes["aws.xray.annotations"]) == 50  # type: ignore[arg-type,index]


def test_metadata_is_flattened(memory: InMemorySpanExporter) -> None:
    with span("meta"):
        add_metadata("config", {"retries": 3, "db": {"host": "h", "port": 5432}, "tags": ["a", "b"]})
        add_metadata("payload", {"x": None, "mixed": [1, "a"]}, namespace="debug")
    attrs: dict[str, Any] = dict(spans(memory)["meta"].attributes or {})
    assert attrs["config.retries"] == 3 and attrs["config.db.host"] == "h" and attrs["config.db.port"] == 5432
    assert tuple(attrs["config.tags"]) == ("a", "b")
    assert attrs["debug.payload.x"] == "null" and tuple(attrs["debug.payload.mixed"]) == ("1", "a")
    assert "aws.xray.annotations" not in attrs


def test_annotate_outside_a_span_is_a_no_op(memory: InMemorySpanExporter) -> None:
    assert annotate("lonely", 1) is False
    assert add_metadata("lonely", 1) == 0


def test_unsampled_parent_is_a_pass_through(memory: InMemorySpanExporter) -> None:
    from opentelemetry import context as otel_context

    header = parse_xray_header("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0")
    assert header is not None

    @trace("skipped")
    def work() -> int:
        return 7

    token = otel_context.attach(context_from_xray(header))
    try:
        assert work() == 7
        with span("also-skipped") as s:
            assert not s.is_recording()
    finally:
        otel_context.detach(token)
    assert memory.get_finished_spans() == ()


def test_ratio_zero_and_disabled_are_pass_throughs(clean_env: pytest.MonkeyPatch) -> None:
    exporter = InMemorySpanExporter()
    configure(exporters=[exporter], sampling="always_off")

    @trace
    def f() -> int:
        return 1

    assert f() == 1
    configure(exporters=[exporter], disabled=True)
    assert f() == 1
    with span("nothing") as s:
        assert not s.is_recording()
    assert exporter.get_finished_spans() == ()


def test_env_off_switch_returns_the_function_itself(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SPANSCOPE_DISABLED", "1")

    def f() -> int:
        return 1

    assert trace(f) is f
    assert trace("x")(f) is f


def test_ratio_sampling_of_roots_follows_the_trace_id_rule(clean_env: pytest.MonkeyPatch) -> None:
    exporter = InMemorySpanExporter()
    configure(exporters=[exporter], sampling=0.5)

    @trace("child")
    def child() -> int:
        return 1

    @trace("root")
    def root() -> int:
        return child() + child()

    assert all(root() == 2 for _ in range(400))
    spans = exporter.get_finished_spans()
    roots = [s for s in spans if s.name == "root"]
    bound = round(0.5 * 2**64)
    assert 0 < len(roots) < 400
    assert all((s.context.trace_id & (2**64 - 1)) < bound for s in roots)  # TraceIdRatioBased's rule
    assert all((s.context.trace_id >> 96) > 0 for s in roots)  # still X-Ray ids (epoch seconds first)
    children = [s for s in spans if s.name == "child"]
    assert len(children) == 2 * len(roots)  # children follow their root's decision
    assert {s.parent.span_id for s in children if s.parent} == {s.context.span_id for s in roots}
    configure(exporters=[exporter], sampling="parentbased_always_off")
    exporter.clear()
    assert root() == 2 and exporter.get_finished_spans() == ()

    headers: list[dict[str, str]] = []

    @trace("unsampled-root")
    def propagate() -> None:
        headers.append(inject())
        headers.append(inject())

    propagate()
    propagate()
    first = parse_xray_header(headers[0]["X-Amzn-Trace-Id"])
    assert first is not None and first.sampled is False and first.parent is not None
    assert abs(int(first.root[2:10], 16) - time.time()) < 5  # epoch seconds first
    assert headers[0] == headers[1] and headers[0] != headers[2]  # stable within a root, new per root
    assert headers[0]["traceparent"].endswith("-00")


def test_methods_static_and_class_methods(memory: InMemorySpanExporter) -> None:
    class Orders:
        factor = 3

        @trace
        def total(self, n: int) -> int:
            return n * self.factor

        @trace
        @staticmethod
        def static(n: int) -> int:
            return n + 1

        @trace
        @classmethod
        def klass(cls, n: int) -> int:
            return n * cls.factor

        @staticmethod
        @trace("inner-static")
        def inner_static(n: int) -> int:
            return n - 1

    orders = Orders()
    assert orders.total(2) == 6 and Orders.static(1) == 2 and orders.static(1) == 2
    assert Orders.klass(2) == 6 and orders.inner_static(5) == 4
    names = [s.name for s in memory.get_finished_spans()]
    assert names == [
        "test_methods_static_and_class_methods.<locals>.Orders.total",
        "test_methods_static_and_class_methods.<locals>.Orders.static",
        "test_methods_static_and_class_methods.<locals>.Orders.static",
        "test_methods_static_and_class_methods.<locals>.Orders.klass",
        "inner-static",
    ]
