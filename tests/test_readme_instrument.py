"""The README's "Instrument your code" snippet, run as a program against a real `spanscope collect` process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from spanscope.collectors.store import open_store

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "spanscope.cli.main"]
README_ADDRESS = "http://127.0.0.1:4318"  # what the snippet tells users; the test swaps in the ephemeral port


def readme_snippet() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Instrument your code", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "the README's Instrument your code section has no python block"
    return match.group(1)


def start_collect(db: Path) -> tuple[subprocess.Popen[str], int]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [*CLI, "collect", "--db", str(db), "--otlp-http", "127.0.0.1:0", "--otlp-grpc", "off", "--xray-udp", "off"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"collector exited: {proc.wait()} {proc.stderr.read() if proc.stderr else ''}")
        if line.startswith("listening otlp_http") or line.startswith("listening otlp-http"):
            return proc, int(line.split()[-1].rsplit(":", 1)[1])
    proc.kill()
    raise AssertionError("collector did not print its OTLP/HTTP address")


def test_readme_snippet_sends_its_spans_to_spanscope_collect(tmp_path: Path) -> None:
    snippet = readme_snippet()
    assert README_ADDRESS in snippet and "@trace" in snippet and "@lambda_handler" in snippet
    db = tmp_path / "spans.db"
    proc, port = start_collect(db)
    try:
        app = tmp_path / "app.py"
        app.write_text(snippet.replace(README_ADDRESS, f"http://127.0.0.1:{port}"))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AWS_", "SPANSCOPE_", "_X_AMZN"))}
        env["SPANSCOPE_EXIT_FLUSH_MILLIS"] = "20000"  # generous: the test machine may be loaded
        out = subprocess.run([sys.executable, str(app)], env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "charged 1250" in out.stdout
        assert "export_failed" not in out.stderr, out.stderr
    finally:
        proc.send_signal(signal.SIGTERM)  # the collector flushes what it acknowledged and exits 0
        assert proc.wait(timeout=30) == 0
    listed = subprocess.run([*CLI, "traces", "--db", str(db), "--json"], capture_output=True, text=True, check=True)
    (summary,) = json.loads(listed.stdout)
    search = [
        *CLI,
        "traces",
        "--db",
        str(db),
        "--json",
        "--filter",
        'annotation.order_id = "o-1"',
    ]  # as the comment says
    assert [t["trace_id"] for t in json.loads(subprocess.run(search, capture_output=True, check=True).stdout)] == [
        summary["trace_id"]
    ]
    assert summary["root_service"] == "orders" and summary["span_count"] == 2
    with open_store(db, readonly=True) as store:
        spans = {s.name: s for s in store.get_trace(summary["trace_id"]).spans}
    charge = spans["charge"]
    (root,) = [s for s in spans.values() if s is not charge]
    assert charge.parent_id == root.span_id
    assert root.attributes.get("faas.coldstart") is True
    assert charge.annotations.get("order_id") == "o-1" or charge.attributes.get("order_id") == "o-1"
