"""Benchmark: the Parquet archive and the analysis engines (local, duckdb, spark local[2]) at scale.

Writes archives of 1,000,000 and 10,000,000 generated spans (20-span traces with faults, cold starts
and stragglers, from bench_analyze's generator), then reports bytes per span, each engine's time on
1M spans with its ratio to `local` measured in the same run, and how each engine's time grows from
1M to 10M spans (10x the input; linear is 10x the time), in wall seconds and in CPU seconds (this process's
threads and every descendant's: Spark's JVM and Python workers), the figure a shared machine's load moves least.

    .venv/bin/python -m benchmarks.bench_scale            # 1M and 10M spans (long: tens of minutes)
    .venv/bin/python -m benchmarks.bench_scale --quick    # 100,000 and 400,000 spans
    .venv/bin/python -m benchmarks.bench_scale --sizes 1000000,4000000 --engines local,duckdb
    .venv/bin/python -m benchmarks.bench_scale --archives /var/tmp/scale   # keep the archives, reuse them next time

Engines run with ``--percentiles auto`` (the default); ``local`` also runs ``exact`` on the same archive,
the baseline of every ratio, and the sketch's relative error against it is printed (p50/p95/p99 of
every hotspot, with ``sketch`` forced).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from spanscope.analysis.report import Report
from spanscope.collectors.archive import list_archive_files, write_traces
from spanscope.engines import run_engine

from benchmarks.machine import machine_line
from tests.load import SPANS_PER_TRACE, make_trace

CHUNK_TRACES = 25_000


def build_archive(root: Path, spans: int, seed: int = 7) -> tuple[int, float]:
    """Writes ``spans`` spans in chunks; returns (bytes on disk, seconds)."""
    rng = random.Random(seed)
    traces = spans // SPANS_PER_TRACE
    start = time.perf_counter()
    for offset in range(0, traces, CHUNK_TRACES):
        chunk = [make_trace(k, rng) for k in range(offset, min(traces, offset + CHUNK_TRACES))]
        write_traces(chunk, str(root))
    elapsed = time.perf_counter() - start
    size = sum(Path(f).stat().st_size for f in list_archive_files(str(root)))
    return size, elapsed


def cpu_seconds() -> float:
    """CPU seconds of this process (all its threads: DuckDB's) and of every live descendant (Spark's JVM and its
    Python workers, with the workers they reaped): on a shared machine the figure other people's work does not move."""
    tick = os.sysconf("SC_CLK_TCK")
    procs: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            procs[int(entry)] = (int(fields[1]), sum(int(x) for x in fields[11:15]) / tick)
    me = os.getpid()
    total = time.process_time()
    for pid, (_ppid, cpu) in procs.items():
        up = pid
        while up in procs and up != me and up > 1:
            up = procs[up][0]
        if up == me and pid != me:
            total += cpu
    return total


def time_engine(engine: str, root: Path, percentiles: str = "auto") -> tuple[float, Report]:
    """Wall seconds of one engine run (its CPU seconds are printed beside them)."""
    start, cpu = time.perf_counter(), cpu_seconds()
    report = run_engine(
        engine,
        str(root),
        spark_master="local[2]" if engine == "spark" else None,
        percentiles=percentiles,  # type: ignore[arg-type]
    )
    elapsed = time.perf_counter() - start
    CPU[(engine, percentiles, root.name)] = cpu_seconds() - cpu
    assert report.traces > 0
    return elapsed, report


CPU: dict[tuple[str, str, str], float] = {}  # (engine, percentiles, archive) -> CPU seconds of the last run


def sketch_error(exact: Report, sketched: Report) -> float:
    """The largest relative error of a sketched p50/p95/p99 against the exact one, over every hotspot."""
    want = {(h.service, h.operation): h for h in exact.hotspots}
    worst = 0.0
    for h in sketched.hotspots:
        e = want[(h.service, h.operation)]
        for got, ref in ((h.p50_ns, e.p50_ns), (h.p95_ns, e.p95_ns), (h.p99_ns, e.p99_ns)):
            if ref:
                worst = max(worst, abs(got - ref) / ref)
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k and 400k spans")
    parser.add_argument("--engines", default="local,duckdb,spark")
    parser.add_argument("--sizes", help="two span counts, small,large (default 1M,10M; --quick 100k,400k)")
    parser.add_argument(
        "--archives",
        type=Path,
        help="build the archives under this folder and keep them; one already there (same span count) is reused",
    )
    args = parser.parse_args(argv)
    small, large = (100_000, 400_000) if args.quick else (1_000_000, 10_000_000)
    if args.sizes:
        small, large = (int(x) for x in args.sizes.split(","))
    engines = [e for e in args.engines.split(",") if e]
    if "spark" in engines and shutil.which("java") is None:
        engines.remove("spark")
        print("spark skipped: no java on PATH")
    work = args.archives or Path(tempfile.mkdtemp(prefix="spanscope-bench-scale-"))
    try:
        results: dict[str, dict[int, float]] = {e: {} for e in ["local exact", *engines]}
        cpu: dict[tuple[str, int], float] = {}
        for spans in (small, large):
            root = work / f"a{spans}"
            if args.archives and list_archive_files(str(root)):
                size = sum(Path(f).stat().st_size for f in list_archive_files(str(root)))
                print(f"archive {spans:>11,} spans: {size / spans:6.1f} bytes/span, reused from {root}", flush=True)
            else:
                size, write_s = build_archive(root, spans)
                print(
                    f"archive {spans:>11,} spans: {size / spans:6.1f} bytes/span, "
                    f"{size / 1e6:8.1f} MB, written in {write_s:6.1f} s ({spans / write_s:,.0f} spans/s)",
                    flush=True,
                )
            exact_s, exact = time_engine("local", root, "exact")
            results["local exact"][spans] = exact_s
            cpu_exact = CPU[("local", "exact", root.name)]
            cpu[("local exact", spans)] = cpu_exact
            print(
                f"  local exact {exact_s:8.2f} s  ({spans / exact_s:,.0f} spans/s)  baseline; {cpu_exact:.1f} s CPU",
                flush=True,
            )
            for engine in engines:
                elapsed, _report = time_engine(engine, root)
                results[engine][spans] = elapsed
                used = cpu[(engine, spans)] = CPU[(engine, "auto", root.name)]
                print(
                    f"  {engine:<11} {elapsed:8.2f} s  ({spans / elapsed:,.0f} spans/s)  "
                    f"ratio {elapsed / exact_s:.2f} to local exact; {used:.1f} s CPU, ratio {used / cpu_exact:.2f}",
                    flush=True,
                )
            sketch_s, sketched = time_engine("local", root, "sketch")
            print(
                f"  local sketch {sketch_s:7.2f} s  ratio {sketch_s / exact_s:.2f}; largest relative error of a "
                f"sketched p50/p95/p99: {sketch_error(exact, sketched):.2%} (DDSketch 1%)",
                flush=True,
            )
            print(f"  {machine_line()}", flush=True)
            if not args.archives:
                shutil.rmtree(root)
        base = results["local exact"][small]
        print(f"\nengines on {small:,} spans, ratio to local exact (same run):")
        for engine in results:
            print(f"  {engine:<11} {results[engine][small]:8.2f} s   ratio {results[engine][small] / base:5.2f}")
        factor = large / small
        print(f"\ngrowth from {small:,} to {large:,} spans ({factor:.0f}x input; linear = {factor:.0f}x time):")
        for engine in results:
            growth = results[engine][large] / results[engine][small]
            cpu_growth = cpu[(engine, large)] / cpu[(engine, small)]
            print(f"  {engine:<11} {growth:5.2f}x time, {cpu_growth:5.2f}x CPU")
        if "spark" in results:
            print(
                f"spark / local at {large:,}: {results['spark'][large] / results['local'][large]:.2f} time, "
                f"{cpu[('spark', large)] / cpu[('local', large)]:.2f} CPU"
            )
        print(machine_line())
    finally:
        if not args.archives:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
