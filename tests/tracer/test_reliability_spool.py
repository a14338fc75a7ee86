"""Edge spool through a long collector outage, with restarts and SIGKILLs, drained into a real collector.

What ``test_spool.py`` does not cover: many batches over several process lifetimes while the collector
stays down (the cap holds after every batch, eviction is oldest-first and counted across restarts),
devices SIGKILLed while spooling, and the drain into spanscope's own collector and store, in order.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from spanscope.collectors.collector import BackgroundCollector
from spanscope.collectors.store import open_store
from spanscope.tracer.spool import StoreAndForwardExporter

from tests.builders import collector_config
from tests.tracer.spool_loopback import Spans, export_within_cap, free_port, spool_files_bytes
from tests.waiting import wait_for

FAST = {"initial_backoff_s": 0.02, "max_backoff_s": 0.2, "request_timeout_s": 2.0, "probe_clock": False}


def stored_names_in_write_order(db: Path) -> list[str]:
    with open_store(db, readonly=True) as store:
        _cursor, trace_ids = store.changes_since(0)
        names = []
        for trace_id in trace_ids:
            trace = store.get_trace(trace_id)
            names.extend(s.name for s in sorted(trace.spans, key=lambda s: s.start_ns))
        return names


def drain(port: int, spool: Path, db: Path, expected: int) -> StoreAndForwardExporter:
    config = collector_config(db, otlp_http=("127.0.0.1", port))
    url = f"http://127.0.0.1:{port}/v1/traces"
    with BackgroundCollector(config) as collector:
        exporter = StoreAndForwardExporter(OTLPSpanExporter(endpoint=url, timeout=2), spool, **FAST)
        wait_for(lambda: collector.counters.get("writer.spans") >= expected, timeout_s=60)
        assert exporter.force_flush(timeout_millis=20_000)
        exporter.shutdown()
    return exporter


def test_long_outage_over_restarts_stays_capped_evicts_oldest_and_drains_in_order(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there during the outage
    url = f"http://127.0.0.1:{port}/v1/traces"
    spool = tmp_path / "spool"
    max_bytes = 48 * 1024
    spans = Spans()
    sent: list[str] = []
    evicted = spooled = 0
    try:
        for life in range(6):  # six device restarts while the collector stays down
            exporter = StoreAndForwardExporter(
                OTLPSpanExporter(endpoint=url, timeout=0.5),
                spool,
                max_bytes=max_bytes,
                segment_bytes=4096,
                fsync=False,
                **FAST,
            )
            names = [f"life{life}-batch{i:02d}" for i in range(60)]
            sent += export_within_cap(exporter, spans, names, spool, max_bytes, payload=200)
            stats = exporter.stats
            evicted += stats.evicted_batches
            spooled += stats.spooled_batches
            assert stats.drained_batches == 0
            exporter.shutdown()
            assert spool_files_bytes(spool) <= max_bytes
    finally:
        spans.provider.shutdown()
    assert spooled == len(sent) == 360
    assert evicted > 0
    kept = len(sent) - evicted
    db = tmp_path / "spans.db"
    drain(port, spool, db, kept)
    # exactly the newest batches survived, and they arrived oldest first
    assert stored_names_in_write_order(db) == sent[-kept:]
    assert spool_files_bytes(spool) <= max_bytes


_DEVICE = textwrap.dedent(
    """
    import sys, time
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from spanscope.tracer.spool import StoreAndForwardExporter

    url, spool, life = sys.argv[1], sys.argv[2], sys.argv[3]
    exporter = StoreAndForwardExporter(OTLPSpanExporter(endpoint=url, timeout=0.5), spool, probe_clock=False,
                                       initial_backoff_s=0.02, max_backoff_s=0.2)
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "device"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("edge")
    i = 0
    while True:
        memory.clear()
        name = f"{life}-{i:05d}"
        with tracer.start_as_current_span(name):
            pass
        exporter.export(memory.get_finished_spans())
        print(name, flush=True)  # spooled and fsynced
        i += 1
    """
)


def test_device_sigkilled_while_spooling_loses_nothing_it_spooled(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1/traces"
    spool = tmp_path / "spool"
    script = tmp_path / "device.py"
    script.write_text(_DEVICE)
    rng = random.Random(5)
    spooled: list[str] = []
    for life in range(3):
        proc = subprocess.Popen(
            [sys.executable, str(script), url, str(spool), f"k{life}"], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        target = rng.randrange(20, 80)
        got = []
        while len(got) < target:
            line = proc.stdout.readline()
            assert line, "device exited early"
            got.append(line.strip())
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate(timeout=30)
        got.extend(x for x in rest.split() if x)
        spooled.extend(got)
    db = tmp_path / "spans.db"
    drain(port, spool, db, len(spooled))
    names = stored_names_in_write_order(db)
    # every batch a device reported spooled is stored, in the order it was spooled
    assert set(spooled) <= set(names)
    assert names == sorted(names, key=lambda n: (int(n[1 : n.index("-")]), n))
