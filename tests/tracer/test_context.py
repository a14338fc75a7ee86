"""Context stays correct across threads, thread pools, asyncio.gather and run_in_executor."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from spanscope.tracer import ContextThreadPoolExecutor, bind, span, trace


@trace("work")
def work(i: int) -> int:
    return i * 2


def parent_of(s: ReadableSpan) -> int | None:
    return s.parent.span_id if s.parent else None


def test_pool_without_bind_never_borrows_a_stale_parent(memory: InMemorySpanExporter) -> None:
    with ThreadPoolExecutor(2) as pool:
        with span("request-a"):
            list(pool.map(work, range(4)))
        with span("request-b"):
            list(pool.map(work, range(4)))
    works = [s for s in memory.get_finished_spans() if s.name == "work"]
    assert len(works) == 8 and all(s.parent is None for s in works)  # roots, never a wrong parent


def test_pool_with_bind_parents_every_task(memory: InMemorySpanExporter) -> None:
    with ThreadPoolExecutor(3) as pool:
        with span("request-a") as a:
            futures_a = [pool.submit(bind(work), i) for i in range(5)]
        with span("request-b") as b:
            futures_b = [pool.submit(bind(work), i) for i in range(5)]
        assert [f.result() for f in futures_a + futures_b] == [0, 2, 4, 6, 8] * 2
    works = [s for s in memory.get_finished_spans() if s.name == "work"]
    parents = [parent_of(s) for s in works]
    assert parents.count(a.get_span_context().span_id) == 5
    assert parents.count(b.get_span_context().span_id) == 5


def test_threads_interleaving(memory: InMemorySpanExporter) -> None:
    barrier = threading.Barrier(4)

    @trace("thread-root")
    def in_thread() -> None:
        barrier.wait()
        work(1)
        barrier.wait()
        work(2)

    threads = [threading.Thread(target=in_thread) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    spans = memory.get_finished_spans()
    roots = {s.context.span_id for s in spans if s.name == "thread-root"}
    works = [s for s in spans if s.name == "work"]
    assert len(roots) == 4 and len(works) == 8
    for root in roots:
        assert sum(parent_of(w) == root for w in works) == 2


async def test_gather_and_run_in_executor(memory: InMemorySpanExporter) -> None:
    loop = asyncio.get_running_loop()

    @trace("request")
    async def request(i: int) -> int:
        await asyncio.sleep(0.001 * (i % 3))
        doubled: int = await loop.run_in_executor(None, bind(work), i)
        await asyncio.sleep(0)
        return doubled

    assert await asyncio.gather(*(request(i) for i in range(6))) == [0, 2, 4, 6, 8, 10]
    assert await asyncio.to_thread(work, 7) == 14  # to_thread copies the context itself
    spans = memory.get_finished_spans()
    requests = [s for s in spans if s.name == "request"]
    works = [s for s in spans if s.name == "work"]
    assert len(requests) == 6 and len(works) == 7
    assert sorted(parent_of(w) or 0 for w in works if w.parent) == sorted(r.context.span_id for r in requests)
    assert len({r.context.trace_id for r in requests}) == 6  # concurrent roots never nest into each other


def test_context_thread_pool_executor(memory: InMemorySpanExporter) -> None:
    with ContextThreadPoolExecutor(2) as pool, span("batch") as batch:
        assert list(pool.map(work, range(4))) == [0, 2, 4, 6]
        assert pool.submit(work, 5).result() == 10
    works = [s for s in memory.get_finished_spans() if s.name == "work"]
    assert len(works) == 5 and {parent_of(s) for s in works} == {batch.get_span_context().span_id}


async def test_context_executor_as_asyncio_default(memory: InMemorySpanExporter) -> None:
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ContextThreadPoolExecutor(2))

    @trace("request")
    async def request(i: int) -> int:
        doubled: int = await loop.run_in_executor(None, work, i)  # no bind needed
        return doubled

    assert await asyncio.gather(*(request(i) for i in range(4))) == [0, 2, 4, 6]
    spans = memory.get_finished_spans()
    requests = {s.context.span_id for s in spans if s.name == "request"}
    assert sorted(parent_of(s) or 0 for s in spans if s.name == "work") == sorted(requests)
