"""``@batch_job``: an AWS Batch job (or array child) as one span continuing its submitter's trace.

The submitter (``messaging.submit_batch_job``) put the context into ``containerOverrides.environment``;
every array child reads the same context, so children are siblings under the submit span. A SIGTERM
(Spot interruption, job termination) is recorded on the span and the spans are flushed before the
process goes on to die as it would have without the tracer.
"""

from __future__ import annotations

import functools
import os
import signal
import threading
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any, TypeVar, overload

from opentelemetry.trace import SpanKind, Status, StatusCode
from spanscope.tracer import conventions as c
from spanscope.tracer.health import HEALTH
from spanscope.tracer.lifecycle import ensure_backend, force_flush
from spanscope.tracer.propagation import context_from_environ
from spanscope.tracer.runtime import RUNTIME, env_disabled, span_kind

F = TypeVar("F", bound=Callable[..., Any])


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def job_attributes(environ: Mapping[str, str]) -> dict[str, object]:
    """Batch attributes from the variables AWS Batch sets in the container."""
    attrs: dict[str, object] = {c.ORIGIN: c.ORIGIN_BATCH}
    if environ.get("AWS_BATCH_JOB_ID"):
        attrs[c.BATCH_JOB_ID] = environ["AWS_BATCH_JOB_ID"]
    attempt = _int(environ.get("AWS_BATCH_JOB_ATTEMPT"))
    if attempt is not None:
        attrs[c.BATCH_ATTEMPT] = attempt
    index = _int(environ.get("AWS_BATCH_JOB_ARRAY_INDEX"))
    if index is not None:
        attrs[c.BATCH_ARRAY_INDEX] = index
    if environ.get("AWS_BATCH_JQ_NAME"):
        attrs[c.BATCH_QUEUE] = environ["AWS_BATCH_JQ_NAME"]
    if environ.get("AWS_BATCH_CE_NAME"):
        attrs[c.BATCH_COMPUTE_ENV] = environ["AWS_BATCH_CE_NAME"]
    # Multi-node parallel jobs (tightly coupled work): which node this is, of how many.
    node = _int(environ.get("AWS_BATCH_JOB_NODE_INDEX"))
    if node is not None:
        attrs["aws.batch.job.node_index"] = node
        nodes = _int(environ.get("AWS_BATCH_JOB_NUM_NODES"))
        if nodes is not None:
            attrs["aws.batch.job.num_nodes"] = nodes
    return attrs


class _TermGuard:
    """Installs a SIGTERM handler for the job's duration (main thread only) that records, flushes and
    then hands the signal to the previous disposition."""

    def __init__(self, backend: Any, handle: Any, flush_timeout_millis: int) -> None:
        self.backend = backend
        self.handle = handle
        self.flush_timeout_millis = flush_timeout_millis
        self.previous: Any = None
        self.installed = False

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        try:
            self.previous = signal.signal(signal.SIGTERM, self._on_term)
            self.installed = True
        except Exception as exc:
            HEALTH.fail("sigterm_install", exc)

    def uninstall(self) -> None:
        if self.installed:
            self.installed = False
            try:
                if signal.getsignal(signal.SIGTERM) != self._on_term:
                    return  # the job installed its own handler meanwhile: leave it
                signal.signal(signal.SIGTERM, self.previous)
            except Exception as exc:
                HEALTH.fail("sigterm_uninstall", exc)

    def _on_term(self, signum: int, frame: FrameType | None) -> None:
        previous = self.previous
        try:
            s = self.backend.span_of(self.handle)
            s.add_event("SIGTERM", {"signal": "SIGTERM"})
            s.set_attribute(c.BATCH_INTERRUPTED, True)
            if previous is not signal.SIG_IGN:
                s.set_status(Status(StatusCode.ERROR, "interrupted by SIGTERM"))
                self.backend.close(self.handle, None)
            force_flush(self.flush_timeout_millis)
        except Exception as exc:
            HEALTH.fail("sigterm_record", exc)
        if previous is signal.SIG_IGN:
            return
        self.uninstall()
        if callable(previous):
            previous(signum, frame)
            return
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)


@overload
def batch_job(func: F, /) -> F: ...


@overload
def batch_job(
    *, name: str | None = None, kind: SpanKind | str = SpanKind.SERVER, flush_timeout_millis: int = 5000
) -> Callable[[F], F]: ...


def batch_job(
    func: Any = None,
    /,
    *,
    name: str | None = None,
    kind: SpanKind | str = SpanKind.SERVER,
    flush_timeout_millis: int = 5000,
) -> Any:
    """Trace an AWS Batch job's entry function (bare or with arguments)."""

    def decorator(job: F) -> F:
        if env_disabled():
            return job
        span_name = name or getattr(job, "__name__", "batch-job")

        @functools.wraps(job)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if RUNTIME.passthrough:
                return job(*args, **kwargs)
            backend = RUNTIME.backend or ensure_backend()
            try:
                handle = backend.open(
                    span_name,
                    span_kind(kind),
                    job_attributes(os.environ),
                    parent=context_from_environ(),
                )
            except Exception as exc:
                HEALTH.fail("batch_setup", exc)
                handle = None
            if handle is None:
                return job(*args, **kwargs)
            guard = _TermGuard(backend, handle, flush_timeout_millis)
            guard.install()
            try:
                result = job(*args, **kwargs)
            except BaseException as exc:
                guard.uninstall()
                backend.close(handle, exc)
                force_flush(flush_timeout_millis)
                raise
            guard.uninstall()
            backend.close(handle, None)
            force_flush(flush_timeout_millis)
            return result

        return wrapper  # type: ignore[return-value]

    if func is not None:
        return decorator(func)
    return decorator
