"""spanscope tracer: decorators and integrations that emit OpenTelemetry spans (and X-Ray documents).

    from spanscope.tracer import trace, span, annotate, configure

    @trace
    def handler(event): ...

Importing this package loads only the OpenTelemetry API; the SDK is set up on first use or by ``configure``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spanscope.tracer.api import add_metadata, annotate, bind, current_span, span, trace
from spanscope.tracer.health import reset_stats, stats
from spanscope.tracer.lifecycle import configure, force_flush, shutdown
from spanscope.tracer.propagation import context_from_environ, environ_for_context, extract, inject

if TYPE_CHECKING:
    from spanscope.tracer.integrations import (
        RankTracer,
        batch_job,
        edge_handler,
        lambda_handler,
        process_sqs_batch,
        run_mapreduce,
        send_sqs_message,
        sqs_records,
        start_execution,
        streaming_task,
        submit_batch_job,
    )
    from spanscope.tracer.threads import ContextThreadPoolExecutor

_INTEGRATIONS = {
    "RankTracer",
    "batch_job",
    "edge_handler",
    "lambda_handler",
    "process_sqs_batch",
    "run_mapreduce",
    "send_sqs_message",
    "sqs_records",
    "start_execution",
    "streaming_task",
    "submit_batch_job",
}


def __getattr__(name: str) -> Any:
    """The integrations and the context-carrying executor, importable from here, loaded on first use (PEP 562)."""
    if name in _INTEGRATIONS:
        from spanscope.tracer import integrations

        return getattr(integrations, name)
    if name == "ContextThreadPoolExecutor":
        from spanscope.tracer.threads import ContextThreadPoolExecutor

        return ContextThreadPoolExecutor
    raise AttributeError(f"module 'spanscope.tracer' has no attribute {name!r}")


__all__ = [
    "ContextThreadPoolExecutor",
    "RankTracer",
    "add_metadata",
    "annotate",
    "batch_job",
    "bind",
    "configure",
    "context_from_environ",
    "current_span",
    "edge_handler",
    "environ_for_context",
    "extract",
    "force_flush",
    "inject",
    "lambda_handler",
    "process_sqs_batch",
    "reset_stats",
    "run_mapreduce",
    "send_sqs_message",
    "shutdown",
    "span",
    "sqs_records",
    "start_execution",
    "stats",
    "streaming_task",
    "submit_batch_job",
    "trace",
]
