"""Hostile-data benchmark: store write/read, post-mortem report and service map on hostile traces at n and 4n.

Run ``python -m benchmarks.bench_hostile [--n 25000] [--quick]``. Shapes: one parent cycle through
every span, a chain n deep, a fan-out of n children, duplicated ids (every id twice), negative
durations, huge attributes (n/100 spans with 64 KiB strings and 1,000-key attribute maps), and the
baseline measured in the same run: a plain 4-ary tree of n spans. Each (shape, size) runs in a fresh
process so its peak RSS is its own. Printed: seconds per step, the 4n/n time ratio (about 4 means
linear; best of three runs per step), the ratio against the plain tree of the same size, and peak
RSS above the process's RSS after imports.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.load import HOSTILE_SHAPES, hostile_spans

SHAPES = HOSTILE_SHAPES
make = hostile_spans
STEPS = ("write", "read", "report", "map")


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def one(shape: str, n: int, tmp: Path, repeat: int = 3) -> dict[str, Any]:
    """Measure one (shape, size) in this process: the best of ``repeat`` runs per step."""
    from spanscope.analysis.report import build_report
    from spanscope.collectors.model import Trace
    from spanscope.collectors.service_map import build_service_map
    from spanscope.collectors.store import open_store

    base_kb = _rss_kb()
    out: dict[str, Any] = {"shape": shape, "n": n}
    best: dict[str, float] = {}

    def timed(step: str, t0: float) -> None:
        best[step] = min(best.get(step, float("inf")), time.perf_counter() - t0)

    for run in range(repeat):
        spans = make(shape, n)
        out["spans"] = len(spans)
        db = tmp / f"{shape}-{n}-{run}.db"
        with open_store(db) as store:
            t = time.perf_counter()
            store.write_spans(spans)
            timed("write", t)
            tid = spans[0].trace_id
            t = time.perf_counter()
            trace = store.get_trace(tid)
            timed("read", t)
        del spans
        db.unlink()
        if shape == "duplicates":  # the store keeps one version; analyze the raw duplicates too
            trace = Trace(trace.trace_id, list(trace.spans) + make(shape, n)[: len(trace.spans)])
        t = time.perf_counter()
        report = build_report([trace], service_map=False)
        timed("report", t)
        t = time.perf_counter()
        graph = build_service_map([trace])
        timed("map", t)
        out["report_spans"] = report.spans
        out["map_nodes"] = graph.number_of_nodes()
        out["stored_spans"] = len(trace.spans)
        del trace, report, graph
    out.update(best)
    out["peak_rss_above_imports_mb"] = round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base_kb) / 1024, 1)
    return out


def _child(shape: str, n: int, tmp: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_hostile", "--one", shape, "--n", str(n), "--tmp", str(tmp)],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{shape} {n}: {proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=25_000, help="base size n (default 25,000; 4n is also run)")
    parser.add_argument("--quick", action="store_true", help="n = 5,000")
    parser.add_argument("--one", choices=SHAPES, help=argparse.SUPPRESS)
    parser.add_argument("--tmp", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one, args.n, Path(args.tmp))))
        return 0
    n = 5_000 if args.quick else args.n
    results: dict[tuple[str, int], dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="spanscope-hostile-") as tmp:
        for shape in SHAPES:
            for size in (n, 4 * n):
                results[(shape, size)] = _child(shape, size, Path(tmp))
    print(f"hostile data, n = {n:,} and 4n = {4 * n:,} (seconds; ratio 4n/n; x plain tree of the same size)")
    for shape in SHAPES:
        small, big = results[(shape, n)], results[(shape, 4 * n)]
        plain = results[("plain", 4 * n)]
        total_small = sum(small[s] for s in STEPS)
        total_big = sum(big[s] for s in STEPS)
        steps = ", ".join(f"{s} {big[s]:.2f} s ({big[s] / max(small[s], 1e-9):.1f}x)" for s in STEPS)
        print(
            f"{shape:16} 4n: {steps}; total {total_big:.2f} s, 4n/n {total_big / max(total_small, 1e-9):.2f}, "
            f"{total_big / max(sum(plain[s] for s in STEPS), 1e-9):.2f}x plain; "
            f"peak RSS +{small['peak_rss_above_imports_mb']} / +{big['peak_rss_above_imports_mb']} MiB "
            f"(n / 4n, {big['spans']:,} spans at 4n)"
        )
    print(json.dumps({f"{k[0]}:{k[1]}": v for k, v in results.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
