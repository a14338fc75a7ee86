"""Settings baked into a function's deployment package (Lambda@Edge has no environment variables).

The demo writes ``spanscope-bundle.json`` into each function's ``LAMBDA_TASK_ROOT`` when it "deploys";
edge functions read their tracing endpoint from it at init, as a real bundle would carry it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

BUNDLE_FILE = "spanscope-bundle.json"


def write_bundle(task_root: Path, settings: dict[str, Any]) -> None:
    task_root.mkdir(parents=True, exist_ok=True)
    (task_root / BUNDLE_FILE).write_text(json.dumps(settings), encoding="utf-8")


def read_bundle() -> dict[str, Any]:
    root = os.environ.get("LAMBDA_TASK_ROOT", ".")
    try:
        data = json.loads((Path(root) / BUNDLE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def edge_exporters() -> list[Any]:
    """The exporter an edge function is bundled with: UDP to an X-Ray daemon (fire and forget, nothing to
    wait for before the invocation returns) or OTLP/HTTP; none when the bundle names neither."""
    bundle = read_bundle()
    if bundle.get("xray_daemon"):
        from spanscope.tracer.xray.exporter import XRayUdpExporter

        return [XRayUdpExporter(address=str(bundle["xray_daemon"]))]
    if bundle.get("otlp_endpoint"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return [OTLPSpanExporter(endpoint=str(bundle["otlp_endpoint"]), timeout=5)]
    return []
