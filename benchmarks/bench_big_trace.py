"""Big-trace benchmark: `spanscope show` (text and --json) of one trace of a million spans; time and peak RSS.

Run ``python -m benchmarks.bench_big_trace [--n 1000000] [--quick]``. One trace of ``n`` spans (a
4-ary tree over 20 services, a few attributes each, one failing branch) is written into a fresh
store, then ``spanscope show TRACE --json`` and ``spanscope show TRACE`` run in their own processes
with stdout to /dev/null; each is timed (wall and CPU) and its peak RSS read from the kernel (VmHWM).
Baseline in the same run: the same commands on a trace of n/10 spans, so the ratio says how
far from linear the big one is (10 = linear). Targets from issue 15: ``show --json`` under 1 GB,
``show`` under 1.5 GB and 15 s at a million spans.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_NS = 1_763_700_000_000_000_000

_MEASURE = (  # runs `spanscope show` in this process; VmHWM (ru_maxrss carries the parent's peak across exec)
    "import os, re, resource, sys, time\n"
    "from spanscope.cli.main import main\n"
    "t = time.perf_counter()\n"
    "out = os.dup(1)\n"
    "os.dup2(os.open(os.devnull, os.O_WRONLY), 1)\n"
    "rc = main(sys.argv[1:])\n"
    "sys.stdout.flush()\n"
    "seconds = time.perf_counter() - t\n"
    "u = resource.getrusage(resource.RUSAGE_SELF)\n"
    "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)\n"
    "os.write(out, f'{rc} {seconds} {hwm} {u.ru_utime + u.ru_stime}\\n'.encode())\n"
)


def write_trace(db: Path, n: int, label: int) -> str:
    """One trace of ``n`` spans in the store at ``db``; returns its id."""
    from spanscope.collectors.model import Kind, Span, Status
    from spanscope.collectors.store import open_store

    tid = f"{BASE_NS // 10**9:08x}{label:024x}"
    with open_store(db) as store:
        batch: list[Span] = []
        for i in range(n):
            parent = (i - 1) // 4 if i else None
            depth = i.bit_length() // 2
            start = BASE_NS + depth * 1_000 + (i % 4) * 10
            failed = i % 9973 == 0 and i > 0
            batch.append(
                Span(
                    tid,
                    f"{i + 1:016x}",
                    f"{parent + 1:016x}" if parent is not None else None,
                    f"svc-{i % 20}",
                    f"op-{i % 50}",
                    kind=Kind.SERVER if i % 3 == 0 else Kind.CLIENT,
                    start_ns=start,
                    end_ns=start + 1_000_000 // (depth + 1),
                    status=Status.FAULT if failed else Status.OK,
                    attributes={"http.route": f"/items/{i % 100}", "retries": i % 3, "ratio": 0.25},
                    resource={"service.name": f"svc-{i % 20}", "host.name": f"host-{i % 7}"},
                )
            )
            if len(batch) >= 50_000:
                store.write_spans(batch)
                batch = []
        store.write_spans(batch)
    return tid


def measure(db: Path, trace_id: str, *extra: str) -> tuple[float, float, float]:
    """(seconds, peak RSS MiB, CPU seconds) of ``spanscope show TRACE_ID [extra]`` in its own process."""
    cmd = ["show", trace_id, "--db", str(db), *extra]
    out = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, check=True)
    rc, seconds, rss_kb, cpu_s = out.stdout.split()
    if rc != "0":
        raise RuntimeError(f"show failed ({rc})")
    return float(seconds), int(rss_kb) / 1024, float(cpu_s)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="spans in the big trace (default 1,000,000)")
    parser.add_argument("--quick", action="store_true", help="200,000 spans")
    args = parser.parse_args(argv)
    n = 200_000 if args.quick else args.n
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "spans.db"
        t = time.perf_counter()
        small = write_trace(db, n // 10, 1)
        big = write_trace(db, n, 2)
        print(f"wrote traces of {n // 10:,} and {n:,} spans in {time.perf_counter() - t:.1f} s", flush=True)
        for label, extra in (("show --json", ("--json",)), ("show", ())):
            s_small, r_small, c_small = measure(db, small, *extra)
            s_big, r_big, c_big = measure(db, big, *extra)
            print(
                f"{label}: {n:,} spans {s_big:.1f} s wall ({c_big:.1f} s CPU), peak RSS {r_big:.0f} MiB;"
                f" {n // 10:,} spans {s_small:.2f} s ({c_small:.2f} s CPU), {r_small:.0f} MiB;"
                f" CPU ratio {c_big / c_small:.1f}x for 10x the spans",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
