"""`spanscope collect` as a process: port 0, printed addresses, live `spanscope traces`, clean SIGTERM/SIGINT."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from spanscope.collectors.collector import Collector, CollectorConfig, parse_address

from tests.builders import make_span, post_otlp, trace_id_for

CLI = [sys.executable, "-m", "spanscope.cli.main"]


def start_collect(db: Path, *extra: str) -> tuple[subprocess.Popen, dict[str, tuple[str, int]]]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("SPANSCOPE_TOKEN", None)
    proc = subprocess.Popen(
        [
            *CLI,
            "collect",
            "--db",
            str(db),
            "--xray-udp",
            "127.0.0.1:0",
            "--otlp-http",
            "127.0.0.1:0",
            "--otlp-grpc",
            "127.0.0.1:0",
            "--log-interval",
            "0.2",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    addresses: dict[str, tuple[str, int]] = {}
    deadline = time.monotonic() + 30
    assert proc.stdout is not None
    while len(addresses) < 3:
        assert time.monotonic() < deadline, "collector did not print its addresses"
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"collector exited: {proc.wait()} {proc.stderr.read() if proc.stderr else ''}")
        if line.startswith("listening "):
            _, name, address = line.split()
            host, port = address.rsplit(":", 1)
            addresses[name] = (host, int(port))
    return proc, addresses


def stop(proc: subprocess.Popen, sig: int) -> tuple[int, str, str]:
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out, err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_collect_receives_from_every_receiver_and_exits_zero_on_signal(tmp_path: Path, sig: int) -> None:
    db = tmp_path / "spans.db"
    proc, addresses = start_collect(db)
    try:
        assert set(addresses) == {"xray-udp", "otlp-http", "otlp-grpc"}
        assert all(port > 0 for _, port in addresses.values())
        spans = [make_span("root", None, 0, 5, trace="cli", service="web"), make_span("db", "root", 1, 2, trace="cli")]
        assert post_otlp(addresses["otlp-http"], spans).status_code == 200
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        doc = {
            "name": "edge",
            "id": "70de5b6f19ff9a0a",
            "trace_id": "1-5759e988-bd862e3fe1be46a994272793",
            "start_time": 1465300000.0,
            "end_time": 1465300000.5,
        }
        udp.sendto(b'{"format":"json","version":1}\n' + json.dumps(doc).encode(), addresses["xray-udp"])
        udp.close()
        # `spanscope traces` sees them while the collector runs.
        deadline = time.monotonic() + 15
        while True:
            listed = subprocess.run([*CLI, "traces", "--db", str(db), "--json"], capture_output=True, text=True)
            ids = {t["trace_id"] for t in json.loads(listed.stdout or "[]")} if listed.returncode == 0 else set()
            if {trace_id_for("cli"), "5759e988bd862e3fe1be46a994272793"} <= ids:
                break
            assert time.monotonic() < deadline, (listed.stdout, listed.stderr)
            time.sleep(0.1)
        time.sleep(0.3)  # let one periodic status line be written
    finally:
        code, out, err = stop(proc, sig)
    assert code == 0, err
    assert "stopped: 3 spans stored" in out
    assert "collector: stored" in err  # the periodic one-line status


def test_bad_address_is_a_one_line_usage_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CLI, "collect", "--db", str(tmp_path / "s.db"), "--otlp-http", "nonsense"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("spanscope collect: bad address")


def test_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", 0))
    try:
        port = holder.getsockname()[1]
        result = subprocess.run(
            [
                *CLI,
                "collect",
                "--db",
                str(tmp_path / "s.db"),
                "--xray-udp",
                f"127.0.0.1:{port}",
                "--otlp-http",
                "off",
                "--otlp-grpc",
                "off",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        holder.close()
    assert result.returncode != 0
    assert "cannot bind" in result.stderr


def test_parse_address_forms() -> None:
    assert parse_address("127.0.0.1:0") == ("127.0.0.1", 0)
    assert parse_address("[::1]:2000") == ("::1", 2000)
    assert parse_address("off") is None
    with pytest.raises(ValueError):
        parse_address("host:99999")


def test_non_loopback_without_token_warns() -> None:
    collector = Collector(CollectorConfig())
    collector.addresses = {
        "otlp_http": ("0.0.0.0", 4318),
        "otlp_grpc": ("127.0.0.1", 4317),
        "xray_udp": ("10.0.0.5", 2000),
    }
    collector._check_exposure()
    assert any("otlp_http" in w and "--auth-token" in w for w in collector.warnings)
    assert any("X-Ray UDP" in w for w in collector.warnings)
    assert not any("otlp_grpc" in w for w in collector.warnings)
    guarded = Collector(CollectorConfig(auth_token="t"))
    guarded.addresses = {"otlp_http": ("0.0.0.0", 4318)}
    guarded._check_exposure()
    assert guarded.warnings == []


def test_options_become_the_collector_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from spanscope.cli.cmd_collect import _config
    from spanscope.cli.common import UsageError
    from spanscope.cli.main import build_parser

    monkeypatch.setenv("SPANSCOPE_TOKEN", "from-env")
    parser = build_parser()
    args = parser.parse_args(
        [
            "collect",
            "--db",
            str(tmp_path / "s.db"),
            "--otlp-grpc",
            "off",
            "--forward-otlp",
            "http://127.0.0.1:1",
            "--forward-otlp-header",
            "Authorization=Bearer t",
            "--forward-xray",
        ]
    )
    config = _config(args)
    assert config.otlp_grpc is None and config.xray_udp == ("127.0.0.1", 2000)
    assert config.auth_token == "from-env"
    assert config.forward_otlp_headers == {"Authorization": "Bearer t"}
    assert config.forward_xray
    explicit = _config(parser.parse_args(["collect", "--auth-token", "cli"]))
    assert explicit.auth_token == "cli"
    with pytest.raises(UsageError):
        _config(parser.parse_args(["collect", "--forward-otlp-header", "novalue"]))
    with pytest.raises(UsageError):
        _config(parser.parse_args(["collect", "--xray-udp", "off", "--otlp-http", "off", "--otlp-grpc", "off"]))
