"""Benchmark: the TUI on a big store, driven by Textual's Pilot: time to first screen and to apply a filter.

The store holds 100,000 traces of 20 spans (2,000,000 spans) plus one 10,000-span trace; it is built
once with ``store.write_spans`` in big batches and cached under ``benchmarks/out/`` (git-ignored).
Measured, each the median of a few runs:

- first screen: from creating the app to the Traces table showing its first page (target ≤ 1 s);
- filter: from submitting an X-Ray filter expression to its first matching rows on screen (target
  ≤ 300 ms), and to a full page of matches;
- opening the 10,000-span trace in the waterfall.

Baselines measured in the same run: the same app reaching the same screen on an empty store
(Textual's own floor), the bare store query for one page, loading every summary (what an unpaged
table would wait for), and loading and testing 200 traces without the UI.

    .venv/bin/python -m benchmarks.bench_tui            # 100,000 traces
    .venv/bin/python -m benchmarks.bench_tui --quick    # 10,000 traces
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from functools import partial
from pathlib import Path

from spanscope.analysis.filters import compile_filter
from spanscope.collectors.model import Kind, Span, Status
from spanscope.collectors.store import open_store
from spanscope.tui.app import SpanscopeApp
from spanscope.tui.data import StoreSource
from spanscope.tui.screens.trace import TraceScreen
from spanscope.tui.screens.traces import TracesScreen
from spanscope.tui.widgets.filter_box import FilterBox
from spanscope.tui.widgets.waterfall import Waterfall

OUT = Path(__file__).resolve().parent / "out"
BASE_NS = 1_795_255_200_000_000_000  # 2026-11-21T10:00:00Z
MS = 1_000_000
SPANS_PER_TRACE = 20
BATCH_SPANS = 100_000
BIG_TRACE_SPANS = 10_000
SERVICES = ("api", "orders", "payments", "inventory", "users", "search", "email", "worker")
FILTERS = ("fault", "responsetime > 0.25", 'service("payments") { fault }')
SIZE = (140, 40)


def trace_id(k: int) -> str:
    return f"{BASE_NS // 1_000_000_000:08x}{k:024x}"


def make_trace(k: int) -> list[Span]:
    """A 20-span request: an API root calling four services, each doing four steps (some fail)."""
    tid = trace_id(k)
    t0 = BASE_NS + k * 10 * MS  # one request every 10 ms
    fault = k % 20 == 7  # 5 % fault in payments
    slow = 1 + (k % 13 == 0) * 3
    root = f"{k & 0xFFFFFFFF:08x}{0:08x}"
    spans = [
        Span(
            tid,
            root,
            None,
            "api",
            "GET /checkout",
            Kind.SERVER,
            t0,
            t0 + 200 * MS * slow,
            status=Status.FAULT if fault else Status.OK,
            origin="AWS::Lambda::Function",
            attributes={"http.request.method": "GET", "customer.tier": ("gold", "silver", "bronze")[k % 3]},
        )
    ]
    n = 1
    for s in range(4):
        service = SERVICES[1 + (k + s) % (len(SERVICES) - 1)]
        call = f"{k & 0xFFFFFFFF:08x}{n:08x}"
        start = t0 + (5 + s * 45) * MS
        failing = fault and s == 0
        spans.append(
            Span(
                tid,
                call,
                root,
                "api",
                f"call {service}",
                Kind.CLIENT,
                start,
                start + 40 * MS * slow,
                status=Status.FAULT if failing else Status.OK,
            )
        )
        entry = f"{k & 0xFFFFFFFF:08x}{n + 1:08x}"
        spans.append(
            Span(
                tid,
                entry,
                call,
                service if not failing else "payments",
                f"handle {s}",
                Kind.SERVER,
                start + MS,
                start + 39 * MS * slow,
                status=Status.FAULT if failing else Status.OK,
                origin="AWS::Lambda::Function",
            )
        )
        for j in range(2):
            step = f"{k & 0xFFFFFFFF:08x}{n + 2 + j:08x}"
            spans.append(
                Span(
                    tid,
                    step,
                    entry,
                    spans[-1 - j].service,
                    f"step {j}",
                    Kind.INTERNAL,
                    start + (2 + j * 15) * MS,
                    start + (15 + j * 15) * MS,
                )
            )
        n += 4
    while len(spans) < SPANS_PER_TRACE:
        spans.append(
            Span(tid, f"{k & 0xFFFFFFFF:08x}{n:08x}", root, "api", "audit", Kind.INTERNAL, t0 + 190 * MS, t0 + 195 * MS)
        )
        n += 1
    return spans


def big_trace(k: int, at: int) -> list[Span]:
    """An EMR job of 10,000 spans (chains of 100 under a driver), started at the time of request ``at``."""
    tid = trace_id(k)
    t0 = BASE_NS + at * 10 * MS
    spans = [Span(tid, f"{1:016x}", None, "emr-driver", "spark job", Kind.SERVER, t0, t0 + 60_000 * MS)]
    for i in range(2, BIG_TRACE_SPANS + 1):
        parent = 1 if i % 100 == 2 else i - 1
        start = t0 + i * 5 * MS
        spans.append(
            Span(
                tid,
                f"{i:016x}",
                f"{parent:016x}",
                "emr-executor",
                f"task {i}",
                Kind.INTERNAL,
                start,
                start + 5 * MS,
                status=Status.FAULT if i == 4321 else Status.OK,
            )
        )
    return spans


def build_store(traces: int) -> tuple[Path, str]:
    """The cached benchmark store (built on first use) and the id of its big trace."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"tui-v2-{traces}.db"
    big_id = trace_id(traces + 1)
    if path.exists():
        with open_store(path, readonly=True) as store:
            if store.trace_count() == traces + 1:
                return path, big_id
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    with open_store(path) as store:
        batch: list[Span] = []
        for k in range(traces):
            batch.extend(make_trace(k))
            if len(batch) >= BATCH_SPANS:
                store.write_spans(batch)
                batch = []
        batch.extend(big_trace(traces + 1, traces // 2))
        store.write_spans(batch)
        spans = store.span_count()
    print(f"built {path.name}: {traces + 1:,} traces, {spans:,} spans in {time.perf_counter() - started:.1f} s")
    return path, big_id


async def wait_until(pilot, condition, timeout_s: float = 60.0) -> float:  # type: ignore[no-untyped-def]
    """Seconds until ``condition()`` holds, polling the app every few milliseconds."""
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > timeout_s:
            raise TimeoutError("the app did not get there in time")
        await pilot.pause(0.005)
    return time.perf_counter() - started


def _traces_shown(app: SpanscopeApp) -> bool:
    return isinstance(app.screen, TracesScreen) and app.screen.table.row_count > 0


def _waterfall_shown(app: SpanscopeApp) -> bool:
    screen = app.screen
    if not isinstance(screen, TraceScreen):
        return False
    found = screen.query(Waterfall)
    return bool(found) and len(found.first().shown_rows) > 0


async def measure(path: Path, big_id: str) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {"first_screen": [], "open_big_trace": []}
    for expression in FILTERS:
        results[f"filter first rows: {expression}"] = []
        results[f"filter full page: {expression}"] = []
    for _run in range(3):
        source = StoreSource(path)
        started = time.perf_counter()
        app = SpanscopeApp(source, live=False, subtitle="bench")
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, partial(_traces_shown, app))
            results["first_screen"].append(time.perf_counter() - started)
            screen = app.screen
            assert isinstance(screen, TracesScreen)
            box = screen.query_one(FilterBox)
            for expression in FILTERS:
                await pilot.pause()
                submitted = time.perf_counter()
                box.set_expression(expression)

                def has_rows(screen: TracesScreen = screen, expression: str = expression) -> bool:
                    return screen.expression == expression and screen.table.row_count > 0

                def finished(screen: TracesScreen = screen) -> bool:
                    return not screen.loading

                await wait_until(pilot, has_rows)
                results[f"filter first rows: {expression}"].append(time.perf_counter() - submitted)
                await wait_until(pilot, finished)
                results[f"filter full page: {expression}"].append(time.perf_counter() - submitted)
                box.set_expression("")
                await pilot.pause(0.01)
                await wait_until(pilot, finished)
            opened = time.perf_counter()
            app.open_trace(big_id)
            await wait_until(pilot, partial(_waterfall_shown, app))
            results["open_big_trace"].append(time.perf_counter() - opened)
        source.close()
    return results


async def first_screen_on(path: Path) -> float:
    """Seconds from creating the app to the Traces screen being up (rows or not) on ``path``."""
    source = StoreSource(path)
    started = time.perf_counter()
    app = SpanscopeApp(source, live=False, subtitle="bench")
    async with app.run_test(size=SIZE) as pilot:

        def up() -> bool:  # the first page is on screen: "0 traces" on an empty store
            screen = app.screen
            if not isinstance(screen, TracesScreen) or not screen.query("#traces-status"):
                return False
            status = screen.query_one("#traces-status").render()
            return str(getattr(status, "plain", status)).startswith("0 traces") or screen.table.row_count > 0

        await wait_until(pilot, up)
        elapsed = time.perf_counter() - started
    source.close()
    return elapsed


def baselines(path: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    empty = OUT / "tui-empty.db"
    open_store(empty).close()
    asyncio.run(first_screen_on(empty))  # warm-up: first-use costs (imports, CSS) are not the store's
    out["app on an empty store (Textual floor)"] = statistics.median(
        [asyncio.run(first_screen_on(empty)) for _ in range(3)]
    )
    with open_store(path, readonly=True) as store:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            store.summaries(limit=200)
            times.append(time.perf_counter() - started)
        out["store page query (200 summaries)"] = statistics.median(times)
        started = time.perf_counter()
        store.summaries()
        out["load every summary (unpaged)"] = time.perf_counter() - started
        predicate = compile_filter(FILTERS[0])
        started = time.perf_counter()
        ids = [s.trace_id for s in store.summaries(limit=200)]
        for trace in store.iter_traces(trace_ids=ids):
            predicate(trace)
        out["load + test 200 traces (no UI)"] = time.perf_counter() - started
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 traces instead of 100,000")
    parser.add_argument("--traces", type=int, default=None)
    options = parser.parse_args()
    traces = options.traces or (10_000 if options.quick else 100_000)
    path, big_id = build_store(traces)
    base = baselines(path)
    results = asyncio.run(measure(path, big_id))
    print(
        f"\nTUI on {traces:,} traces ({traces * SPANS_PER_TRACE + BIG_TRACE_SPANS:,} spans), terminal {SIZE}, "
        "median of 3 runs"
    )
    for name, value in base.items():
        print(f"  baseline  {name:<52} {value * 1000:9.1f} ms")
    floor = base["app on an empty store (Textual floor)"]
    unpaged = base["load every summary (unpaged)"]
    for name, values in results.items():
        value = statistics.median(values)
        target = " (target ≤ 1000 ms)" if name == "first_screen" else ""
        if name.startswith("filter first rows"):
            target = " (target ≤ 300 ms)"
        print(f"  {name:<62} {value * 1000:9.1f} ms{target}")
    first = statistics.median(results["first_screen"])
    print(
        f"  ratio first screen / the same app on an empty store: {first / floor:.2f}x;  "
        f"loading every summary alone (unpaged) / first screen: {unpaged / first:.2f}x"
    )


if __name__ == "__main__":
    main()
