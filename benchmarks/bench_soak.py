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
import multiprocessing as mp
import queue
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from benchmarks.collector_process import CollectorProc, Endpoints

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


def _closed_loop_sender(collector: CollectorProc, worker: int, duration_s: float, spans_per_request: int) -> None:
    """Posts OTLP/HTTP requests back to back for ``duration_s``, each as soon as the last is acknowledged,
    waiting what Retry-After says after a refusal: what the collector sustains."""
    conn = collector.http()
    t0 = time.monotonic()
    seq = 0
    while time.monotonic() - t0 < duration_s:
        body, _ = make_body(20_000 + worker, seq, spans_per_request)
        seq += 1
        while True:
            try:
                conn.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
                reply = conn.getresponse()
                reply.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = collector.http()
                time.sleep(0.5)
                continue
            if reply.status not in (429, 503):
                break
            time.sleep(float(reply.getheader("Retry-After") or "1"))
    conn.close()


async def _open_loop_client(
    endpoints: Endpoints,
    worker: int,
    export: Any,
    session: Any,
    interval_s: float,
    duration_s: float,
    spans_per_request: int,
    t0: float,
    tally: dict[str, Any],
) -> None:
    """One client like an SDK exporter with an unbounded queue: a new request every ``interval_s``
    (open loop, whatever the collector answers) into a backlog; the sender sends the backlog in
    order, one request at a time, waiting what Retry-After / RetryInfo says after each refusal,
    until every request is acknowledged."""
    import asyncio

    import aiohttp
    import grpc
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    backlog: asyncio.Queue[int | None] = asyncio.Queue()  # request numbers: bodies are made when sent
    host, port = endpoints.addresses["otlp-http"]
    url = f"http://{host}:{port}/v1/traces"
    codes: dict[str, int] = tally["codes"]

    async def generate() -> None:
        seq = 0
        while time.monotonic() - t0 < duration_s:
            backlog.put_nowait(seq)
            seq += 1
            await asyncio.sleep(max(0.0, t0 + seq * interval_s - time.monotonic()))
        tally["sent"] += seq
        backlog.put_nowait(None)

    async def attempt(body: bytes) -> tuple[str, float | None]:
        """The answer's code and the retry delay it asked for (None: done, acknowledged or not retryable)."""
        if export is not None:
            try:
                await export(body, timeout=120)
                return "OK", None
            except grpc.aio.AioRpcError as err:
                name = err.code().name
                if name not in ("UNAVAILABLE", "RESOURCE_EXHAUSTED"):
                    return name, None
                status = rpc_status.from_call(err)
                info = error_details_pb2.RetryInfo()
                if status is not None and status.details and status.details[0].Unpack(info):
                    return name, info.retry_delay.seconds + info.retry_delay.nanos / 1e9
                tally["hints_missing"] += 1
                return name, 1.0
        try:
            async with session.post(url, data=body, headers={"Content-Type": "application/x-protobuf"}) as reply:
                await reply.read()
                if reply.status in (429, 503):
                    hint = reply.headers.get("Retry-After")
                    if not hint:
                        tally["hints_missing"] += 1
                    return str(reply.status), float(hint or "1")
                return str(reply.status), None
        except (aiohttp.ClientError, OSError):
            return "connection_error", 0.5

    async def send() -> None:
        while (seq := await backlog.get()) is not None:
            body, trace_id = make_body(20_000 + worker, seq, spans_per_request)
            while True:
                code, delay = await attempt(body)
                codes[code] = codes.get(code, 0) + 1
                if time.monotonic() - t0 < duration_s:
                    tally["attempts_in_window"] += 1
                if delay is None:
                    if code in ("200", "OK"):
                        tally["acked"].append(trace_id)
                    break
                await asyncio.sleep(delay)

    await asyncio.gather(generate(), send())


def _client_process(
    endpoints: Endpoints,
    workers: list[int],
    interval_s: float,
    duration_s: float,
    spans_per_request: int,
    go: Any,
    out: Any,
) -> None:
    """One load-generator process: open-loop clients on one event loop (every third on gRPC)."""
    import asyncio

    import aiohttp
    import grpc

    async def main() -> dict[str, Any]:
        tally: dict[str, Any] = {"codes": {}, "acked": [], "sent": 0, "hints_missing": 0, "attempts_in_window": 0}
        channel = grpc.aio.insecure_channel("{}:{}".format(*endpoints.addresses["otlp-grpc"]))
        export = channel.unary_unary(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            request_serializer=None,
            response_deserializer=None,
        )
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            for w in workers:
                make_body(20_000 + w, 0, spans_per_request)  # encode the templates before the clock starts
            await asyncio.get_running_loop().run_in_executor(None, go.wait)
            t0 = time.monotonic()
            await asyncio.gather(
                *(
                    _open_loop_client(
                        endpoints,
                        w,
                        export if w % 3 == 0 else None,
                        session,
                        interval_s,
                        duration_s,
                        spans_per_request,
                        t0,
                        tally,
                    )
                    for w in workers
                )
            )
        await channel.close()
        return tally

    out.put(asyncio.run(main()))


def _closed_loop_rate(collector: CollectorProc, seconds: float, spans_per_request: int) -> float:
    """Spans/s the collector stores with two closed-loop senders (the sustainable rate)."""
    before = collector.stats().get("writer.spans", 0)
    threads = [
        threading.Thread(target=_closed_loop_sender, args=(collector, 900 + w, seconds, spans_per_request))
        for w in range(2)
    ]
    t0 = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - t0
    return (collector.stats().get("writer.spans", 0) - before) / elapsed


def overload(
    *,
    tmp: Path,
    factor: float = 5.0,
    duration_s: float = 30.0,
    clients: int = 24,
    spans_per_request: int = 1000,
    max_queue_spans: int = 5000,
    sustainable_rate: float | None = None,
    processes: int = 1,
) -> dict[str, Any]:
    """Offer ``factor`` x the sustainable rate for ``duration_s`` over HTTP and gRPC from open-loop clients that
    honour every retry hint, then wait until their backlogs are acknowledged (about ``factor`` - 1 times
    ``duration_s`` more at the sustainable rate)."""
    db = tmp / "overload.db"
    collector = CollectorProc(db, "--max-queue-spans", str(max_queue_spans), receivers=("otlp-http", "otlp-grpc"))
    try:
        time.sleep(0.5)
        idle_rss = collector.rss()
        measured = sustainable_rate or _closed_loop_rate(collector, 5.0, spans_per_request)
        offered = factor * measured
        interval = clients * spans_per_request / offered
        ctx = mp.get_context("spawn")
        out = ctx.Queue()
        go = ctx.Event()
        procs = [
            ctx.Process(
                target=_client_process,
                args=(
                    collector.endpoints,
                    list(range(p, clients, processes)),
                    interval,
                    duration_s,
                    spans_per_request,
                    go,
                    out,
                ),
            )
            for p in range(processes)
        ]
        for proc in procs:
            proc.start()
        time.sleep(2.0 + processes)  # let the client processes import and encode before the clock starts
        samples_from = time.monotonic()
        before = collector.stats()
        t0 = time.monotonic()
        go.set()
        results = [out.get(timeout=duration_s * factor * 4 + 900) for _ in procs]
        elapsed = time.monotonic() - t0
        for proc in procs:
            proc.join(60)
        after = collector.stats()
        alive = collector.alive()
    finally:
        code = collector.stop()
    codes: dict[str, int] = {}
    for r in results:
        for k, v in r["codes"].items():
            codes[k] = codes.get(k, 0) + v
    acked = [t for r in results for t in r["acked"]]
    sent = sum(r["sent"] for r in results)
    peak = max((r for t, r in collector.samples if t >= samples_from), default=idle_rss)
    refused_early = sum(
        after.get(f"{p}.rejected:overload", 0) - before.get(f"{p}.rejected:overload", 0)
        for p in ("otlp_http", "otlp_grpc")
    )
    return {
        "sustainable_spans_per_s": round(measured),
        "offered_spans_per_s": round(sent * spans_per_request / duration_s),
        "targeted_spans_per_s": round(offered),
        "attempted_spans_per_s": round(sum(r["attempts_in_window"] for r in results) * spans_per_request / duration_s),
        "acked_spans_per_s": round(len(acked) * spans_per_request / elapsed),
        "offer_s": duration_s,
        "duration_s": round(elapsed, 1),
        "clients": clients,
        "requests": sent,
        "overload_refusals_counted": refused_early,
        "acked_requests": len(acked),
        "codes": codes,
        "unexpected": {k: v for k, v in codes.items() if k not in ("200", "429", "503", "OK", "UNAVAILABLE")},
        "hints_missing": sum(r["hints_missing"] for r in results),
        "lost_acked_spans": _missing(db, acked, spans_per_request),
        "never_acked_requests": sent - len(acked),
        "idle_rss_mb": round(idle_rss / 2**20, 1),
        "peak_rss_mb": round(peak / 2**20, 1),
        "collector_alive_at_end": alive,
        "collector_exit_code": code,
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
