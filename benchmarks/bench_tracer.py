"""Tracer overhead: @trace vs raw SDK spans (OTLP, batch processor), unsampled cost, legacy vs X-Ray SDK, imports.

    .venv/bin/python -m benchmarks.bench_tracer [--quick]

Every figure is printed with its baseline measured in the same run (best of several repeats).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.trace.export import SpanExporter

from benchmarks.machine import machine_line


def per_call_ns(fn: Callable[[], Any], calls: int, repeats: int) -> float:
    """Best-of-``repeats`` nanoseconds per call of ``fn`` over ``calls`` calls."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter_ns() - start) / calls)
    return best


SINK = """
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
server = HTTPServer(("127.0.0.1", 0), H)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


class TimedExporter(SpanExporter):
    """Wraps the OTLP exporter: CPU time of the batch thread spent in ``export`` (encoding and sending)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.cpu_ns = 0
        self.spans = 0

    def export(self, spans: Any) -> Any:
        start = time.thread_time_ns()
        try:
            return self.inner.export(spans)
        finally:
            self.cpu_ns += time.thread_time_ns() - start
            self.spans += len(spans)

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return bool(self.inner.force_flush(timeout_millis))


def per_call_cpu_ns(fn: Callable[[], Any], calls: int) -> tuple[float, float]:
    """(wall ns, calling-thread CPU ns) per call of ``fn`` over ``calls`` calls."""
    wall, cpu = time.perf_counter_ns(), time.thread_time_ns()
    for _ in range(calls):
        fn()
    return (time.perf_counter_ns() - wall) / calls, (time.thread_time_ns() - cpu) / calls


def bench_otel(calls: int, repeats: int) -> dict[str, float]:
    """``@trace`` against a raw SDK span on the same provider, whose OTLP/HTTP exporter sits on a batch
    processor and sends to a sink in another process. The calling thread's CPU time is the figure compared
    (the batch thread competes for the GIL, which wall time would charge to whichever side it hits); the
    exporter's CPU time per span (protobuf encoding and the POST, on the batch thread) is reported apart."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from spanscope.tracer import configure, force_flush, trace
    from spanscope.tracer.runtime import RUNTIME

    sink = subprocess.Popen([sys.executable, "-c", SINK], stdout=subprocess.PIPE, text=True)
    try:
        port = int(sink.stdout.readline()) if sink.stdout else 0
        os.environ["OTEL_BSP_MAX_QUEUE_SIZE"] = str(calls + 1)  # a round never drops spans
        timed = TimedExporter(OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces"))
        configure(service="bench", exporters=[timed], sampling=1.0)
        backend = RUNTIME.backend
        tracer = backend.tracer

        def raw() -> int:
            with tracer.start_as_current_span("f"):
                return 1

        @trace("f")
        def decorated() -> int:
            return 1

        best: dict[str, tuple[float, float]] = {}
        export: dict[str, list[int]] = {"raw": [0, 0], "trace": [0, 0]}
        for round_ in range(2 * repeats):  # interleaved rounds, alternating which goes first; best of each
            for label, fn in (
                (("raw", raw), ("trace", decorated)) if round_ % 2 else (("trace", decorated), ("raw", raw))
            ):
                force_flush(30_000)
                cpu0, spans0 = timed.cpu_ns, timed.spans
                wall_ns, cpu_ns = per_call_cpu_ns(fn, calls)
                force_flush(30_000)
                export[label][0] += timed.cpu_ns - cpu0
                export[label][1] += timed.spans - spans0
                old = best.get(label, (float("inf"), float("inf")))
                best[label] = (min(old[0], wall_ns), min(old[1], cpu_ns))
        configure(exporters=[])
    finally:
        sink.terminate()
        sink.wait()
        os.environ.pop("OTEL_BSP_MAX_QUEUE_SIZE", None)
    return {
        "lean": float(bool(getattr(backend, "lean", False))),
        "raw_ns": best["raw"][1],
        "trace_ns": best["trace"][1],
        "raw_wall_ns": best["raw"][0],
        "trace_wall_ns": best["trace"][0],
        "ratio": best["trace"][1] / best["raw"][1],
        "wall_ratio": best["trace"][0] / best["raw"][0],
        "export_raw_ns": export["raw"][0] / max(1, export["raw"][1]),
        "export_trace_ns": export["trace"][0] / max(1, export["trace"][1]),
        "exported": float(export["raw"][1] + export["trace"][1]),
    }


def bench_off(calls: int, repeats: int) -> dict[str, float]:
    from opentelemetry import context as otel_context
    from spanscope.tracer import configure, extract, trace

    def plain() -> int:
        return 1

    @trace("f")
    def decorated() -> int:
        return 1

    floor = per_call_ns(plain, calls, repeats)
    configure(disabled=True)
    disabled = per_call_ns(decorated, calls, repeats)
    configure(service="bench", exporters=[], sampling="always_off")
    always_off = per_call_ns(decorated, calls, repeats)
    configure(service="bench", exporters=[], sampling=1e-9)  # roots are (almost) never sampled
    unsampled_root = per_call_ns(decorated, calls, repeats)
    configure(service="bench", exporters=[], sampling=1.0)
    ctx = extract({"X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"})
    token = otel_context.attach(ctx)
    try:
        unsampled_child = per_call_ns(decorated, calls, repeats)
    finally:
        otel_context.detach(token)
    floor = min(floor, per_call_ns(plain, calls, repeats))
    return {
        "floor_ns": floor,
        "disabled_ns": disabled,
        "always_off_ns": always_off,
        "unsampled_parent_ns": unsampled_child,
        "unsampled_root_ns": unsampled_root,
    }


def bench_rules(calls: int, repeats: int) -> dict[str, float]:
    """An unsampled ``@trace`` root under the X-Ray rules sampler (a rule for the service with fixed rate 0
    and reservoir 0), against a plain call, spanscope's ratio-0 root and the SDK's own
    ``start_as_current_span`` under ``TraceIdRatioBased(0)`` and under the rules sampler, in one run."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
    from spanscope.tracer import configure, trace
    from spanscope.tracer.sampling import SamplingRule, XRayRulesSampler

    def rules_sampler() -> ParentBased:
        rules = [
            SamplingRule("health", 1, 1.0, 5, url_path="/health"),
            SamplingRule("bench", 2, 0.0, 0, service_name="bench"),
            SamplingRule("Default", 10_000, 1.0, 1),
        ]
        return ParentBased(XRayRulesSampler(rules, resource={"service.name": "bench"}))

    def plain() -> int:
        return 1

    @trace("f")
    def decorated() -> int:
        return 1

    def sdk_call(tracer: Any) -> Callable[[], int]:
        def call() -> int:
            with tracer.start_as_current_span("f"):
                return 1

        return call

    sdk_ratio = sdk_call(TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.0))).get_tracer("bench"))
    sdk_rules = sdk_call(TracerProvider(sampler=rules_sampler()).get_tracer("bench"))
    out: dict[str, float] = {"floor_ns": per_call_ns(plain, calls, repeats)}
    for _round in range(2):  # interleaved, best of both rounds
        configure(service="bench", exporters=[], sampling=0.0)
        figures = {"ratio_root_ns": per_call_ns(decorated, calls, repeats)}
        configure(service="bench", exporters=[], sampling=rules_sampler())
        figures["rules_root_ns"] = per_call_ns(decorated, calls, repeats)
        figures["sdk_ratio_ns"] = per_call_ns(sdk_ratio, calls // 4, repeats)
        figures["sdk_rules_ns"] = per_call_ns(sdk_rules, calls // 4, repeats)
        figures["floor_ns"] = per_call_ns(plain, calls, repeats)
        for key, value in figures.items():
            out[key] = min(out.get(key, value), value)
    configure(service="bench", exporters=[], sampling=1.0)
    return out


def bench_legacy(calls: int, repeats: int) -> dict[str, float]:
    os.environ.setdefault("AWS_XRAY_DAEMON_ADDRESS", "127.0.0.1:9")  # discard port: datagrams go nowhere
    from aws_xray_sdk.core import xray_recorder
    from spanscope.tracer import configure, trace

    configure(service="bench", backend="xray-sdk", sampling=1.0)
    xray_recorder.configure(streaming_threshold=10**9)

    @xray_recorder.capture("f")  # type: ignore[untyped-decorator]
    def captured() -> int:
        return 1

    @trace("f")
    def decorated() -> int:
        return 1

    chunk = 500  # calls per segment: a segment holding tens of thousands of subsegments makes GC noise

    def run(fn: Callable[[], int]) -> float:
        """ns per call over ``calls`` calls, in segments of ``chunk`` subsegments."""
        elapsed = 0
        for _ in range(max(1, calls // chunk)):
            xray_recorder.begin_segment("bench")
            start = time.perf_counter_ns()
            for _ in range(chunk):
                fn()
            elapsed += time.perf_counter_ns() - start
            xray_recorder.current_segment().subsegments.clear()
            xray_recorder.end_segment()
        return elapsed / (max(1, calls // chunk) * chunk)

    sdk_ns = ours_ns = float("inf")
    for round_ in range(2 * repeats):  # interleaved rounds, alternating which goes first; best of each
        if round_ % 2:
            ours_ns = min(ours_ns, run(decorated))
            sdk_ns = min(sdk_ns, run(captured))
        else:
            sdk_ns = min(sdk_ns, run(captured))
            ours_ns = min(ours_ns, run(decorated))
    configure(exporters=[])
    return {"xray_capture_ns": sdk_ns, "legacy_trace_ns": ours_ns, "ratio": ours_ns / sdk_ns}


def import_ms(module: str, runs: int) -> float:
    """Median cumulative ``-X importtime`` of ``module`` in a fresh interpreter, in milliseconds."""

    def once() -> float:
        out = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"], capture_output=True, text=True, check=True
        )
        for line in reversed(out.stderr.splitlines()):
            parts = [p.strip() for p in line.split("|")]
            if len(parts) == 3 and parts[2] == module:
                return int(parts[1]) / 1000
        raise RuntimeError(f"no import time for {module}")

    return statistics.median(once() for _ in range(runs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (noisier figures)")
    args = parser.parse_args(argv)
    calls, repeats, runs = (5_000, 3, 5) if args.quick else (50_000, 7, 15)

    otel = bench_otel(calls, repeats)
    print(f"OTLP/HTTP exporter on a batch processor; lean recording path: {'on' if otel['lean'] else 'off'}")
    print(
        f"@trace per call            {otel['trace_ns'] / 1000:7.2f} us CPU  {otel['trace_wall_ns'] / 1000:7.2f} us wall"
    )
    print(
        f"raw start_as_current_span  {otel['raw_ns'] / 1000:7.2f} us CPU  {otel['raw_wall_ns'] / 1000:7.2f} us wall"
        f"   ratio {otel['ratio']:.3f} CPU, {otel['wall_ratio']:.3f} wall (target <= 0.5)"
    )
    print(
        f"batch thread (encode+POST) {otel['export_trace_ns'] / 1000:7.2f} us per @trace span, "
        f"{otel['export_raw_ns'] / 1000:.2f} us per raw span ({otel['exported']:.0f} spans exported)"
    )

    off = bench_off(calls * 4, repeats)
    floor = off["floor_ns"]
    print(f"plain call (floor)         {floor / 1000:7.3f} us")
    for label, key in (
        ("disabled (configure)", "disabled_ns"),
        ("sampler always_off", "always_off_ns"),
        ("unsampled parent", "unsampled_parent_ns"),
        ("unsampled root (ratio)", "unsampled_root_ns"),
    ):
        print(f"{label:<26} {off[key] / 1000:7.3f} us   (+{(off[key] - floor) / 1000:.3f} us over the floor)")
    print("SPANSCOPE_DISABLED=1 at decoration returns the function itself: the floor exactly")

    rules = bench_rules(calls * 4, repeats)
    floor = rules["floor_ns"]
    print(
        f"X-Ray rules sampler, unsampled @trace root (rule: service bench, rate 0, reservoir 0); "
        f"floor {floor / 1000:.3f} us"
    )
    for label, key in (
        ("unsampled root (rules)", "rules_root_ns"),
        ("unsampled root (ratio 0)", "ratio_root_ns"),
        ("SDK span, TraceIdRatioBased(0)", "sdk_ratio_ns"),
        ("SDK span, rules sampler", "sdk_rules_ns"),
    ):
        print(f"{label:<30} {rules[key] / 1000:7.3f} us   (+{(rules[key] - floor) / 1000:.3f} us over the floor)")

    legacy = bench_legacy(calls // 2, repeats)
    print(f"legacy xray-sdk @trace     {legacy['legacy_trace_ns'] / 1000:7.2f} us")
    print(
        f"xray_recorder.capture      {legacy['xray_capture_ns'] / 1000:7.2f} us"
        f"   ratio {legacy['ratio']:.3f} (target <= 1.15)"
    )

    ours = import_ms("spanscope.tracer", runs)
    sdk = import_ms("opentelemetry.sdk.trace", runs)
    print(f"import spanscope.tracer    {ours:7.1f} ms   (-X importtime, cumulative, median)")
    print(f"import opentelemetry.sdk.trace {sdk:7.1f} ms   ratio {ours / sdk:.2f}")
    print(machine_line())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
