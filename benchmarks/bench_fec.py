"""FEC edge uplink against plain UDP and spool-and-retry over a seeded lossy loopback link.

    .venv/bin/python -m benchmarks.bench_fec [--quick]

A device spool (``StoreAndForwardExporter``) ships records of 25 real SDK spans (~9 KB each, OTLP
protobuf) to a collector's FEC receiver through a relay that drops each datagram, both ways, with a
seeded probability of 1 %, 5 % and 10 % (user-space loss on loopback). Four ways of shipping, each
measured in the same run:

- ``udp once``: plain UDP (no parity), sent once, nothing resent: the fraction of spans delivered;
- ``fec once``: 16 data + 4 parity shards per part, sent once: delivered fraction and bytes overhead;
- ``udp + retry``: plain UDP, records not acknowledged are resent by the spool: time to full delivery;
- ``fec + retry``: FEC, the spool resends only what parity could not rebuild: time to full delivery.

Ratios are against ``udp once`` (delivered fraction) and ``udp + retry`` (time and bytes to full
delivery). Peak RSS and the load average are printed.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

SPANS_PER_RECORD = 25
DATA_SHARDS, PARITY_SHARDS = 16, 4


def make_records(count: int) -> list[list[Any]]:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "sensor-gw"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    records = []
    for r in range(count):
        with tracer.start_as_current_span(f"cycle {r}"):
            for i in range(SPANS_PER_RECORD - 1):
                with tracer.start_as_current_span("read_sensors", attributes={"seq": i, "reading": "x" * 200}):
                    pass
        records.append(list(memory.get_finished_spans()))
        memory.clear()
    return records


def settled_count(db_path: Path, quiet_s: float = 1.0, limit_s: float = 30.0) -> int:
    """Spans in the store once the count has not moved for ``quiet_s`` (datagrams still in the relay)."""
    from spanscope.collectors.store import open_store

    deadline = time.monotonic() + limit_s
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        with open_store(db_path, readonly=True) as store:
            count = store.span_count()
        if count != last:
            last, since = count, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
        time.sleep(0.1)
    return last


def run_case(records: list[list[Any]], loss: float, *, parity: int, retry: bool, seed: int) -> dict[str, float]:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from spanscope.collectors.collector import BackgroundCollector, CollectorConfig
    from spanscope.tracer.fec import FecCode, FecUplink
    from spanscope.tracer.spool import StoreAndForwardExporter

    from tests.lossy_link import LossyLink

    total = len(records) * SPANS_PER_RECORD
    with tempfile.TemporaryDirectory() as tmp:
        config = CollectorConfig(
            db_path=Path(tmp) / "spans.db",
            xray_udp=None,
            otlp_http=None,
            otlp_grpc=None,
            fec_udp=("127.0.0.1", 0),
            log_interval_s=0,
        )
        with (
            BackgroundCollector(config) as collector,
            LossyLink(collector.addresses["fec_udp"], loss, seed=seed) as link,
        ):
            uplink = FecUplink(
                link.address,
                FecCode(data_shards=DATA_SHARDS, parity_shards=parity),
                ack_timeout_s=0.5,
                resend_rounds=3 if retry else 0,
            )
            payloads = [encode_spans(spans).SerializeToString() for spans in records]
            start = time.perf_counter()
            if retry:  # through the device's spool, which resends what was not acknowledged
                exporter = StoreAndForwardExporter(
                    None, Path(tmp) / "spool", fec=uplink, initial_backoff_s=0.05, max_backoff_s=0.25, fsync=False
                )
                for spans in records:
                    exporter.export(spans)
                exporter.force_flush(300_000)
                exporter.shutdown()
            else:  # one pass over the link, nothing resent
                uplink.send(payloads)
                uplink.close()
            seconds = time.perf_counter() - start
            stored = settled_count(config.db_path)
            return {
                "delivered": stored / total,
                "seconds": seconds,
                "overhead": uplink.bytes_sent / sum(len(p) for p in payloads),
                "resent": uplink.resent_records,
                "rebuilt": collector.counters.get("fec_udp.rebuilt_parts"),
                "lost": link.dropped[0],
            }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100 records instead of 400")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    records = make_records(100 if args.quick else 400)
    print(f"{len(records)} records x {SPANS_PER_RECORD} spans; FEC {DATA_SHARDS}+{PARITY_SHARDS} shards of 1,200 bytes")
    print(
        f"{'loss':>5} {'way':<12} {'delivered':>9} {'vs udp':>7} {'time s':>7} {'vs retry':>8}"
        f" {'bytes/payload':>13} {'resent':>6} {'rebuilt':>7}"
    )
    for loss in (0.01, 0.05, 0.10):
        cases = {
            "udp once": run_case(records, loss, parity=0, retry=False, seed=args.seed),
            "fec once": run_case(records, loss, parity=PARITY_SHARDS, retry=False, seed=args.seed),
            "udp + retry": run_case(records, loss, parity=0, retry=True, seed=args.seed),
            "fec + retry": run_case(records, loss, parity=PARITY_SHARDS, retry=True, seed=args.seed),
        }
        base_delivered = max(cases["udp once"]["delivered"], 1e-9)
        base_time = cases["udp + retry"]["seconds"]
        for way, r in cases.items():
            vs_retry = f"{r['seconds'] / base_time:.2f}" if "retry" in way else "-"
            print(
                f"{loss:>5.0%} {way:<12} {r['delivered']:>9.1%} {r['delivered'] / base_delivered:>7.2f}"
                f" {r['seconds']:>7.2f} {vs_retry:>8} {r['overhead']:>13.3f} {r['resent']:>6} {r['rebuilt']:>7}"
            )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
