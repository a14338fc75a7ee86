"""Slowloris benchmark: thousands of idle and trickling connections against `spanscope collect`; real SDK acks.

Run ``python -m benchmarks.bench_slowloris [--idle 4000] [--trickle 1000] [--grpc-idle 1000] [--duration 45]
[--quick]``. The collector runs in its own process with its default timeouts and connection bounds.
An attacker thread holds ``--idle`` OTLP/HTTP connections that never send anything, ``--trickle``
that send a request head (half of them) or a body (the other half) one byte a second, and
``--grpc-idle`` raw TCP connections to OTLP/gRPC; whatever the collector closes is reopened at once,
so the pressure stays on for the whole run. Meanwhile the OpenTelemetry SDK's own OTLP exporters
(HTTP protobuf and gRPC) export one span every 0.25 s each and time the acknowledgement.

Baseline in the same run: the same exporters against the idle collector before the attack.
Printed: ack latency p50/p99/max and failures with and without the attack (ratio), how many attack
connections the collector closed (timeouts) or refused, the collector's log lines, its peak RSS.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.collector_process import CollectorProc

_HEAD = b"POST /v1/traces HTTP/1.1\r\nHost: collector\r\nX-Slow: "
_BODY = (
    b"POST /v1/traces HTTP/1.1\r\nHost: collector\r\nContent-Type: application/x-protobuf\r\n"
    b"Content-Length: 99999\r\n\r\n"
)


class Attacker:
    """Holds connections open, trickles bytes on some, reopens whatever the collector closes."""

    def __init__(self, http: tuple[str, int], grpc: tuple[str, int], idle: int, trickle: int, grpc_idle: int) -> None:
        self.plan: list[tuple[tuple[str, int], bytes, bool]] = []
        self.plan += [(http, b"", False)] * idle
        self.plan += [(http, _HEAD, True)] * (trickle // 2)
        self.plan += [(http, _BODY, True)] * (trickle - trickle // 2)
        self.plan += [(grpc, b"", False)] * grpc_idle
        self.socks: list[socket.socket | None] = [None] * len(self.plan)
        self.opened = 0
        self.closed_by_collector = 0
        self.refused_503 = 0
        self.connect_errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _open(self, i: int) -> None:
        address, first, _trickle = self.plan[i]
        try:
            sock = socket.create_connection(address, timeout=2)
            sock.setblocking(False)
            if first:
                sock.send(first)
        except OSError:
            self.connect_errors += 1
            self.socks[i] = None
            return
        self.opened += 1
        self.socks[i] = sock

    def start(self) -> None:
        for i in range(len(self.plan)):
            self._open(i)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            for i, sock in enumerate(self.socks):
                if self._stop.is_set():
                    return
                if sock is None:
                    self._open(i)
                    continue
                closed = False
                try:
                    data = sock.recv(65536)
                    if data.startswith(b"HTTP/1.1 503"):
                        self.refused_503 += 1
                    closed = not data or data.startswith(b"HTTP/1.1 503")
                except BlockingIOError:
                    pass
                except OSError:
                    closed = True
                if not closed and self.plan[i][2]:
                    try:
                        sock.send(b"x")
                    except OSError:
                        closed = True
                if closed:
                    self.closed_by_collector += 1
                    sock.close()
                    self._open(i)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
        for sock in self.socks:
            if sock is not None:
                sock.close()


def _exporters(collector: CollectorProc) -> dict[str, Any]:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GRPCExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HTTPExporter

    http_host, http_port = collector.addresses["otlp-http"]
    grpc_host, grpc_port = collector.addresses["otlp-grpc"]
    return {
        "http": HTTPExporter(endpoint=f"http://{http_host}:{http_port}/v1/traces", timeout=10),
        "grpc": GRPCExporter(endpoint=f"{grpc_host}:{grpc_port}", insecure=True, timeout=10),
    }


def _measure(exporters: dict[str, Any], seconds: float) -> dict[str, dict[str, float]]:
    """Each exporter exports one finished span every 0.25 s for ``seconds``: ack latencies and failures."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExportResult

    provider = TracerProvider(resource=Resource.create({"service.name": "well-behaved"}))
    tracer = provider.get_tracer("bench_slowloris")
    latencies: dict[str, list[float]] = {name: [] for name in exporters}
    failures = dict.fromkeys(exporters, 0)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for name, exporter in exporters.items():
            span = tracer.start_span(f"{name}-request")
            span.end()
            assert isinstance(span, ReadableSpan)
            started = time.perf_counter()
            result = exporter.export([span])
            if result is SpanExportResult.SUCCESS:
                latencies[name].append(time.perf_counter() - started)
            else:
                failures[name] += 1
        time.sleep(0.25)
    out: dict[str, dict[str, float]] = {}
    for name, values in latencies.items():
        values.sort()
        out[name] = {
            "acked": len(values),
            "failed": failures[name],
            "p50_ms": 1000 * statistics.median(values) if values else float("nan"),
            "p99_ms": 1000 * values[min(len(values) - 1, int(len(values) * 0.99))] if values else float("nan"),
            "max_ms": 1000 * values[-1] if values else float("nan"),
        }
    return out


def run(idle: int, trickle: int, grpc_idle: int, duration_s: float, baseline_s: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "collector.log"
        collector = CollectorProc(Path(tmp) / "spans.db", receivers=("otlp-http", "otlp-grpc"), stderr_path=log)
        try:
            exporters = _exporters(collector)
            baseline = _measure(exporters, baseline_s)
            attacker = Attacker(
                collector.addresses["otlp-http"], collector.addresses["otlp-grpc"], idle, trickle, grpc_idle
            )
            opening = time.perf_counter()
            attacker.start()
            opened_s = time.perf_counter() - opening
            try:
                attacked = _measure(exporters, duration_s)
            finally:
                attacker.stop()
            stats = collector.stats()
            peak_rss = collector.peak_rss
        finally:
            collector.stop()
        log_lines = len(log.read_text().splitlines())
    return {
        "baseline": baseline,
        "attacked": attacked,
        "attack_connections": len(attacker.plan),
        "attack_open_s": opened_s,
        "opened": attacker.opened,
        "closed_by_collector": attacker.closed_by_collector,
        "refused_503": attacker.refused_503,
        "connect_errors": attacker.connect_errors,
        "body_timeouts": stats.get("otlp_http.rejected:body_timeout", 0),
        "log_lines": log_lines,
        "peak_rss_mb": peak_rss / 2**20,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, default=4000, help="idle OTLP/HTTP connections (default 4000)")
    parser.add_argument("--trickle", type=int, default=1000, help="trickling OTLP/HTTP connections (default 1000)")
    parser.add_argument("--grpc-idle", type=int, default=1000, help="idle TCP connections to OTLP/gRPC (default 1000)")
    parser.add_argument("--duration", type=float, default=45.0, help="seconds under attack (default 45)")
    parser.add_argument("--quick", action="store_true", help="1,000 idle + 200 trickling + 200 gRPC for 20 s")
    args = parser.parse_args(argv)
    if args.quick:
        args.idle, args.trickle, args.grpc_idle, args.duration = 1000, 200, 200, 20.0
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    r = run(args.idle, args.trickle, args.grpc_idle, args.duration, baseline_s=5.0)
    print(
        f"attack: {r['attack_connections']} connections ({args.idle} idle HTTP, {args.trickle} trickling HTTP,"
        f" {args.grpc_idle} idle gRPC) opened in {r['attack_open_s']:.1f} s, held {args.duration:.0f} s and reopened"
        f" when closed: {r['opened']} opened, {r['closed_by_collector']} closed by the collector"
        f" ({r['refused_503']} refused with 503, {r['body_timeouts']} body timeouts),"
        f" {r['connect_errors']} connect errors"
    )
    for name in ("http", "grpc"):
        b, a = r["baseline"][name], r["attacked"][name]
        ratio = a["p99_ms"] / b["p99_ms"] if b["p99_ms"] > 0 else float("nan")
        print(
            f"SDK {name} exporter: idle collector p50 {b['p50_ms']:.1f} ms p99 {b['p99_ms']:.1f} ms"
            f" ({b['acked']:.0f} acked);"
            f" under attack p50 {a['p50_ms']:.1f} ms p99 {a['p99_ms']:.1f} ms max {a['max_ms']:.0f} ms"
            f" ({a['acked']:.0f} acked, {a['failed']:.0f} failed); p99 ratio {ratio:.1f}x"
        )
    print(f"collector log: {r['log_lines']} lines; peak RSS {r['peak_rss_mb']:.0f} MB")
    return 0 if all(r["attacked"][n]["failed"] == 0 for n in ("http", "grpc")) else 1


if __name__ == "__main__":
    raise SystemExit(main())
