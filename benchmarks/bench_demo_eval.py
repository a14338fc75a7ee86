"""Evaluation of the analyzers on the demo: over many seeds, is each injected fault found?

Each seed runs the demo system three times, at a reduced scale (``EVAL_SCALE``: 20 requests, a 3-child
Batch array, 6 reduce tasks, 20 device readings) so that 20 seeds fit in minutes on two cores:

- run A: ``dynamodb-throttle, s3-latency, slow-reducer, cold-start-storm``
- run B: ``bad-deploy, skewed-partition``
- run C: ``edge-offline`` (the device's failed uplink calls are failure chains too)

(one fault that makes failure chains per run, so "the top failure chain" has one right answer; background
noise, i.e. expired tokens, unknown products and the Spot interruption, is present in every run). Measured:

- AC@1: the top failure chain's origin is the injected failing operation (dynamodb-throttle, bad-deploy);
- hotspot@3: the injected slow operation is among the top 3 hotspots (s3-latency);
- straggler: the injected straggler is flagged, with the right "explained by input size" (slow-reducer,
  skewed-partition);
- cold start@1: the stormed function ranks first for cold starts (cold-start-storm);
- offline: the uplink failure is a failure chain and every offline reading arrived later (edge-offline);
- cold start on the function: the stormed function's ``Initialization`` holds more critical-path time than
  its caller keeps (the caller is not blamed for the function's cold starts).

The baseline, computed on the same runs' traces, is what a naive reading of the spans would say: the
operation with the most failed spans; the 3 operations with the most total (inclusive) time; the slowest
reduce task; the function with the most cold starts.

    .venv/bin/python -m benchmarks.bench_demo_eval            # 20 seeds
    .venv/bin/python -m benchmarks.bench_demo_eval --quick    # 3 seeds
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from spanscope.cli.demo.scenario import run_demo
from spanscope.cli.demo.truth import load_truth
from spanscope.cli.demo.verdict import analyze_run
from spanscope.demo_apps.faults import Scale

EVAL_SCALE = Scale(
    requests=20,
    client_concurrency=2,
    batch_array_size=3,
    batch_slots=2,
    records_per_shard=1200,
    map_tasks=3,
    reduce_tasks=6,
    device_readings=20,
    device_interval_s=0.1,
    pipeline_after_orders=6,
)
RUNS = {
    "A": ["dynamodb-throttle", "s3-latency", "slow-reducer", "cold-start-storm"],
    "B": ["bad-deploy", "skewed-partition"],
    "C": ["edge-offline"],  # its failed uplink calls are failure chains too: kept apart from the error faults
}
METRIC_OF = {
    "dynamodb-throttle": "AC@1 (errors)",
    "bad-deploy": "AC@1 (errors)",
    "s3-latency": "slow op in top-3 hotspots",
    "slow-reducer": "straggler found",
    "skewed-partition": "straggler found",
    "cold-start-storm": "cold-start function #1",
    "edge-offline": "offline found + delivered",
}


def naive(truth: dict[str, Any], traces: list[Any]) -> dict[str, bool]:
    """What the naive reading of the spans gets right, per fault of this run."""
    failed: Counter[tuple[str, str]] = Counter()
    total: Counter[tuple[str, str]] = Counter()
    reduce_tasks: list[tuple[int, str]] = []
    cold: Counter[str] = Counter()
    for trace in traces:
        for s in trace.spans:
            key = (s.service, s.name)
            total[key] += s.duration_ns
            if s.status.failed:
                failed[key] += 1
            if s.name == "reduce task":
                reduce_tasks.append((s.duration_ns, str(s.attributes.get("mapreduce.task.id", ""))))
            if s.attributes.get("faas.coldstart") is True:
                cold[str(s.attributes.get("faas.name") or s.service)] += 1
    out: dict[str, bool] = {}
    for item in truth["expected"]:
        fault = item["fault"]
        if fault == "edge-offline":
            op = item["failing_operation"]
            out[fault] = failed[(op["service"], op["operation"])] > 0
        elif "failing_operation" in item:
            op = item["failing_operation"]
            top = failed.most_common(1)
            out[fault] = bool(top) and top[0][0] == (op["service"], op["operation"])
        elif "slow_operation" in item:
            op = item["slow_operation"]
            out[fault] = (op["service"], op["operation"]) in [k for k, _ in total.most_common(3)]
        elif "straggler" in item:
            out[fault] = bool(reduce_tasks) and max(reduce_tasks)[1] == item["straggler"]["task_id"]
        elif "cold_start_function" in item:
            top_fn = cold.most_common(1)
            out[fault] = bool(top_fn) and top_fn[0][0] == item["cold_start_function"]
    return out


ATTRIBUTION = "cold start on the function"


def attribution(report: Any, traces: list[Any], function: str) -> tuple[bool, bool]:
    """Is the stormed function's cold start attributed to it and not to its caller? (analyzers, naive)

    The caller is the operation of the spans that the function's cold invocations hang under. The
    analyzers are right when the function's ``Initialization`` takes more critical-path time than the
    caller keeps. The naive reading looks at the spans alone: the function's spans hold what cold
    invocations took beyond a warm one, the caller's hold the extra gap before a cold invocation starts;
    it is right when the former is the larger.
    """
    from spanscope.analysis.cold_starts import INITIALIZATION
    from spanscope.analysis.stats import median

    callers: Counter[tuple[str, str]] = Counter()
    durations: dict[bool, list[int]] = {True: [], False: []}
    gaps: dict[bool, list[int]] = {True: [], False: []}
    for trace in traces:
        for i, s in enumerate(trace.spans):
            flag = s.attributes.get("faas.coldstart")
            p = trace.parent(i)
            if s.service != function or not isinstance(flag, bool) or p is None:
                continue
            parent = trace.spans[p]
            durations[flag].append(s.duration_ns)
            gaps[flag].append(max(0, s.start_ns - parent.start_ns))
            if flag:
                callers[(parent.service, parent.name)] += 1
    if not callers:
        return False, False
    caller = callers.most_common(1)[0][0]
    hot = {(h.service, h.operation): h for h in report.hotspots}
    init = hot.get((function, INITIALIZATION))
    held = hot.get(caller)
    got = init is not None and init.critical_path_ns > (held.critical_path_ns if held else 0)
    in_function = sum(d - median(durations[False]) for d in durations[True])
    in_caller = sum(g - median(gaps[False]) for g in gaps[True])
    return got, in_function > in_caller


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 seeds instead of 20")
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (default 20, quick 3)")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--json", metavar="PATH", help="also write the per-run results as JSON")
    args = parser.parse_args(argv)
    seeds = args.seeds or (3 if args.quick else 20)
    hits: dict[str, list[bool]] = defaultdict(list)
    naive_hits: dict[str, list[bool]] = defaultdict(list)
    rows: list[dict[str, Any]] = []
    run_seconds: list[float] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="spanscope-eval-") as tmp:
        for seed in range(args.first_seed, args.first_seed + seeds):
            for label, faults in RUNS.items():
                db = Path(tmp) / f"seed{seed}-{label}.db"
                result = run_demo(db, faults, seed, scale=EVAL_SCALE, timeout_s=180)
                run_seconds.append(result.elapsed_s)
                truth = load_truth(result.truth_path)
                report, verdicts, traces = analyze_run(db, truth)
                base = naive(truth, traces)
                for v in verdicts:
                    ok = v.rank == 1 if METRIC_OF[v.fault].startswith("AC@1") else v.found
                    hits[v.fault].append(ok)
                    naive_hits[v.fault].append(base.get(v.fault, False))
                    rows.append(
                        {
                            "seed": seed,
                            "run": label,
                            "fault": v.fault,
                            "hit": ok,
                            "rank": v.rank,
                            "naive": base.get(v.fault, False),
                            "detail": v.detail,
                        }
                    )
                for item in truth["expected"]:
                    if "cold_start_function" in item:
                        got, nav = attribution(report, traces, str(item["cold_start_function"]))
                        hits[ATTRIBUTION].append(got)
                        naive_hits[ATTRIBUTION].append(nav)
                        rows.append({"seed": seed, "run": label, "fault": ATTRIBUTION, "hit": got, "naive": nav})
                missed = [v.fault for v in verdicts if not hits[v.fault][-1]]
                print(
                    f"seed {seed:>2} run {label}: {result.elapsed_s:5.1f}s, {report.traces} traces"
                    + (f", missed {', '.join(missed)}" if missed else ", all found"),
                    file=sys.stderr,
                    flush=True,
                )
                for path in Path(tmp).glob(f"seed{seed}-{label}.db*"):
                    path.unlink()
    elapsed = time.monotonic() - started

    def share(values: list[bool]) -> float:
        return sum(values) / len(values) if values else 0.0

    print(
        f"\nDemo evaluation: {seeds} seeds x {len(RUNS)} runs, reduced scale, {elapsed:.0f}s in all "
        f"(median run {sorted(run_seconds)[len(run_seconds) // 2]:.1f}s)\n"
    )
    header = f"| {'metric':<27} | {'fault':<18} | {'runs':>4} | {'analyzers':>9} | {'naive':>6} | {'ratio':>6} |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    by_metric: dict[str, list[bool]] = defaultdict(list)
    naive_by_metric: dict[str, list[bool]] = defaultdict(list)
    for fault, metric in METRIC_OF.items():
        got, nav = share(hits[fault]), share(naive_hits[fault])
        by_metric[metric] += hits[fault]
        naive_by_metric[metric] += naive_hits[fault]
        ratio = f"{got / nav:.2f}" if nav else "inf" if got else "-"
        print(f"| {metric:<27} | {fault:<18} | {len(hits[fault]):>4} | {got:>9.2f} | {nav:>6.2f} | {ratio:>6} |")
    got, nav = share(hits[ATTRIBUTION]), share(naive_hits[ATTRIBUTION])
    ratio = f"{got / nav:.2f}" if nav else "inf" if got else "-"
    print(
        f"| {ATTRIBUTION:<27} | {'cold-start-storm':<18} | {len(hits[ATTRIBUTION]):>4} | {got:>9.2f} | {nav:>6.2f} |"
        f" {ratio:>6} |"
    )
    print()
    for metric, values in by_metric.items():
        print(f"{metric}: {share(values):.2f} over {len(values)} runs (naive {share(naive_by_metric[metric]):.2f})")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
