"""Collector benchmarks: OTLP/HTTP protobuf into the store, X-Ray UDP loss at paced rates, RSS under overload.

Run ``python -m benchmarks.bench_collector [--quick]``. The collector runs as ``spanscope collect`` in
its own process; load generators run in other processes; the collector's CPU time and RSS are read
with psutil, its counters from ``/v1/stats``. Baseline measured in the same run: decoding the same
OTLP requests and committing their spans in-process (no sockets, no HTTP), per CPU second.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import requests

from benchmarks.collector_process import CollectorProc
from benchmarks.machine import machine_line

SPANS_PER_REQUEST = 500
_RECEIVERS = ("xray-udp", "otlp-http")  # gRPC is measured by the interop tests, not here


# --- workload -----------------------------------------------------------------------------------------


def make_requests(count: int, seed: int) -> list[bytes]:
    """``count`` OTLP protobuf requests of SPANS_PER_REQUEST realistic spans with unique ids."""
    from spanscope.collectors.formats.otlp_proto import spans_to_request
    from spanscope.collectors.model import Kind, Span, new_span_id, new_trace_id

    now = time.time_ns()
    out = []
    for r in range(count):
        spans = []
        for t in range(SPANS_PER_REQUEST // 10):
            trace_id = new_trace_id()
            root = new_span_id()
            start = now + (r * 1000 + t) * 1_000_000
            spans.append(
                Span(
                    trace_id,
                    root,
                    None,
                    f"svc{seed}",
                    "GET /orders",
                    Kind.SERVER,
                    start,
                    start + 9_000_000,
                    attributes={
                        "http.request.method": "GET",
                        "http.response.status_code": 200,
                        "url.full": "https://api.example.com/orders",
                    },
                    resource={"service.name": f"svc{seed}", "cloud.platform": "aws_lambda"},
                )
            )
            for c in range(9):
                spans.append(
                    Span(
                        trace_id,
                        new_span_id(),
                        root,
                        f"svc{seed}",
                        f"query-{c}",
                        Kind.CLIENT,
                        start + c * 1_000_000,
                        start + c * 1_000_000 + 500_000,
                        attributes={"rpc.system": "aws-api", "rpc.service": "DynamoDB", "n": c},
                        resource={"service.name": f"svc{seed}", "cloud.platform": "aws_lambda"},
                    )
                )
        out.append(spans_to_request(spans).SerializeToString())
    return out


def _http_load(url: str, bodies: list[bytes], duration_s: float, threads: int, result: Any) -> None:
    """Generator process: post the bodies in a loop from ``threads`` keep-alive sessions."""
    ok = refused = errors = 0
    lock = threading.Lock()
    deadline = time.monotonic() + duration_s

    def worker(offset: int) -> None:
        nonlocal ok, refused, errors
        session = requests.Session()
        i = offset
        while time.monotonic() < deadline:
            body = bodies[i % len(bodies)]
            i += threads
            try:
                r = session.post(url, data=body, headers={"Content-Type": "application/x-protobuf"}, timeout=30)
                code = r.status_code
            except requests.RequestException:
                code = -1
            with lock:
                if code == 200:
                    ok += 1
                elif code in (429, 503):
                    refused += 1
                else:
                    errors += 1

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    result.put((ok, refused, errors))


def _udp_sender(address: tuple[str, int], rate: float, duration_s: float, result: Any) -> None:
    """Generator process: X-Ray segment datagrams at ``rate`` per second (0: as fast as possible)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
    header = b'{"format":"json","version":1}\n'
    pid = os.getpid() & 0xFFFF
    start_s = time.time()
    sent = 0
    t0 = time.monotonic()
    end = t0 + duration_s
    batch = 50
    while True:
        now = time.monotonic()
        if now >= end:
            break
        if rate > 0:
            due = int((now - t0) * rate)
            if sent >= due:
                time.sleep(min(0.001, (sent + 1) / rate - (now - t0)))
                continue
            n = min(batch, due - sent)
        else:
            n = batch
        for _ in range(n):
            seq = sent
            doc = (
                b'{"name":"edge-fn","id":"%016x","trace_id":"1-%08x-%024x","start_time":%.6f,"end_time":%.6f,'
                b'"origin":"AWS::Lambda::Function","http":{"request":{"method":"GET"},"response":{"status":200}}}'
                % ((pid << 40) | seq + 1, int(start_s), (pid << 64) | seq, start_s, start_s + 0.01)
            )
            try:
                sock.sendto(header + doc, address)
            except BlockingIOError:
                pass
            sent += 1
    result.put((sent, time.monotonic() - t0))


# --- collector process --------------------------------------------------------------------------------


# --- measurements -------------------------------------------------------------------------------------


def baseline(bodies: list[bytes], db: Path) -> float:
    """In-process decode + commit of the same requests: spans per CPU second (no sockets, no HTTP)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from spanscope.collectors.formats.otlp_proto import spans_from_request
    from spanscope.collectors.store import open_store

    store = open_store(db)
    cpu0 = time.process_time()
    n = 0
    for body in bodies:
        spans = spans_from_request(ExportTraceServiceRequest.FromString(body)).spans
        store.write_spans(spans)
        n += len(spans)
    cpu = time.process_time() - cpu0
    store.close()
    return n / cpu


def py_spy() -> str | None:
    """The py-spy executable beside this interpreter or on PATH (``pip install py-spy``), if any."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start_profile(pid: int, seconds: float, out: Path, *, gil: bool = False) -> subprocess.Popen[bytes] | None:
    """py-spy sampling the collector process ``pid`` for ``seconds`` into collapsed stacks at ``out``;
    with ``gil`` only the thread holding the GIL (Python's own CPU, without threads waiting for it)."""
    exe = py_spy()
    if exe is None:
        print("profile: py-spy not installed (pip install py-spy); no profile taken")
        return None
    cmd = [exe, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))), "--rate", "200"]
    cmd += ["--format", "raw", "--nonblocking", "--threads", "-o", str(out), *(["--gil"] if gil else [])]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def print_profile(out: Path, top: int = 12) -> None:
    """Shares of the collector's samples: per thread, by own line (self) and by function (inclusive)."""
    if not out.exists():
        print("profile: no samples")
        return
    threads: Counter[str] = Counter()
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        threads[frames[0].split(":", 1)[-1].strip()] += n
        own[frames[-1]] += n
        for name in {f.split(" (", 1)[0] for f in frames[1:]}:
            inclusive[name] += n
    if not total:
        print("profile: no samples")
        return
    print(f"profile of the collector (py-spy, {total} samples):")
    print("  threads: " + ", ".join(f"{name} {n / total:.0%}" for name, n in threads.most_common(4)))
    print("  self (line):")
    for frame, n in own.most_common(top):
        print(f"    {n / total:6.1%}  {frame}")
    print("  inclusive (function):")
    skip = ("_bootstrap", "Thread.run", "run_forever", "_run_once", "Handle._run", "<module>", "_run_code", "run (")
    shown = [(f, n) for f, n in inclusive.most_common(4 * top) if not any(k in f for k in skip)]
    for frame, n in shown[:top]:
        print(f"    {n / total:6.1%}  {frame}")


def bench_otlp(
    tmp: Path, duration_s: float, procs: int, threads: int, profile: bool = False, gil: bool = False
) -> dict[str, float]:
    collector = CollectorProc(tmp / "otlp.db", receivers=_RECEIVERS, sample_s=0.05)
    ctx = mp.get_context("spawn")
    try:
        queue = ctx.Queue()
        go = ctx.Event()
        bodies_per_proc = max(4, int(duration_s * 60_000 / SPANS_PER_REQUEST / procs) + 2)
        workers = [
            ctx.Process(
                target=_gen_http,
                args=(collector.url + "/v1/traces", bodies_per_proc, seed, duration_s, threads, queue, go),
            )
            for seed in range(procs)
        ]
        for w in workers:
            w.start()
        ready = [queue.get(timeout=600) for _ in workers]  # generation done: load starts now
        assert all(r == "ready" for r in ready)
        s0 = collector.stats()
        cpu0 = collector.cpu_s()
        t0 = time.monotonic()
        go.set()
        spy = start_profile(collector.proc.pid, duration_s * 0.8, tmp / "profile.txt", gil=gil) if profile else None
        results = [queue.get(timeout=duration_s + 120) for _ in workers]
        stats = collector.wait_drained()
        wall = time.monotonic() - t0
        cpu = collector.cpu_s() - cpu0
        for w in workers:
            w.join()
        if spy is not None:
            spy.wait(60)
            print_profile(tmp / "profile.txt")
        stored = stats.get("writer.spans", 0) - s0.get("writer.spans", 0)
        acked = sum(r[0] for r in results) * SPANS_PER_REQUEST
        commits = stats.get("writer.batches", 0) - s0.get("writer.batches", 0)
        return {
            "stored_spans": stored,
            "commits": commits,
            "acked_spans": acked,
            "wall_s": wall,
            "collector_cpu_s": cpu,
            "spans_per_s": stored / wall,
            "spans_per_core_s": stored / cpu if cpu else 0.0,
            "peak_rss_mb": collector.peak_rss / 2**20,
            "refused_requests": sum(r[1] for r in results),
            "errors": sum(r[2] for r in results),
        }
    finally:
        collector.stop()


def _gen_http(url: str, count: int, seed: int, duration_s: float, threads: int, queue: Any, go: Any) -> None:
    bodies = make_requests(count, seed)
    queue.put("ready")
    go.wait()
    _http_load(url, bodies, duration_s, threads, queue)


def bench_udp(tmp: Path, rates: list[float], duration_s: float) -> list[dict[str, float]]:
    out = []
    ctx = mp.get_context("spawn")
    for rate in rates:
        collector = CollectorProc(tmp / f"udp-{int(rate)}.db", receivers=_RECEIVERS, sample_s=0.05)
        try:
            queue = ctx.Queue()
            sender = ctx.Process(target=_udp_sender, args=(collector.addresses["xray-udp"], rate, duration_s, queue))
            s0 = collector.stats()
            sender.start()
            sent, took = queue.get(timeout=duration_s + 60)
            sender.join()
            stats = collector.wait_drained()
            stored = stats.get("writer.spans", 0) - s0.get("writer.spans", 0)
            out.append(
                {
                    "target_rate": rate,
                    "sent": sent,
                    "send_rate": sent / took,
                    "stored": stored,
                    "stored_rate": stored / took,
                    "lost": sent - stored,
                    "kernel_drops": stats.get("xray_udp.dropped:kernel_buffer", 0),
                    "overload_drops": stats.get("xray_udp.dropped:overload", 0),
                }
            )
        finally:
            collector.stop()
    return out


def bench_overload_rss(tmp: Path, duration_s: float) -> dict[str, float]:
    """Sustained overload: HTTP generators and a UDP blast at once against a small write queue."""
    collector = CollectorProc(tmp / "overload.db", "--max-queue-spans", "5000", receivers=_RECEIVERS, sample_s=0.05)
    ctx = mp.get_context("spawn")
    try:
        idle_rss = collector.rss()
        queue = ctx.Queue()
        go = ctx.Event()
        http = [
            ctx.Process(target=_gen_http, args=(collector.url + "/v1/traces", 8, seed, duration_s, 16, queue, go))
            for seed in range(2)
        ]
        for w in http:
            w.start()
        for _ in http:
            assert queue.get(timeout=600) == "ready"
        go.set()
        udp_queue = ctx.Queue()
        udp = ctx.Process(target=_udp_sender, args=(collector.addresses["xray-udp"], 0, duration_s, udp_queue))
        udp.start()
        results = [queue.get(timeout=duration_s + 120) for _ in http]
        udp_queue.get(timeout=duration_s + 60)
        udp.join()
        for w in http:
            w.join()
        stats = collector.wait_drained()
        return {
            "idle_rss_mb": idle_rss / 2**20,
            "peak_rss_mb": collector.peak_rss / 2**20,
            "refused_requests": sum(r[1] for r in results),
            "acked_requests": sum(r[0] for r in results),
            "udp_dropped": stats.get("xray_udp.dropped:overload", 0) + stats.get("xray_udp.dropped:kernel_buffer", 0),
        }
    finally:
        collector.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs (a few seconds each)")
    parser.add_argument("--profile", action="store_true", help="sample the collector with py-spy during OTLP load")
    parser.add_argument("--gil", action="store_true", help="with --profile: only samples holding the GIL")
    parser.add_argument("--only", choices=("otlp", "udp", "overload"), help="run one part")
    args = parser.parse_args(argv)
    quick = args.quick
    parts = {args.only} if args.only else {"otlp", "udp", "overload"}
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-collector-") as tmpdir:
        tmp = Path(tmpdir)
        if "otlp" in parts:
            bodies = make_requests(20 if quick else 80, 99)
            base = out["baseline"] = baseline(bodies, tmp / "baseline.db")
            print(f"baseline (in-process decode + store.write_spans): {base:,.0f} spans per CPU second")
            otlp = out["otlp"] = bench_otlp(
                tmp, 5 if quick else 20, procs=2, threads=6, profile=args.profile, gil=args.gil
            )
            print(
                f"OTLP/HTTP protobuf: {otlp['spans_per_s']:,.0f} spans/s stored, "
                f"{otlp['spans_per_core_s']:,.0f} spans per collector CPU second "
                f"({otlp['spans_per_core_s'] / base:.2f}x baseline; target 100,000); "
                f"{otlp['stored_spans']:,} stored, {otlp['acked_spans']:,} acknowledged, "
                f"{otlp['refused_requests']} refused, {otlp['errors']} errors; "
                f"{otlp['stored_spans'] / max(otlp['commits'], 1):,.0f} spans per commit; collector peak RSS "
                f"{otlp['peak_rss_mb']:.0f} MiB"
            )
        if "udp" in parts:
            rates = [10_000.0, 20_000.0, 50_000.0]
            udp = out["udp"] = bench_udp(tmp, rates, 3 if quick else 30)
            peak = out["udp_peak"] = bench_udp(tmp, [0], 3 if quick else 10)[0]
            zero_loss = [r for r in udp if r["lost"] == 0]
            best = max((r["send_rate"] for r in zero_loss), default=0.0)
            for r in udp:
                print(
                    f"X-Ray UDP paced {r['target_rate']:,.0f}/s: sent {r['sent']:,} at {r['send_rate']:,.0f}/s, "
                    f"stored {r['stored']:,}, lost {r['lost']:,} (kernel {r['kernel_drops']:,}, "
                    f"queue {r['overload_drops']:,})"
                )
            print(f"X-Ray UDP zero-loss rate achieved: {best:,.0f} segments/s (target 50,000)")
            print(
                f"X-Ray UDP unpaced: sent {peak['send_rate']:,.0f}/s, stored {peak['stored_rate']:,.0f}/s, "
                f"lost {peak['lost'] / max(peak['sent'], 1):.1%}"
            )
        if "overload" in parts:
            rss = out["overload"] = bench_overload_rss(tmp, 5 if quick else 20)
            print(
                f"sustained overload: peak RSS {rss['peak_rss_mb']:.0f} MiB (idle {rss['idle_rss_mb']:.0f} MiB, "
                f"{rss['peak_rss_mb'] / rss['idle_rss_mb']:.1f}x), {rss['refused_requests']} requests refused "
                f"with 429/503, {rss['acked_requests']} acknowledged, {rss['udp_dropped']:,} UDP datagrams dropped"
            )
        print(orjson.dumps(out).decode())
    print(machine_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
