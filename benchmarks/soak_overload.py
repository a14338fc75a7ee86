"""The overload half of ``bench_soak --overload``: open-loop clients at a multiple of the sustainable rate.

Clients in several processes (a third on gRPC) offer requests on schedule whatever the answers, queue what is
refused and retry as told; the sustainable rate is measured first by closed-loop senders in the same run.
"""

from __future__ import annotations

import asyncio
import http.client
import multiprocessing as mp
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_soak import _missing, make_body
from benchmarks.collector_process import CollectorProc, Endpoints


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
