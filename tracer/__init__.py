"""spanscope tracer: decorators and integrations that emit OpenTelemetry spans (and X-Ray documents).

    from spanscope.tracer import trace, span, annotate, configure

    @trace
    def handler(event): ...

Importing this package loads only the OpenTelemetry API; the SDK is set up on first use or by ``configure``.
"""

from __future__ import annotations

from spanscope.tracer.api import add_metadata, annotate, bind, current_span, span, trace
from spanscope.tracer.health import reset_stats, stats
from spanscope.tracer.propagation import context_from_environ, environ_for_context, extract, inject
from spanscope.tracer.runtime import configure, force_flush, shutdown

__all__ = [
    "add_metadata",
    "annotate",
    "bind",
    "configure",
    "context_from_environ",
    "current_span",
    "environ_for_context",
    "extract",
    "force_flush",
    "inject",
    "reset_stats",
    "shutdown",
    "span",
    "stats",
    "trace",
]
