"""X-Ray export and edge spool cost per span, against OTLP protobuf encoding of the same spans.

    .venv/bin/python -m benchmarks.bench_xray_export [--quick]

Figures (best of several repeats, baseline measured in the same run):
- X-Ray UDP export (translate, pack to <= 64 KB, sendto a local socket) per span, against
  ``encode_spans(...).SerializeToString()`` (what the OTLP exporters do before the network);
- packing a large trace: datagrams, largest datagram, streamed subsegments;
- store-and-forward spool: append of one encoded batch with and without fsync, against encoding alone.
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import time
from collections.abc import Callable
from typing import Any


def best_ns(fn: Callable[[], Any], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter_ns()
        fn()
        best = min(best, time.perf_counter_ns() - start)
    return best


def make_spans(traces: int, children: int, payload: int = 40) -> list[Any]:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind

    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "bench", "cloud.platform": "aws_lambda"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    for t in range(traces):
        server_attrs: dict[str, Any] = {"http.request.method": "GET", "http.response.status_code": 200}
        with tracer.start_as_current_span("GET /orders", kind=SpanKind.SERVER, attributes=server_attrs):
            for c in range(children):
                with tracer.start_as_current_span(
                    "DynamoDB.GetItem",
                    kind=SpanKind.CLIENT,
                    attributes={
                        "rpc.system": "aws-api",
                        "rpc.service": "DynamoDB",
                        "rpc.method": "GetItem",
                        "aws.dynamodb.table_names": ["orders"],
                        "order.id": f"{t}-{c}",
                        "note": "n" * payload,
                        "aws.xray.annotations": ["order.id"],
                    },
                ):
                    pass
    spans = list(memory.get_finished_spans())
    provider.shutdown()
    return spans


def bench_export(spans: list[Any], repeats: int) -> dict[str, float]:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from spanscope.tracer.xray.exporter import XRayUdpExporter

    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    exporter = XRayUdpExporter(f"127.0.0.1:{sink.getsockname()[1]}")
    otlp_ns = xray_ns = float("inf")
    for _ in range(repeats):  # interleaved: both see the same machine noise
        otlp_ns = min(otlp_ns, best_ns(lambda: encode_spans(spans).SerializeToString(), 1))
        xray_ns = min(xray_ns, best_ns(lambda: exporter.export(spans), 1))
    stats = exporter.stats
    exporter.shutdown()
    sink.close()
    n = len(spans)
    return {
        "spans": n,
        "xray_us": xray_ns / n / 1000,
        "otlp_us": otlp_ns / n / 1000,
        "ratio": xray_ns / otlp_ns,
        "max_datagram": stats.max_datagram_bytes,
    }


def bench_packing() -> dict[str, float]:
    from spanscope.tracer.xray.documents import document_trees
    from spanscope.tracer.xray.exporter import MAX_DOCUMENT_BYTES, XRayExportStats, pack_documents

    spans = make_spans(1, 400, payload=1500)
    stats = XRayExportStats()
    payloads = pack_documents(document_trees(spans), MAX_DOCUMENT_BYTES, stats)
    sizes = sorted(len(p) for p in payloads)
    return {
        "spans": len(spans),
        "datagrams": len(payloads),
        "largest": sizes[-1],
        "total": sum(sizes),
        "streamed": stats.streamed_subsegments,
        "truncated": stats.truncated_documents,
    }


def bench_spool(spans: list[Any], repeats: int) -> dict[str, float]:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from spanscope.tracer.spool import DiskSpool

    batches = [spans[i : i + 50] for i in range(0, len(spans), 50)]
    results: dict[str, float] = {}
    encode_ns = best_ns(lambda: [encode_spans(b).SerializeToString() for b in batches], repeats)
    results["encode_us_per_batch"] = encode_ns / len(batches) / 1000
    for fsync in (False, True):
        with tempfile.TemporaryDirectory() as directory:
            spool = DiskSpool(directory, max_bytes=256 * 1024 * 1024, fsync=fsync)

            def run(spool: DiskSpool = spool) -> None:
                for b in batches:
                    spool.append(encode_spans(b).SerializeToString())

            ns = best_ns(run, repeats)
            spool.close()
        key = "fsync" if fsync else "nofsync"
        results[f"spool_{key}_us_per_batch"] = ns / len(batches) / 1000
        results[f"ratio_{key}"] = ns / encode_ns
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    args = parser.parse_args()
    traces, repeats = (20, 3) if args.quick else (100, 7)
    spans = make_spans(traces, 9)

    export = bench_export(spans, repeats)
    print(
        f"X-Ray UDP export: {export['xray_us']:.1f} µs/span vs OTLP protobuf encoding"
        f" {export['otlp_us']:.1f} µs/span -> ratio {export['ratio']:.2f}"
        f" ({export['spans']:.0f} spans, largest datagram {export['max_datagram']:.0f} B)"
    )
    pack = bench_packing()
    print(
        f"packing one {pack['spans']:.0f}-span trace: {pack['datagrams']:.0f} datagrams,"
        f" largest {pack['largest']:.0f} B (limit 64,000), {pack['total']:.0f} B in all,"
        f" {pack['streamed']:.0f} subsegments streamed, {pack['truncated']:.0f} truncated"
    )
    spool = bench_spool(spans, repeats)
    print(
        f"spool append per 50-span batch: {spool['spool_nofsync_us_per_batch']:.0f} µs without fsync"
        f" (ratio {spool['ratio_nofsync']:.2f}), {spool['spool_fsync_us_per_batch']:.0f} µs with fsync"
        f" (ratio {spool['ratio_fsync']:.2f}) vs encoding alone {spool['encode_us_per_batch']:.0f} µs"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
