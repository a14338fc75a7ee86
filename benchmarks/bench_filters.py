"""Benchmark: attribute search in a store, with the store's text pushdown against evaluating every trace.

A temporary store holds ``--traces`` traces of 10 spans with realistic attributes (HTTP routes,
DB statements, resource attributes); 1 % of the traces carry ``http.route = "/api/graphql"``.
Each variant returns the matching trace ids for the same expression, best wall time of ``--repeat``:

- ``scan`` (baseline, what ``traces --filter`` did before): decode every trace of the window and
  evaluate the predicate.
- ``pushdown``: ``Store.trace_ids_containing`` finds the traces whose stored span/resource JSON holds
  the required value (``analysis.filters.pushdown``), then only those are decoded and evaluated.

Also timed: BubbleUp (``--select errors``) over the decoded traces, map and merge steps.

    .venv/bin/python -m benchmarks.bench_filters            # 20,000 traces (200,000 spans), best of 3
    .venv/bin/python -m benchmarks.bench_filters --quick    # 2,000 traces, best of 2
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

from spanscope.analysis.bubbleup import Selection, bubbleup
from spanscope.analysis.filters import compile_filter
from spanscope.analysis.filters.grammar import parse_filter
from spanscope.analysis.filters.pushdown import required_text
from spanscope.collectors.model import Kind, Span, Status
from spanscope.collectors.store import open_store

BASE_NS = 1_763_700_000_000_000_000
ROUTES = ["/api/orders", "/api/users", "/api/cart", "/api/search", "/health"]
EXPRESSIONS = [
    'attribute.http.route = "/api/graphql"',
    'annotation.http.route = "/api/graphql" AND service("db") { attribute.db.system = "postgresql" }',
]


def _trace(rng: random.Random, i: int) -> list[Span]:
    tid = f"{(BASE_NS // 1_000_000_000) & 0xFFFFFFFF:08x}{i:024x}"
    start = BASE_NS + i * 1_000_000
    route = "/api/graphql" if i % 100 == 7 else rng.choice(ROUTES)
    resource = {"service.name": "api", "service.instance.id": f"proc-{i % 16}", "cloud.region": "us-east-1"}
    spans = [
        Span(tid, f"{1:016x}", None, "api", f"POST {route}", Kind.SERVER, start, start + 50_000_000,
             Status.FAULT if i % 50 == 0 else Status.OK,
             attributes={"http.route": route, "http.request.method": "POST", "http.response.status_code": 200,
                         "url.full": f"https://api.example.com{route}?q={rng.random():.6f}"},
             resource=resource)
    ]  # fmt: skip
    for k in range(2, 11):
        spans.append(
            Span(tid, f"{k:016x}", f"{1:016x}", "db" if k % 3 == 0 else "api", f"step {k}", Kind.CLIENT,
                 start + k * 1_000_000, start + k * 1_000_000 + 500_000,
                 attributes={"db.system": "postgresql", "db.statement": f"SELECT * FROM t{k} WHERE id = {i}"},
                 resource=resource)
        )  # fmt: skip
    return spans


def _best(fn, repeat: int) -> tuple[float, object]:
    best = float("inf")
    result: object = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.traces, args.repeat = 2_000, 2
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        with open_store(db) as store:
            batch: list[Span] = []
            for i in range(args.traces):
                batch.extend(_trace(rng, i))
                if len(batch) >= 10_000:
                    store.write_spans(batch)
                    batch = []
            store.write_spans(batch)
        print(f"load average {os.getloadavg()[0]:.1f}; {args.traces} traces, {args.traces * 10} spans")
        with open_store(db, readonly=True) as store:
            for expression in EXPRESSIONS:
                predicate = compile_filter(expression)
                needles = required_text(parse_filter(expression))

                def scan(predicate=predicate) -> set[str]:
                    return {t.trace_id for t in store.iter_traces() if predicate(t)}

                def pushdown(predicate=predicate, needles=needles) -> set[str]:
                    ids = store.trace_ids_containing(needles)
                    return {t.trace_id for t in store.iter_traces(trace_ids=ids) if predicate(t)}

                t_scan, r_scan = _best(scan, args.repeat)
                t_push, r_push = _best(pushdown, args.repeat)
                assert r_scan == r_push, "pushdown must return the same matches"
                print(f"{expression}\n  matches {len(r_scan)}; scan {t_scan * 1e3:.0f} ms, ", end="")
                print(f"pushdown {t_push * 1e3:.0f} ms (ratio {t_push / t_scan:.3f}), needles {needles}")
            traces = list(store.iter_traces())
        t_bu, result = _best(lambda: bubbleup(traces, Selection.errors()), args.repeat)
        print(f"bubbleup --select errors over {len(traces)} decoded traces: {t_bu * 1e3:.0f} ms "
              f"({t_bu / len(traces) * 1e6:.0f} µs/trace), {len(result.findings)} findings")  # type: ignore[attr-defined]  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
