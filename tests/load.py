"""Workloads shared by the tests and the benchmarks: generated traces of the analyze and report benchmarks,
and the hostile shapes (cycles, depth, fan-out, duplicates, negative durations, huge attributes); and
``run_benchmark``, which runs a benchmark as a process for the tests that are its short versions (soak, fuzz).

The benchmarks import these (``benchmarks.bench_analyze``, ``bench_report``, ``bench_hostile``, ``bench_scale``);
no test imports ``benchmarks/``.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from spanscope.collectors.model import Kind, Span, SpanLink, Status, Trace
from spanscope.collectors.store import open_store
from spanscope.render.html_report import render_report_html
from spanscope.render.report_inputs import analyze_for_html

REPO = Path(__file__).resolve().parents[1]


def run_benchmark(module: str, *args: str, timeout_s: float = 900.0) -> dict[str, Any]:
    """Run ``python -m benchmarks.<module> ARGS`` from the repository; the JSON object of its last output line."""
    proc = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    assert proc.returncode == 0, f"benchmarks.{module} exited {proc.returncode}: {proc.stderr[-3000:]}"
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# --- the analyze benchmark's workload: API requests, MapReduce fan-outs, SQS hops ---------------------------

SPANS_PER_TRACE = 20
BASE_NS = 1_763_700_000_000_000_000
MS = 1_000_000


def _ids(k: int) -> str:
    return f"{(BASE_NS // 1_000_000_000) & 0xFFFFFFFF:08x}{k:024x}"


def make_trace(k: int, rng: random.Random) -> Trace:
    """One 20-span trace; the shape depends on k."""
    tid = _ids(k)
    t0 = BASE_NS + k * 50 * MS
    sid = [f"{k % 0xFFFF:04x}{j + 1:012x}" for j in range(SPANS_PER_TRACE)]
    spans: list[Span] = []
    shape = k % 10
    if shape < 6:  # API: root, SQS enqueue, 3 DynamoDB calls, a Lambda invocation with 14 steps
        fault = rng.random() < 0.03
        status = Status.FAULT if fault else Status.OK
        db = [rng.randint(2, 30) * MS for _ in range(3)]
        end = t0 + 20 * MS + sum(db) + 60 * MS
        spans.append(
            Span(
                tid,
                sid[0],
                None,
                "api",
                "POST /orders",
                Kind.SERVER,
                t0,
                end,
                status,
                origin="AWS::Lambda::Function",
                attributes={"http.request.method": "POST", "cloud.region": rng.choice(("us-east-1", "eu-west-1"))},
            )
        )
        spans.append(Span(tid, sid[1], sid[0], "api", "enqueue", Kind.PRODUCER, t0 + MS, t0 + 8 * MS))
        cur = t0 + 10 * MS
        for j in range(3):
            st = status if j == 2 else Status.OK
            spans.append(
                Span(
                    tid,
                    sid[2 + j],
                    sid[0],
                    "api",
                    "DynamoDB",
                    Kind.CLIENT,
                    cur,
                    cur + db[j],
                    st,
                    namespace="aws",
                    remote_service="DynamoDB",
                )
            )
            cur += db[j] + MS
        cold = rng.random() < 0.05
        inv_end = cur + 50 * MS + (300 * MS if cold else 0)
        spans.append(
            Span(
                tid,
                sid[5],
                sid[0],
                "resize",
                "invoke",
                Kind.SERVER,
                cur,
                min(inv_end, end),
                attributes={
                    "faas.coldstart": cold,
                    "faas.name": "resize",
                    "spanscope.faas.init_duration_ns": 280 * MS if cold else 0,
                },
            )
        )
        step = (min(inv_end, end) - cur) // 14
        for j in range(14):
            spans.append(
                Span(
                    tid,
                    sid[6 + j],
                    sid[5],
                    "resize",
                    f"step{j % 4}",
                    Kind.INTERNAL,
                    cur + j * step,
                    cur + (j + 1) * step,
                )
            )
    elif shape < 9:  # MapReduce job: root, 18 map tasks (sometimes a straggler), 1 reduce
        base = 100 * MS
        durs = [base + rng.randint(-5, 5) * MS for _ in range(18)]
        records = [10_000 + rng.randint(-100, 100) for _ in range(18)]
        if rng.random() < 0.2:
            durs[rng.randrange(18)] = base * 4
        map_end = t0 + max(durs)
        spans.append(Span(tid, sid[0], None, "emr", "wordcount", Kind.INTERNAL, t0, map_end + 30 * MS))
        for j in range(18):
            spans.append(
                Span(
                    tid,
                    sid[1 + j],
                    sid[0],
                    "emr",
                    "map",
                    Kind.INTERNAL,
                    t0,
                    t0 + durs[j],
                    attributes={"mapreduce.task.id": f"m{j}", "mapreduce.records.in": records[j]},
                )
            )
        spans.append(Span(tid, sid[19], sid[0], "emr", "reduce", Kind.INTERNAL, map_end, map_end + 30 * MS))
    else:  # a consumer whose DynamoDB fault fails it; linked to its producer in trace k - 4
        link = [SpanLink(_ids(k - 4), f"{(k - 4) % 0xFFFF:04x}{2:012x}")]  # the API request's enqueue
        spans.append(
            Span(tid, sid[0], None, "worker", "process", Kind.CONSUMER, t0, t0 + 200 * MS, Status.FAULT, links=link)
        )
        for j in range(1, SPANS_PER_TRACE):
            st = Status.FAULT if j == SPANS_PER_TRACE - 1 else Status.OK
            spans.append(
                Span(
                    tid,
                    sid[j],
                    sid[0],
                    "worker",
                    "DynamoDB" if j % 2 else "parse",
                    Kind.CLIENT,
                    t0 + j * 10 * MS,
                    t0 + j * 10 * MS + 8 * MS,
                    st,
                )
            )
    return Trace(tid, spans)


def generate(n: int, seed: int = 7) -> list[Trace]:
    """``n`` traces of ``make_trace``, deterministic for a seed."""
    rng = random.Random(seed)
    return [make_trace(k, rng) for k in range(n)]


# --- the report benchmark's stores and wide maps ------------------------------------------------------------

CHUNK = 2_000


def fill_store(path: Path, n_traces: int, seed: int = 7) -> int:
    """A store of ``n_traces`` traces of ``generate``'s workload, written in chunks; returns the spans written."""
    rng = random.Random(seed)
    spans = 0
    with open_store(path) as store:
        for start in range(0, n_traces, CHUNK):
            batch = [s for k in range(start, min(n_traces, start + CHUNK)) for s in make_trace(k, rng).spans]
            store.write_spans(batch)
            spans += len(batch)
    return spans


def html_from_store(path: Path, out: Path) -> int:
    """What ``bench_report --store`` times: the HTML report of a store, written to ``out``; returns its size."""
    with open_store(path, readonly=True) as store:
        report, inputs = analyze_for_html(store.iter_traces())
    out.write_text(render_report_html(report, inputs.graph(), inputs.worst_traces()), encoding="utf-8")
    return out.stat().st_size


def wide_traces(services: int = 200, fanout: int = 5, seed: int = 3) -> list[Trace]:
    """A map of ``services`` nodes and about ``services * fanout`` edges (one trace per caller)."""
    rng = random.Random(seed)
    base = 1_763_700_000_000_000_000
    traces = []
    for i in range(services):
        tid = f"{base // 10**9:08x}{i:024x}"
        root = Span(tid, f"{1:016x}", None, f"svc{i:03d}", "handle", Kind.SERVER, base, base + 10**8)
        spans = [root]
        for j in range(fanout):
            callee = rng.randrange(services)
            spans.append(
                Span(
                    tid, f"{j + 2:016x}", root.span_id, f"svc{callee:03d}", "work", Kind.SERVER, base + 10, base + 10**7
                )
            )
        traces.append(Trace(tid, spans))
    return traces


# --- hostile shapes (bench_hostile) -------------------------------------------------------------------------

#: The hostile shapes, and ``plain`` (a 4-ary tree of n spans) as their baseline.
HOSTILE_SHAPES = ("plain", "cycle", "deep", "fanout", "duplicates", "negative", "huge_attributes")


def hostile_spans(shape: str, n: int) -> list[Span]:
    """The spans of one hostile shape at size ``n`` (see ``HOSTILE_SHAPES``)."""
    tid = f"{BASE_NS // 10**9:08x}{abs(hash(shape)) % 2**96:024x}"

    def sid(i: int) -> str:
        return f"{i + 1:016x}"

    spans: list[Span] = []
    if shape == "huge_attributes":
        count = max(2, n // 100)
        big = "y" * 65_536
        many = {f"k{j}": j for j in range(1000)}
        for i in range(count):
            spans.append(
                Span(
                    tid, sid(i), None if i == 0 else sid((i - 1) // 4), f"svc{i % 5}", f"op{i % 11}",
                    Kind.SERVER if i % 3 == 0 else Kind.CLIENT, BASE_NS + i, BASE_NS + i + 10_000,
                    attributes={"blob": big, **many}, annotations={"a": big[:1000]},
                )
            )  # fmt: skip
        return spans
    for i in range(n):
        if shape == "deep":
            parent = sid(i - 1) if i else None
            start, end = BASE_NS + i, BASE_NS + 2 * n - i
        elif shape == "fanout":
            parent = sid(0) if i else None
            start, end = BASE_NS + i, BASE_NS + i + 1000 + i % 97
        elif shape == "cycle":  # every span's parent is the previous one, the first's is the last
            parent = sid((i - 1) % n)
            start, end = BASE_NS + i, BASE_NS + 2 * n - i
        else:
            parent = sid((i - 1) // 4) if i else None
            start, end = BASE_NS + i * 10, BASE_NS + i * 10 + 5_000
            if shape == "negative":
                start, end = end, start - i  # ends before it starts
        spans.append(
            Span(
                tid, sid(i), parent, f"svc{i % 7}", f"op{i % 13}",
                Kind.SERVER if i % 3 == 0 else Kind.CLIENT, start, end,
                status=Status.FAULT if i % 50 == 0 else Status.OK,
                attributes={"http.response.status_code": 500 if i % 50 == 0 else 200, "i": i},
            )
        )  # fmt: skip
    if shape == "duplicates":  # every id twice: a second, longer version of each span
        spans = spans + [replace(s, end_ns=s.end_ns + 1000, name=s.name + "-v2") for s in spans]
    return spans
