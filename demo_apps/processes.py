"""How the demo starts its processes: one multiprocessing context (forkserver, with the heavy imports preloaded).

Every simulated platform part (a Lambda sandbox, a Batch container, an EMR task, the edge device) is its own
process. Forking them from a forkserver that already imported botocore and the OpenTelemetry SDK keeps a
process start in the tens of milliseconds on a small machine, without forking the parent's threads.
"""

from __future__ import annotations

import multiprocessing
import sys
from typing import Any

_PRELOAD = [
    "boto3",
    "botocore.session",
    "opentelemetry.sdk.trace",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "spanscope.tracer",
    "spanscope.tracer.integrations",
    "spanscope.demo_apps.warm",
]


def _reuse_parent_forkserver() -> None:
    """In a process forked by the forkserver, use that same server instead of starting a new one.

    multiprocessing starts one forkserver per process that asks for one (about 1.5 s of imports here);
    a forkserver child already holds the server's address and liveness fd, only not its pid. When those
    are present, starting a server is skipped. On other Python versions nothing is changed.
    """
    from multiprocessing import forkserver, resource_tracker

    server: Any = getattr(forkserver, "_forkserver", None)
    if server is None or getattr(server, "_spanscope_reused", False):
        return
    address = getattr(server, "_forkserver_address", None)
    alive_fd = getattr(server, "_forkserver_alive_fd", None)
    if getattr(server, "_forkserver_pid", 1) is not None or not address or alive_fd is None:
        return

    def ensure_running() -> None:
        resource_tracker.ensure_running()

    server.ensure_running = ensure_running
    server._spanscope_reused = True


def mp_context() -> Any:
    """The context for every demo process (forkserver on Linux, spawn elsewhere)."""
    if sys.platform.startswith("linux"):
        ctx = multiprocessing.get_context("forkserver")
        _reuse_parent_forkserver()
        ctx.set_forkserver_preload(_PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")
