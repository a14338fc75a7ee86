"""Repeated log messages are written once per interval with a count (issue 15: 157,000 lines in two minutes)."""

from __future__ import annotations

import doctest
import io
import logging
import socket
from pathlib import Path

import pytest
from spanscope.collectors.collector import BackgroundCollector, CollectorConfig
from spanscope.collectors.receivers import auth, log_limit


@pytest.mark.parametrize("module", [log_limit, auth])
def test_doctests(module: object) -> None:
    assert doctest.testmod(module).failed == 0  # type: ignore[arg-type]


def test_a_flood_of_broken_requests_logs_a_bounded_number_of_lines(tmp_path: Path) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    repeat = log_limit.RepeatFilter(interval_s=3600.0)  # what log_limit.install gives each handler
    handler.addFilter(repeat)
    try:
        cfg = CollectorConfig(
            db_path=tmp_path / "spans.db", xray_udp=None, otlp_grpc=None, otlp_http=("127.0.0.1", 0), log_interval_s=0
        )
        with BackgroundCollector(cfg) as collector:
            for _ in range(200):  # aiohttp logs "Error handling request" with a traceback for each
                with socket.create_connection(collector.addresses["otlp_http"], timeout=5) as sock:
                    sock.sendall(b"POST /v1/traces HTTP/1.1\r\n\r\n")  # no Host header: a bad request
                    while sock.recv(4096):
                        pass
    finally:
        root.removeHandler(handler)
    lines = [line for line in stream.getvalue().splitlines() if "Error handling request" in line]
    assert len(lines) == 1, len(lines)
    assert repeat.suppressed >= 199
