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


def test_integrations_are_also_reachable_from_the_package() -> None:
    import spanscope.tracer as tracer
    from spanscope.tracer import integrations

    assert tracer.lambda_handler is integrations.lambda_handler
    assert tracer.batch_job is integrations.batch_job
    try:
        tracer.no_such_name  # noqa: B018
    except AttributeError:
        pass
    else:
        raise AssertionError("unknown names must raise AttributeError")
