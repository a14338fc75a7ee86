"""Benchmark of `spanscope import`: OTLP JSON and X-Ray documents into the store, spans/s and peak RSS.

    .venv/bin/python -m benchmarks.bench_import            # 1,000,000 spans per format (+ 250,000 for linearity)
    .venv/bin/python -m benchmarks.bench_import --quick    # 100,000 (+ 25,000)

For each format a JSON Lines file is generated (OTLP: the collector file exporter's shape, one
ExportTraceServiceRequest of 100 spans per line; X-Ray: one segment document with 4 subsegments per
line). Every measurement runs in a fresh, single-threaded child process (one core), which reports its
own wall time, CPU time and peak RSS. On a shared machine CPU time is the steadier figure; wall time
also counts waiting for the disk (the store syncs each batch) and for other processes:

- baseline: plain ``orjson.loads`` of every line of the same file (the floor of any JSON importer);
- convert: reading + parsing + converting into model Spans, no store;
- import: ``import_files`` end to end into a fresh SQLite store (batches of 5,000 spans).

Printed: spans/s, peak RSS, the ratio import/baseline, and linearity (time for 4x the input over the
time for 1x; target <= 4.4). Targets: >= 30,000 spans/s end to end, RSS < 1 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

OTLP_SPANS_PER_LINE = 100
XRAY_SPANS_PER_DOC = 5
BASE_S = 1_763_700_000


def _otlp_line(first: int) -> bytes:
    spans = []
    for k in range(OTLP_SPANS_PER_LINE):
        n = first + k
        trace = n // 10
        root = n - n % 10
        start = (BASE_S + trace) * 1_000_000_000 + (n % 10) * 1_000_000
        span = {
            "traceId": f"{BASE_S:08x}{trace:024x}",
            "spanId": f"{n + 1:016x}",
            "name": "GET /orders/{id}" if n == root else f"op-{n % 10}",
            "kind": 2 if n == root else 3,
            "startTimeUnixNano": str(start),
            "endTimeUnixNano": str(start + 5_000_000),
            "attributes": [
                {"key": "http.request.method", "value": {"stringValue": "GET"}},
                {"key": "http.response.status_code", "value": {"intValue": "200" if n % 97 else "503"}},
                {"key": "rpc.system", "value": {"stringValue": "aws-api"}},
                {"key": "rpc.service", "value": {"stringValue": "DynamoDB"}},
            ],
            "status": {"code": 0},
        }
        if n != root:
            span["parentSpanId"] = f"{root + 1:016x}"
        spans.append(span)
    request = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": f"svc-{first % 7}"}},
                        {"key": "cloud.platform", "value": {"stringValue": "aws_lambda"}},
                    ]
                },
                "scopeSpans": [{"scope": {"name": "bench"}, "spans": spans}],
            }
        ]
    }
    return orjson.dumps(request) + b"\n"


def _xray_line(doc_index: int) -> bytes:
    start = BASE_S + doc_index / 1000
    trace = doc_index // 4
    first = doc_index * XRAY_SPANS_PER_DOC
    subsegments = [
        {
            "name": ("DynamoDB", "S3", "SQS", "api.example.com")[k],
            "id": f"{first + k + 2:016x}",
            "namespace": "aws" if k < 3 else "remote",
            "start_time": round(start + 0.001 * (k + 1), 6),
            "end_time": round(start + 0.001 * (k + 2), 6),
            "aws": {"operation": "GetItem", "request_id": "R" * 20} if k < 3 else {},
            "http": {"response": {"status": 200}},
        }
        for k in range(XRAY_SPANS_PER_DOC - 1)
    ]
    doc = {
        "name": f"svc-{doc_index % 7}",
        "id": f"{first + 1:016x}",
        "trace_id": f"1-{BASE_S:08x}-{trace:024x}",
        "start_time": round(start, 6),
        "end_time": round(start + 0.01, 6),
        "origin": "AWS::Lambda::Function",
        "http": {"request": {"method": "GET", "url": "https://api/x"}, "response": {"status": 200}},
        "annotations": {"customer": f"c{doc_index % 100}"},
        "metadata": {"default": {"attempt": 1}},
        "subsegments": subsegments,
    }
    return orjson.dumps(doc) + b"\n"


def generate(fmt: str, spans: int, path: Path) -> None:
    with path.open("wb") as out:
        if fmt == "otlp-json":
            for first in range(0, spans, OTLP_SPANS_PER_LINE):
                out.write(_otlp_line(first))
        else:
            for doc in range(spans // XRAY_SPANS_PER_DOC):
                out.write(_xray_line(doc))


# --- measurements (each in a child process) ---------------------------------------------------------


def _worker(mode: str, fmt: str, path: str, db: str) -> None:
    started = time.perf_counter()
    cpu_started = time.process_time()
    spans = 0
    if mode == "baseline":
        with open(path, "rb") as handle:
            for line in handle:
                orjson.loads(line)
    elif mode == "convert":
        from spanscope.collectors.importers import read_file

        _, chunks = read_file(path, fmt)
        for chunk in chunks:
            spans += len(chunk.spans)
    else:
        from spanscope.collectors.importers import import_files
        from spanscope.collectors.store import open_store

        with open_store(db) as store:
            report = import_files([path], store, fmt="auto")
            spans = report.spans
            if report.problems:
                raise SystemExit(f"unexpected problems: {report.problems[:3]}")
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"elapsed_s": elapsed, "cpu_s": cpu, "rss_bytes": rss_kib * 1024, "spans": spans}))


def measure(mode: str, fmt: str, path: Path, workdir: Path) -> dict[str, float]:
    db = workdir / f"store-{mode}-{fmt}-{path.stat().st_size}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_import", "--worker", mode, fmt, str(path), str(db)],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 spans (and 25,000) instead of 1,000,000")
    parser.add_argument("--spans", type=int, default=None, help="spans per format for the main run")
    parser.add_argument("--formats", default="otlp-json,xray")
    parser.add_argument("--worker", nargs=4, metavar=("MODE", "FORMAT", "FILE", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(*args.worker)
        return 0

    big = args.spans or (100_000 if args.quick else 1_000_000)
    small = big // 4
    print(f"spanscope import benchmark: {big:,} spans per format (linearity against {small:,}); one core per run")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average now: {load} (the machine is shared: wall times vary)")
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        workdir = Path(tmp)
        for fmt in args.formats.split(","):
            files = {}
            for n in (small, big):
                files[n] = workdir / f"{fmt}-{n}.jsonl"
                generate(fmt, n, files[n])
            size_mb = files[big].stat().st_size / 1e6
            base = measure("baseline", fmt, files[big], workdir)
            conv = measure("convert", fmt, files[big], workdir)
            full = measure("import", fmt, files[big], workdir)
            part = measure("import", fmt, files[small], workdir)
            rate = full["spans"] / full["elapsed_s"]
            print(f"\n[{fmt}] {full['spans']:,} spans, {size_mb:,.0f} MB of JSON Lines")
            for label, run in (
                ("baseline orjson.loads per line", base),
                ("parse + convert to model      ", conv),
                ("import end to end (store)     ", full),
            ):
                print(
                    f"  {label} : {run['elapsed_s']:7.2f} s wall, {run['cpu_s']:7.2f} s CPU"
                    f"  ({full['spans'] / run['elapsed_s']:>10,.0f} spans/s wall)"
                    f"  peak RSS {run['rss_bytes'] / 2**20:5.0f} MiB"
                )
            linear = full["elapsed_s"] / part["elapsed_s"]
            linear_cpu = full["cpu_s"] / part["cpu_s"]
            rate_cpu = full["spans"] / full["cpu_s"]
            print(
                f"  ratio import / baseline        : {full['elapsed_s'] / base['elapsed_s']:7.1f}x wall,"
                f" {full['cpu_s'] / base['cpu_s']:5.1f}x CPU"
            )
            print(
                f"  ratio convert / baseline       : {conv['elapsed_s'] / base['elapsed_s']:7.1f}x wall,"
                f" {conv['cpu_s'] / base['cpu_s']:5.1f}x CPU"
            )
            print(f"  store share of the import      : {1 - conv['cpu_s'] / full['cpu_s']:7.0%} of the CPU time")
            print(f"  end to end per CPU second      : {rate_cpu:10,.0f} spans/s (one core)")
            print(
                f"  linearity: {small:,} spans in {part['elapsed_s']:.2f} s wall / {part['cpu_s']:.2f} s CPU;"
                f" 4x the input in {linear:.2f}x the wall time, {linear_cpu:.2f}x the CPU time (target <= 4.4);"
                f" peak RSS {part['rss_bytes'] / 2**20:.0f} MiB"
            )
            verdict = [
                f"spans/s {'OK' if rate >= 30_000 else 'below 30,000'} wall,"
                f" {'OK' if rate_cpu >= 30_000 else 'below 30,000'} per CPU second",
                "RSS " + ("OK" if full["rss_bytes"] < 2**30 else "ABOVE 1 GB"),
                f"linear {'OK' if linear <= 4.4 else 'NO'} wall, {'OK' if linear_cpu <= 4.4 else 'NO'} CPU",
            ]
            print("  targets: " + ", ".join(verdict))
    return 0


if __name__ == "__main__":
    sys.exit(main())
