"""The OTLP/HTTP loopback receiver and span source the store-and-forward tests drive (stopped, killed, restarted)."""

from __future__ import annotations

import email.utils
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from spanscope.tracer.spool import StoreAndForwardExporter

FAST = {"initial_backoff_s": 0.02, "max_backoff_s": 0.1, "request_timeout_s": 2.0}


class Receiver:
    """A minimal OTLP/HTTP traces receiver on 127.0.0.1 that can be stopped and restarted on its port.

    mode "ok" answers 200, "kill" drops the connection without answering, "reject" answers 400.
    ``skew_s`` shifts the Date header (the collector's clock relative to this machine's).
    """

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.requests = 0
        self.mode = "ok"
        self.skew_s = 0.0
        self.last_headers: dict[str, str] = {}
        self._server: ThreadingHTTPServer | None = None
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/traces"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def date_time_string(self, timestamp: float | None = None) -> str:
                return email.utils.formatdate(time.time() + receiver.skew_s, usegmt=True)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests += 1
                receiver.last_headers = dict(self.headers)
                if receiver.mode == "kill":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if receiver.mode == "reject":
                    self.send_response(400)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                request = ExportTraceServiceRequest()
                try:
                    request.ParseFromString(body)
                except DecodeError:
                    self.send_response(400)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                for rs in request.resource_spans:
                    for ss in rs.scope_spans:
                        for span in ss.spans:
                            attrs = {kv.key: kv.value for kv in span.attributes}
                            receiver.spans.append(
                                {"name": span.name, "span_id": span.span_id.hex(), "attributes": attrs}
                            )
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def names(self) -> list[str]:
        return [s["name"] for s in self.spans]


class Spans:
    """Finished spans from a real SDK provider (service "greengrass-core")."""

    def __init__(self) -> None:
        self.memory = InMemorySpanExporter()
        self.provider = TracerProvider(resource=Resource.create({"service.name": "greengrass-core"}))
        self.provider.add_span_processor(SimpleSpanProcessor(self.memory))
        self.tracer = self.provider.get_tracer("edge")

    def batch(self, *names: str, payload: int = 0) -> list[ReadableSpan]:
        self.memory.clear()
        for name in names:
            with self.tracer.start_as_current_span(name, attributes={"blob": "p" * payload}):
                pass
        return list(self.memory.get_finished_spans())


def free_port() -> int:
    """A loopback TCP port free at the time of asking (for a collector started later on it)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port: int = probe.getsockname()[1]
    probe.close()
    return port


def make_exporter(receiver: Receiver, directory: Path, **kwargs: Any) -> StoreAndForwardExporter:
    inner = OTLPSpanExporter(endpoint=receiver.url, timeout=1)
    options = {**FAST, **kwargs}
    return StoreAndForwardExporter(inner, directory, **options)


def spool_files_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.glob("seg-*.spool"))


def export_within_cap(
    exporter: StoreAndForwardExporter, spans: Spans, names: list[str], directory: Path, max_bytes: int, payload: int
) -> list[str]:
    """Export one batch per name (each accepted), checking after each that the spool stays within ``max_bytes``."""
    for name in names:
        assert exporter.export(spans.batch(name, payload=payload)) is SpanExportResult.SUCCESS
        assert spool_files_bytes(directory) <= max_bytes
    return names
