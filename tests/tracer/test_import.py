"""``import spanscope.tracer`` stays small: no collectors/analysis/tui, networkx, textual, grpc or SDK."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = (
    "spanscope.collectors",
    "spanscope.analysis",
    "spanscope.tui",
    "networkx",
    "textual",
    "grpc",
    "opentelemetry.sdk",
    "aws_xray_sdk",
    "boto3",
)

SCRIPT = """
import json, sys
import spanscope.tracer
import spanscope.tracer.integrations
print(json.dumps(sorted(sys.modules)))
"""


def test_import_loads_nothing_heavy() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=60)
    loaded = json.loads(out.stdout)
    bad = [m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert bad == []


def test_first_span_sets_up_the_sdk_without_collectors() -> None:
    script = (
        "import sys, json\n"
        "from spanscope.tracer import trace, configure\n"
        "configure(exporters=['memory'])\n"
        "trace(lambda: 1)()\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    loaded = json.loads(out.stdout)
    assert "opentelemetry.sdk.trace" in loaded
    assert not [m for m in loaded if m.startswith(("spanscope.collectors", "networkx", "textual", "grpc"))]
