"""`spanscope tui --collect`: the receivers run in the app's process and traces show as they arrive."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from spanscope.cli.cmd_tui import collect_caption, collecting, prepare
from spanscope.cli.main import build_parser
from spanscope.tui.app import SpanscopeApp
from spanscope.tui.screens.traces import TracesScreen

from tests.tui.conftest import SIZE
from tests.tui.test_app import settle, table_text


def send(endpoint: str) -> None:
    """A real OpenTelemetry SDK sending one two-span trace over OTLP/HTTP."""
    provider = TracerProvider(resource=Resource.create({"service.name": "arriving-api"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=10)))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("GET /arrived"), tracer.start_as_current_span("db query"):
        pass
    provider.shutdown()


async def test_tui_collect_shows_traces_as_they_arrive(tmp_path: Path) -> None:
    db = tmp_path / "collect.db"  # does not exist yet: --collect creates it
    argv = ["tui", "--db", str(db), "--collect", "--otlp-http", "127.0.0.1:0", "--otlp-grpc", "off"]
    args = build_parser().parse_args([*argv, "--xray-udp", "off", "--poll", "0.1"])
    source, caption, live = prepare(args, tmp_path)
    assert live
    try:
        with collecting(args, source.path) as collector:
            host, port = collector.addresses["otlp_http"]
            assert host == "127.0.0.1" and port > 0
            caption = collect_caption(collector, caption)
            assert f"otlp-http 127.0.0.1:{port}" in caption
            app = SpanscopeApp(source, live=True, poll_interval_s=0.1, subtitle=caption)
            async with app.run_test(size=SIZE) as pilot:
                await settle(pilot)
                screen = app.screen
                assert isinstance(screen, TracesScreen) and screen.table.row_count == 0
                await asyncio.sleep(0.3)  # the first poll takes the cursor
                await asyncio.to_thread(send, f"http://127.0.0.1:{port}/v1/traces")
                deadline = time.monotonic() + 20
                # The SDK exports the child span first, the root a moment later: wait for the whole trace.
                while time.monotonic() < deadline and not (
                    screen.table.row_count and table_text(screen.table)[0][4] == "2"
                ):
                    await pilot.pause(0.1)
                rows = table_text(screen.table)
                assert rows and rows[0][1] == "arriving-api: GET /arrived" and rows[0][4] == "2"
        # leaving stopped the receivers: the port is free again
        import socket

        with socket.create_server(("127.0.0.1", port)):
            pass
    finally:
        source.close()
