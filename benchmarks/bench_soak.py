"""Soak benchmark: a steady span rate into a `spanscope collect` process for minutes; RSS slope, ack p99, loss.

Run ``python -m benchmarks.bench_soak [--rate 5000] [--duration 600] [--quick]``. The collector runs
in its own process (``spanscope collect``); a paced sender posts OTLP/HTTP protobuf requests of unique
spans on several connections and times each acknowledgement; the collector's RSS is sampled every
second. At the end every acknowledged span is looked up in the store (loss = acknowledged spans
missing) and the RSS slope is fitted over the second half of the run (after warm-up). Baseline in
the same run: the RSS of the idle collector and the round trip of a one-span request on an idle
collector.
"""

from __future__ import annotations

import argparse
import http.client
import queue
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from benchmarks.collector_process import CollectorProc

SPANS_PER_REQUEST = 100


# --- workload -----------------------------------------------------------------------------------------


_TEMPLATES: dict[tuple[int, int], tuple[bytes, bytes]] = {}


def make_body(worker: int, seq: int, n: int = SPANS_PER_REQUEST) -> tuple[bytes, str]:
    """An OTLP protobuf request of ``n`` unique spans of one new trace; returns (body, trace id).

    One template request per (worker, n) is encoded once; each call patches in a new trace id, so the
    clients spend their CPU on sending, not on encoding.
    """
    key = (worker, n)
    if key not in _TEMPLATES:
        from spanscope.collectors.formats.otlp_proto import spans_to_request
        from spanscope.collectors.model import Kind, Span

        base = 1_763_700_000_000_000_000
        template_id = f"{base // 10**9:08x}{worker:08x}{0xFFFFFFFFFFFFFFFF:016x}"
        spans = [
            Span(
                template_id,
                f"{(i + 1):016x}",
                None if i == 0 else f"{1:016x}",
                f"soak{worker}",
                "GET /orders" if i == 0 else "query",
                Kind.SERVER if i == 0 else Kind.CLIENT,
                base + i * 1000,
                base + i * 1000 + 500_000,
                attributes={"http.response.status_code": 200, "db.statement": "SELECT * FROM orders WHERE id = ?"},
            )
            for i in range(n)
        ]
        _TEMPLATES[key] = (spans_to_request(spans).SerializeToString(), bytes.fromhex(template_id))
    body, old_id = _TEMPLATES[key]
    trace_id = f"{1_763_700_000:08x}{worker:08x}{seq:016x}"
    return body.replace(old_id, bytes.fromhex(trace_id)), trace_id


def _sender(
    collector: CollectorProc,
    worker: int,
    rate_per_worker: float,
    duration_s: float,
    spans_per_request: int,
    out: queue.Queue[Any],
) -> None:
    """Paced requests; retries 429/503 after Retry-After; records (trace id, ack latency) per acknowledgement."""
    interval = spans_per_request / rate_per_worker
    conn = collector.http()
    acked: list[str] = []
    latencies: list[float] = []
    refused = errors = 0
    t0 = time.monotonic()
    seq = 0
    next_at = t0
    while True:
        now = time.monotonic()
        if now - t0 >= duration_s:
            break
        if now < next_at:
            time.sleep(next_at - now)
        next_at += interval
        body, trace_id = make_body(worker, seq, spans_per_request)
        seq += 1
        sent_at = time.monotonic()
        for _attempt in range(100):
            try:
                conn.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
                reply = conn.getresponse()
                reply.read()
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
                conn = collector.http()
                time.sleep(0.2)
                continue
            if reply.status in (429, 503):
                refused += 1
                time.sleep(float(reply.getheader("Retry-After") or "1"))
                continue
            if reply.status == 200:
                acked.append(trace_id)
                latencies.append(time.monotonic() - sent_at)
            else:
                errors += 1
            break
    conn.close()
    out.put({"acked": acked, "latencies": latencies, "refused": refused, "errors": errors, "sent": seq})


def _slope_mb_per_min(samples: list[tuple[float, int]]) -> float:
    """Least-squares RSS slope over the second half of the samples, in MiB per minute."""
    half = samples[len(samples) // 2 :]
    if len(half) < 2:
        return 0.0
    t0 = half[0][0]
    xs = [t - t0 for t, _ in half]
    ys = [r / 2**20 for _, r in half]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return 0.0 if var == 0 else 60 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var


def _missing(db: Path, trace_ids: list[str], spans_per_request: int) -> int:
    """Acknowledged spans not in the store, looked up trace by trace."""
    from spanscope.collectors.store import open_store

    missing = 0
    with open_store(db, readonly=True) as store:
        for trace_id in trace_ids:
            try:
                missing += spans_per_request - len(store.get_trace(trace_id).spans)
            except Exception:
                missing += spans_per_request
    return missing


def soak(
    rate: float,
    duration_s: float,
    *,
    workers: int = 4,
    spans_per_request: int = SPANS_PER_REQUEST,
    tmp: Path,
    poll_map_s: float = 0.0,
) -> dict[str, Any]:
    """``poll_map_s`` > 0: also GET /v1/service-map that often (the map folds in the traces noted since)."""
    db = tmp / "soak.db"
    collector = CollectorProc(db, receivers=("otlp-http",))
    try:
        time.sleep(1.0)
        idle_rss = collector.rss()
        # baseline: one-span round trip on an idle collector
        conn = collector.http()
        idle_rtts = []
        for i in range(20):
            body, _ = make_body(10_000, i, 1)
            t = time.monotonic()
            conn.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
            conn.getresponse().read()
            idle_rtts.append(time.monotonic() - t)
        conn.close()
        out: queue.Queue[Any] = queue.Queue()
        threads = [
            threading.Thread(
                target=_sender, args=(collector, w, rate / workers, duration_s, spans_per_request, out), daemon=True
            )
            for w in range(workers)
        ]
        stop_polling = threading.Event()

        def poll_map() -> None:
            while not stop_polling.wait(poll_map_s):
                conn = collector.http()
                try:
                    conn.request("GET", "/v1/service-map")
                    conn.getresponse().read()
                except (OSError, http.client.HTTPException):
                    pass
                finally:
                    conn.close()

        if poll_map_s > 0:
            threading.Thread(target=poll_map, daemon=True).start()
        t0 = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(duration_s + 600)
        elapsed = time.monotonic() - t0
        stop_polling.set()
        results = [out.get() for _ in threads]
        stats = collector.stats()
        alive = collector.alive()
    finally:
        code = collector.stop()
    acked = [t for r in results for t in r["acked"]]
    latencies = sorted(x for r in results for x in r["latencies"])
    samples = [(t, r) for t, r in collector.samples if t >= t0]
    missing = _missing(db, acked, spans_per_request)
    db_bytes = db.stat().st_size
    return {
        "rate_target": rate,
        "duration_s": round(elapsed, 1),
        "requests_sent": sum(r["sent"] for r in results),
        "spans_acked": len(acked) * spans_per_request,
        "rate_acked": round(len(acked) * spans_per_request / elapsed, 1),
        "refused_429_503": sum(r["refused"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "lost_acked_spans": missing,
        "ack_p50_ms": round(1000 * latencies[len(latencies) // 2], 1) if latencies else None,
        "ack_p99_ms": round(1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1)
        if latencies
        else None,
        "idle_rtt_p50_ms": round(1000 * sorted(idle_rtts)[10], 2),
        "idle_rss_mb": round(idle_rss / 2**20, 1),
        "peak_rss_mb": round(max((r for _, r in samples), default=idle_rss) / 2**20, 1),
        "rss_first_min_mb": round(samples[0][1] / 2**20, 1) if samples else None,
        "rss_last_mb": round(samples[-1][1] / 2**20, 1) if samples else None,
        "rss_slope_mb_per_min": round(_slope_mb_per_min(samples), 3),
        "rss_timeline_mb": [round(r / 2**20) for _, r in samples[:: max(1, len(samples) // 20)]],
        "collector_alive_at_end": alive,
        "collector_exit_code": code,
        "store_mb": round(db_bytes / 2**20, 1),
        "stats_writer_spans": stats.get("writer.spans", 0),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=5000.0, help="spans per second (default 5000)")
    parser.add_argument("--duration", type=float, default=None, help="seconds (default 600; --overload 60)")
    parser.add_argument("--workers", type=int, default=4, help="sending connections (default 4)")
    parser.add_argument(
        "--spans-per-request", type=int, default=None, help="spans per request (default 100; --overload 1000)"
    )
    parser.add_argument("--poll-map", type=float, default=0.0, metavar="S", help="GET /v1/service-map every S s")
    parser.add_argument("--quick", action="store_true", help="15 s at 2,000 spans/s")
    parser.add_argument("--overload", action="store_true", help="instead: 5x the sustainable rate, retrying clients")
    parser.add_argument("--clients", type=int, default=480, help="--overload: concurrent clients (default 480)")
    parser.add_argument("--processes", type=int, default=4, help="--overload: client processes (default 4)")
    parser.add_argument("--factor", type=float, default=5.0, help="--overload: times the sustainable rate (5)")
    parser.add_argument("--max-queue-spans", type=int, default=5000, help="--overload: collector write queue (5000)")
    parser.add_argument("--tmp", type=Path, default=None, help="folder for the store (default a temporary one)")
    args = parser.parse_args(argv)
    per_request = {} if args.spans_per_request is None else {"spans_per_request": args.spans_per_request}
    if args.overload:
        from benchmarks.soak_overload import overload  # the overload half imports this module

        with tempfile.TemporaryDirectory(prefix="spanscope-overload-", dir=args.tmp) as tmp:
            o = overload(
                tmp=Path(tmp),
                factor=args.factor,
                duration_s=args.duration or (10.0 if args.quick else 60.0),
                clients=args.clients,
                processes=args.processes,
                max_queue_spans=args.max_queue_spans,
                **per_request,
            )
        print(
            f"overload: sustainable {o['sustainable_spans_per_s']:,} spans/s (2 closed-loop senders); "
            f"offered {o['offered_spans_per_s']:,} spans/s "
            f"({o['offered_spans_per_s'] / o['sustainable_spans_per_s']:.2f}x, target 5x) for {o['offer_s']} s by "
            f"{args.clients} open-loop clients in {args.processes} processes (1/3 gRPC); attempts in that window "
            f"{o['attempted_spans_per_s']:,} spans/s "
            f"({o['attempted_spans_per_s'] / o['sustainable_spans_per_s']:.2f}x); acknowledged "
            f"{o['acked_spans_per_s']:,} spans/s until the backlogs drained after {o['duration_s']} s; answers "
            f"{o['codes']}; unexpected {o['unexpected']}; retry hints missing {o['hints_missing']}; "
            f"{o['acked_requests']:,}/{o['requests']:,} requests acknowledged, {o['lost_acked_spans']} "
            f"acknowledged spans lost; RSS idle {o['idle_rss_mb']} MiB, peak {o['peak_rss_mb']} MiB "
            f"({o['peak_rss_mb'] / o['idle_rss_mb']:.2f}x)"
        )
        print(orjson.dumps(o).decode())
        return 0
    rate, duration = (2000.0, 15.0) if args.quick else (args.rate, args.duration or 600.0)
    with tempfile.TemporaryDirectory(prefix="spanscope-soak-", dir=args.tmp) as tmp:
        r = soak(rate, duration, workers=args.workers, tmp=Path(tmp), poll_map_s=args.poll_map, **per_request)
    print(
        f"soak: {r['rate_acked']:,.0f} spans/s acknowledged of {r['rate_target']:,.0f} targeted "
        f"for {r['duration_s']} s; "
        f"{r['spans_acked']:,} spans acknowledged, {r['lost_acked_spans']} lost; ack p50 {r['ack_p50_ms']} ms, "
        f"p99 {r['ack_p99_ms']} ms (idle one-span round trip {r['idle_rtt_p50_ms']} ms: "
        f"p99 ratio {r['ack_p99_ms'] / max(r['idle_rtt_p50_ms'], 1e-9):.0f}x); RSS idle {r['idle_rss_mb']} MiB, "
        f"peak {r['peak_rss_mb']} MiB ({r['peak_rss_mb'] / r['idle_rss_mb']:.2f}x idle), "
        f"slope {r['rss_slope_mb_per_min']:+.2f} MiB/min over the second half; "
        f"{r['refused_429_503']} answers 429/503 (retried), {r['errors']} errors"
    )
    print(orjson.dumps(r).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
