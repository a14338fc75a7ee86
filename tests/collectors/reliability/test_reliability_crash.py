"""Crash safety: `spanscope collect` killed with SIGKILL mid-ingest, again and again; every acknowledged span survives.

A sender posts OTLP/HTTP protobuf batches of unique spans and records those the collector acknowledged
(2xx). The collector process is SIGKILLed at a random moment; the store must open afterwards and hold
every acknowledged span. Repeated over several kills on the same store file.
"""

from __future__ import annotations

import http.client
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from spanscope.collectors.store import open_store

KILLS = int(os.environ.get("SPANSCOPE_CRASH_KILLS", "6"))
SPANS_PER_REQUEST = 50


def start_collector(db: Path, log: Path) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "spanscope.cli.main",
            "collect",
            "--db",
            str(db),
            "--xray-udp",
            "off",
            "--otlp-grpc",
            "off",
            "--otlp-http",
            "127.0.0.1:0",
            "--log-interval",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=log.open("a"),
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 180  # generous: the machine may be busy
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if line.startswith("listening otlp-http"):
            return process, int(line.rsplit(":", 1)[1])
    process.kill()
    raise AssertionError(f"collector did not report its OTLP/HTTP address: {log.read_text()[-2000:]}")


def request_body(first: int, count: int, trace_id: bytes) -> tuple[bytes, list[str]]:
    spans = []
    ids = []
    now = time.time_ns()
    for n in range(first, first + count):
        span_id = (n + 1).to_bytes(8, "big")
        ids.append(span_id.hex())
        spans.append(
            PbSpan(
                trace_id=trace_id,
                span_id=span_id,
                name=f"op-{n % 7}",
                kind=PbSpan.SPAN_KIND_SERVER,
                start_time_unix_nano=now,
                end_time_unix_nano=now + 1_000_000,
                attributes=[KeyValue(key="n", value=AnyValue(int_value=n))],
            )
        )
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value="crash"))]),
                scope_spans=[ScopeSpans(spans=spans)],
            )
        ]
    )
    return request.SerializeToString(), ids


def sender(port: int, start: int, stop: threading.Event, acked: list[str], trace_id: bytes) -> None:
    counter = start
    while not stop.is_set():
        body, ids = request_body(counter, SPANS_PER_REQUEST, trace_id)
        counter += SPANS_PER_REQUEST
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
            response = conn.getresponse()
            payload = response.read()
            conn.close()
        except OSError:
            return  # the collector is gone
        if 200 <= response.status < 300:
            reply = ExportTraceServiceResponse.FromString(payload)
            assert reply.partial_success.rejected_spans == 0, reply.partial_success.error_message
            acked.extend(ids)
        elif response.status in (429, 503):
            time.sleep(0.05)


@pytest.mark.slow
def test_sigkill_never_loses_acknowledged_spans(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    rng = random.Random(1234)
    all_acked: list[str] = []
    trace_id = bytes.fromhex("691fed20" + "ab" * 12)
    for kill in range(KILLS):
        process, port = start_collector(db, tmp_path / "collector.log")
        acked: list[str] = []
        stop = threading.Event()
        threads = [
            threading.Thread(target=sender, args=(port, (kill * 4 + k) * 10_000_000, stop, acked, trace_id))
            for k in range(2)
        ]
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(0.3, 1.5))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        all_acked.extend(acked)
        with open_store(db) as store:  # opens (and recovers the WAL) after every kill
            trace = store.find_trace(trace_id.hex())
            stored = {s.span_id for s in trace.spans} if trace else set()
            total = store.span_count()
        missing = set(all_acked) - stored
        assert not missing, (
            f"kill {kill}: {len(missing)} of {len(all_acked)} acknowledged spans lost, "
            f"{len(set(acked) & missing)} from this run; stored {len(stored)} of {total} in the store"
        )
    assert len(all_acked) >= KILLS * SPANS_PER_REQUEST, "the collector acknowledged almost nothing"
    print(f"{len(all_acked)} acknowledged spans over {KILLS} kills, all present")
