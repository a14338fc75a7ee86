"""Idle, half-open and trickling connections must not starve the collector (issue 15, item 2).

Hundreds of connections that never send a request, send their request head a byte at a time, or
send a body a byte at a time are held open against a live collector; the OpenTelemetry SDK's own
OTLP exporters (HTTP and gRPC) must still get their spans acknowledged, the collector must close the
idle and slow connections by its timeouts, and beyond its connection bound refuse new ones with a
cheap 503. Timeouts are set to one second here so the test waits little; waits poll a condition with a
generous deadline rather than sleep a fixed time.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from spanscope.collectors.collector import BackgroundCollector, Collector, CollectorConfig

from tests import waiting
from tests.builders import LOOPBACK, collector_config

IDLE_HTTP = 600
TRICKLE_HEAD = 100
TRICKLE_BODY = 100
IDLE_GRPC = 300


def config(db: Path, **overrides: object) -> CollectorConfig:
    timeouts = {"http_idle_timeout_s": 1.0, "http_body_timeout_s": 1.0, "grpc_handshake_timeout_s": 1.0}
    return collector_config(db, otlp_grpc=LOOPBACK, **{**timeouts, **overrides})


wait_for = partial(waiting.wait_for, timeout_s=20.0)


class Attackers:
    """Sockets held open against the collector; the trickling ones get one byte every 50 ms from a thread."""

    def __init__(self) -> None:
        self.idle: list[socket.socket] = []
        self.trickling: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, daemon=True)

    def connect(self, address: tuple[str, int], n: int, first: bytes = b"", *, trickle: bool = False) -> None:
        for _ in range(n):
            sock = socket.create_connection(address, timeout=5)
            sock.setblocking(False)
            if first:
                sock.send(first)
            (self.trickling if trickle else self.idle).append(sock)

    def start(self) -> None:
        self._thread.start()

    def _trickle(self) -> None:
        while not self._stop.wait(0.05):
            for sock in self.trickling:
                with contextlib.suppress(OSError):
                    sock.send(b"x")

    def closed_by_peer(self) -> int:
        """How many of the held sockets the collector has closed (EOF or reset after any reply)."""
        closed = 0
        for sock in self.idle + self.trickling:
            try:
                while True:
                    data = sock.recv(65536)
                    if not data:
                        closed += 1
                        break
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
        return closed

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        for sock in self.idle + self.trickling:
            sock.close()


@pytest.fixture
def attackers() -> Iterator[Attackers]:
    held = Attackers()
    yield held
    held.close()


def export_one(exporter: SpanExporter, service: str) -> int:
    """Finish one span through the SDK with ``exporter``; returns how many the exporter reported failed."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    failures: list[object] = []

    class Recording(SpanExporter):
        def export(self, spans):  # type: ignore[no-untyped-def]
            result = exporter.export(spans)
            if result.name != "SUCCESS":
                failures.append(result)
            return result

        def shutdown(self) -> None:
            exporter.shutdown()

    provider.add_span_processor(SimpleSpanProcessor(Recording()))
    with provider.get_tracer("slow-connections").start_as_current_span("checkout"):
        pass
    provider.shutdown()
    return len(failures)


def sdk_exporters(collector: Collector) -> dict[str, SpanExporter]:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GRPCExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HTTPExporter

    http_host, http_port = collector.addresses["otlp_http"]
    grpc_host, grpc_port = collector.addresses["otlp_grpc"]
    return {
        "http": HTTPExporter(endpoint=f"http://{http_host}:{http_port}/v1/traces", timeout=10),
        "grpc": GRPCExporter(endpoint=f"{grpc_host}:{grpc_port}", insecure=True, timeout=10),
    }


def test_sdk_spans_are_acknowledged_while_hundreds_of_idle_and_trickling_connections_are_held(
    tmp_path: Path, attackers: Attackers
) -> None:
    with BackgroundCollector(config(tmp_path / "spans.db")) as collector:
        http = collector.addresses["otlp_http"]
        attackers.connect(http, IDLE_HTTP)
        attackers.connect(http, TRICKLE_HEAD, b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nX-Slow: ", trickle=True)
        head = b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
        head += b"Content-Length: 99999\r\n\r\n"
        attackers.connect(http, TRICKLE_BODY, head, trickle=True)
        attackers.connect(collector.addresses["otlp_grpc"], IDLE_GRPC)
        attackers.start()

        for name, exporter in sdk_exporters(collector).items():
            assert export_one(exporter, f"{name}-svc") == 0, f"the {name} exporter's spans were not acknowledged"
        services = {t.root_service for t in collector.store.summaries()}
        assert services == {"http-svc", "grpc-svc"}

        total = IDLE_HTTP + TRICKLE_HEAD + TRICKLE_BODY + IDLE_GRPC
        wait_for(lambda: attackers.closed_by_peer() == total, what=f"all {total} idle or slow connections closed")
        assert collector.counters.get("otlp_http.rejected:body_timeout") == TRICKLE_BODY
        wait_for(lambda: collector.counters.snapshot()["otlp_http.connections"] == 0, what="no connection left")


def test_connections_beyond_the_bound_get_a_cheap_503_and_clients_get_in_once_idle_ones_time_out(
    tmp_path: Path, attackers: Attackers
) -> None:
    with BackgroundCollector(config(tmp_path / "spans.db", max_connections=50)) as collector:
        http = collector.addresses["otlp_http"]
        attackers.connect(http, 50)
        wait_for(lambda: collector.counters.snapshot()["otlp_http.connections"] == 50, what="50 connections")
        with socket.create_connection(http, timeout=5) as extra:
            reply = extra.recv(4096)  # answered at once, before any request is sent
        assert reply.startswith(b"HTTP/1.1 503 "), reply
        assert b"Retry-After: 1" in reply
        assert collector.counters.get("otlp_http.rejected:connections") == 1

        wait_for(lambda: attackers.closed_by_peer() == 50, what="50 closed")  # the idle timeout frees the slots
        assert export_one(sdk_exporters(collector)["http"], "after-svc") == 0
        assert {t.root_service for t in collector.store.summaries()} == {"after-svc"}


def test_grpc_connections_beyond_the_bound_are_closed_at_once(tmp_path: Path) -> None:
    cfg = config(tmp_path / "spans.db", otlp_http=None, max_connections=5, grpc_handshake_timeout_s=30.0)
    with BackgroundCollector(cfg) as collector:
        socks = [socket.create_connection(collector.addresses["otlp_grpc"], timeout=5) for _ in range(8)]
        try:
            answers = []
            for sock in socks:
                sock.settimeout(5)
                answers.append(sock.recv(9))  # the server's SETTINGS frame header, or EOF when refused
            held = [a for a in answers if a]
            assert len(held) == 5 and all(a[3] == 0x04 for a in held)  # 0x04: an HTTP/2 SETTINGS frame
            assert answers.count(b"") == 3
        finally:
            for sock in socks:
                sock.close()
