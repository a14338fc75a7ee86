"""The backend over an OpenTelemetry SDK tracer: spans started, put in the context, ended and annotated, never raising.

``OtelBackend`` serves the decorators' hot path (``enter``/``exit_*``, reading and setting the context's
ContextVar directly when the default runtime context is in use) and the general path of context managers,
generators and integrations (``open``/``close``). ``LeanBackend`` (:mod:`spanscope.tracer.lean`) builds on it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from contextvars import Token
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from spanscope.tracer import conventions as c
from spanscope.tracer.annotations import (
    MAX_ANNOTATIONS_PER_TRACE,
    AnnotationBudget,
    AttributeValue,
    annotation_problem,
    annotation_value,
    flatten_metadata,
)
from spanscope.tracer.health import HEALTH
from spanscope.tracer.propagation import FORCED_TRACE_ID, decide_deferred, deferred_decision, forced_root
from spanscope.tracer.runtime import Handle, bounded_flush

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

TRACER_NAME = "spanscope.tracer"

_get_current_span = otel_trace.get_current_span
_set_span_in_context = otel_trace.set_span_in_context
_attach = otel_context.attach
_detach = otel_context.detach


def _fast_context() -> tuple[Any, str] | None:
    """The OpenTelemetry context's ContextVar and span key, when the default contextvars runtime context
    is in use (then the hot path reads and sets it directly); None means use the public API."""
    try:
        from opentelemetry.context import _RUNTIME_CONTEXT
        from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
        from opentelemetry.trace.propagation import _SPAN_KEY

        if type(_RUNTIME_CONTEXT) is ContextVarsRuntimeContext:
            return _RUNTIME_CONTEXT._current_context, _SPAN_KEY
    except Exception:
        pass
    return None


FAST_CONTEXT = _fast_context()
_getrandbits = random.getrandbits


def record_failure(span: otel_trace.Span, exc: BaseException) -> None:
    """Record ``exc`` on ``span``: an Exception is an error; KeyboardInterrupt/SystemExit are noted, not errors."""
    try:
        if isinstance(exc, Exception):
            span.record_exception(exc, escaped=True)
            try:
                description = f"{type(exc).__name__}: {exc}"
            except Exception:
                description = type(exc).__name__
            span.set_status(Status(StatusCode.ERROR, description[:1024]))
        elif not isinstance(exc, GeneratorExit):
            span.set_attribute("spanscope.exit", type(exc).__name__)
    except Exception as failure:
        HEALTH.fail("record_exception", failure)


class UnsampledRoot(otel_trace.NonRecordingSpan):
    """The current span of a trace whose root was not sampled. Its X-Ray-style ids (epoch seconds, then
    random bits whose low 64 decided the sampling) are built on first ``get_span_context``."""

    _lazy: otel_trace.SpanContext | None = None

    def __init__(self, low: int) -> None:  # no super().__init__: the context is made on demand
        self._low = low

    def get_span_context(self) -> otel_trace.SpanContext:
        if self._lazy is None:
            span_id = random.getrandbits(64) or 1
            trace_id = (int(time.time()) << 96) | (random.getrandbits(32) << 64) | self._low
            self._lazy = otel_trace.SpanContext(trace_id, span_id, is_remote=False)
        return self._lazy

    def __repr__(self) -> str:
        return f"UnsampledRoot({self.get_span_context()!r})"


class _OtelHandle:
    __slots__ = ("ended", "span", "token")

    def __init__(self, span: otel_trace.Span, token: Token[Context] | None) -> None:
        self.span = span
        self.token = token
        self.ended = False


class OtelBackend:
    """Spans from an OpenTelemetry SDK tracer."""

    def __init__(
        self, provider: TracerProvider, *, skip_unsampled_children: bool, unsampled_root_bound: int | None = None
    ) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer(TRACER_NAME)
        self.skip_unsampled_children = skip_unsampled_children
        # Set when roots are sampled by trace-id ratio with our id generator: the decorator decides a root
        # itself (same rule as TraceIdRatioBased) and an unsampled root costs no SDK span at all.
        self.unsampled_root_bound = unsampled_root_bound
        self.id_generator = provider.id_generator
        self.budget = AnnotationBudget()

    # --- hot path (decorators) ----------------------------------------------------------------------
    def enter(self, name: str, kind: SpanKind, attributes: Mapping[str, AttributeValue] | None) -> Handle:
        if FAST_CONTEXT is not None:
            return self._enter_fast(name, kind, attributes)
        try:
            if self.skip_unsampled_children:
                parent = _get_current_span().get_span_context()
                if parent.is_valid and not parent.trace_flags.sampled:
                    return None
            span = self.tracer.start_span(name, kind=kind, attributes=attributes)
            return (span, _attach(_set_span_in_context(span)))
        except Exception as exc:
            HEALTH.fail("span_start", exc)
            return None

    def _enter_fast(self, name: str, kind: SpanKind, attributes: Mapping[str, AttributeValue] | None) -> Handle:
        """``enter`` reading and setting the context's ContextVar directly (same semantics, fewer calls)."""
        try:
            var, key = FAST_CONTEXT  # type: ignore[misc]
            context = var.get()
            parent = context.get(key)
            if parent is not None:
                if type(parent) is UnsampledRoot:
                    return None
                if self.skip_unsampled_children:
                    parent_context = parent.get_span_context()
                    if parent_context.span_id and not parent_context.trace_flags & 1:
                        return None
            elif self.unsampled_root_bound is not None:
                return self._enter_root(name, kind, attributes, var, key, context)
            span = self.tracer.start_span(name, context, kind, attributes)
            values = context.copy()
            values[key] = span
            return (span, var.set(Context(values)), var)
        except Exception as exc:
            HEALTH.fail("span_start", exc)
            return None

    def _enter_root(
        self,
        name: str,
        kind: SpanKind,
        attributes: Mapping[str, AttributeValue] | None,
        var: Any,
        key: str,
        context: Context,
    ) -> Handle:
        """A root under a trace-id ratio sampler, decided here by TraceIdRatioBased's rule (the low 64 bits
        of the trace id against the bound). An unsampled root is a lazy non-recording span: its ids are
        made only if something asks for them (propagation), and its children are skipped on sight."""
        low = _getrandbits(64)
        if low >= self.unsampled_root_bound:  # type: ignore[operator]
            span: otel_trace.Span = UnsampledRoot(low)
        else:
            trace_id = (int(time.time()) << 96) | (_getrandbits(32) << 64) | low
            reset = FORCED_TRACE_ID.set(trace_id)  # the SDK span gets the trace id that was sampled
            try:
                span = self.tracer.start_span(name, context, kind, attributes)
            finally:
                FORCED_TRACE_ID.reset(reset)
        values = context.copy()
        values[key] = span
        return (span, var.set(Context(values)), var)

    def exit_ok(self, handle: Handle) -> None:
        try:
            if len(handle) == 3:
                span, token, var = handle
                try:
                    var.reset(token)
                except ValueError as exc:  # reset in another context: what otel's detach logs
                    HEALTH.fail("context_detach", exc)
            else:
                span, token = handle
                _detach(token)
            span.end()
        except Exception as exc:
            HEALTH.fail("span_end", exc)

    def exit_error(self, handle: Handle, exc: BaseException) -> None:
        try:
            record_failure(handle[0], exc)
        except Exception as failure:
            HEALTH.fail("record_exception", failure)
        self.exit_ok(handle)

    # --- general path (context managers, generators, integrations) ------------------------------------
    def open(
        self,
        name: str,
        kind: SpanKind,
        attributes: Mapping[str, AttributeValue] | None,
        *,
        links: Sequence[Link] | None = None,
        parent: Context | None = None,
        start_time_ns: int | None = None,
    ) -> Handle:
        try:
            context = parent if parent is not None else otel_context.get_current()
            if deferred_decision(context):
                context = decide_deferred(context, self._root_samples(context, name, kind))
            if self.skip_unsampled_children:
                parent_context = _get_current_span(context).get_span_context()
                if parent_context.is_valid and not parent_context.trace_flags.sampled:
                    return None
            forced = forced_root(context)
            reset = FORCED_TRACE_ID.set(forced) if forced else None
            try:
                span = self.tracer.start_span(
                    name, context=context, kind=kind, attributes=attributes, links=links, start_time=start_time_ns
                )
            finally:
                if reset is not None:
                    FORCED_TRACE_ID.reset(reset)
            return _OtelHandle(span, _attach(_set_span_in_context(span, context)))
        except Exception as exc:
            HEALTH.fail("span_start", exc)
            return None

    def _root_samples(self, context: Context, name: str, kind: SpanKind) -> bool:
        """The decision the sampler would make for a root of this trace (for ``Sampled=?`` parents)."""
        sampler = self.provider.sampler
        root = getattr(sampler, "_root", sampler)  # a ParentBased sampler's root delegate
        trace_id = _get_current_span(context).get_span_context().trace_id
        return bool(root.should_sample(None, trace_id, name, kind).decision.is_sampled())

    def close(self, handle: _OtelHandle, exc: BaseException | None) -> None:
        if handle.ended:
            return
        handle.ended = True
        if exc is not None:
            record_failure(handle.span, exc)
        self.suspend(handle)  # leave the context
        try:
            handle.span.end()
        except Exception as failure:
            HEALTH.fail("span_end", failure)

    def suspend(self, handle: _OtelHandle) -> None:
        try:
            if handle.token is not None:
                _detach(handle.token)
                handle.token = None
        except Exception as exc:
            HEALTH.fail("context_detach", exc)

    def resume(self, handle: _OtelHandle) -> None:
        try:
            if handle.token is None and not handle.ended:
                handle.token = _attach(_set_span_in_context(handle.span))
        except Exception as exc:
            HEALTH.fail("context_attach", exc)

    def span_of(self, handle: Handle) -> otel_trace.Span:
        if isinstance(handle, _OtelHandle):
            return handle.span
        if isinstance(handle, tuple):
            span: otel_trace.Span = handle[0]
            return span
        return otel_trace.INVALID_SPAN

    # --- annotations and metadata --------------------------------------------------------------------
    def annotate(self, key: str, value: object) -> bool:
        try:
            span = _get_current_span()
            if not span.is_recording():
                return False
            problem = annotation_problem(key, value)
            if problem is not None:
                HEALTH.fail("annotation_invalid", f"{key!r}: {problem}")
                return False
            if not self.budget.admit(span.get_span_context().trace_id, key):
                HEALTH.fail("annotation_limit", f"more than {MAX_ANNOTATIONS_PER_TRACE} annotations in a trace")
                return False
            span.set_attribute(key, annotation_value(value))  # type: ignore[arg-type]
            existing = getattr(span, "attributes", None) or {}
            keys = list(existing.get(c.XRAY_ANNOTATIONS_KEY) or ())
            if key not in keys:
                keys.append(key)
                span.set_attribute(c.XRAY_ANNOTATIONS_KEY, keys)
            return True
        except Exception as exc:
            HEALTH.fail("annotation_error", exc)
            return False

    def add_metadata(self, key: str, value: object, namespace: str | None) -> int:
        try:
            span = _get_current_span()
            if not span.is_recording():
                return 0
            if not isinstance(key, str) or not key:
                HEALTH.fail("metadata_invalid", key)
                return 0
            prefix = f"{namespace}.{key}" if namespace and namespace != "default" else key
            flat = flatten_metadata(prefix, value)
            span.set_attributes(flat)
            return len(flat)
        except Exception as exc:
            HEALTH.fail("metadata_error", exc)
            return 0

    def force_flush(self, timeout_millis: int) -> bool:
        return bounded_flush(self.provider, timeout_millis)

    def shutdown(self) -> None:
        try:
            self.provider.shutdown()
        except Exception as exc:
            HEALTH.fail("shutdown_error", exc)
