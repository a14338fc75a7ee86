"""Configuration and the active backend: the OpenTelemetry SDK (default) or the legacy aws-xray-sdk recorder.

The hot path of every decorator is ``RUNTIME.passthrough`` then ``RUNTIME.backend.enter/exit_*``; the SDK
is imported and a provider set up on first use (or by ``configure``), never at ``import spanscope.tracer``.
"""

from __future__ import annotations

import os
import random
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from contextvars import Token
from typing import TYPE_CHECKING, Any, Protocol

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

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.sdk.trace.sampling import Sampler

TRACER_NAME = "spanscope.tracer"
_TRUE = {"1", "true", "yes", "on"}

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


_FAST = _fast_context()
_getrandbits = random.getrandbits

KINDS: Mapping[str, SpanKind] = {
    "internal": SpanKind.INTERNAL,
    "server": SpanKind.SERVER,
    "client": SpanKind.CLIENT,
    "producer": SpanKind.PRODUCER,
    "consumer": SpanKind.CONSUMER,
}


def span_kind(kind: SpanKind | str) -> SpanKind:
    """A SpanKind from a SpanKind or its lower-case name (unknown names count a failure and give INTERNAL)."""
    if isinstance(kind, SpanKind):
        return kind
    found = KINDS.get(str(kind).lower())
    if found is None:
        HEALTH.fail("bad_span_kind", kind)
        return SpanKind.INTERNAL
    return found


def env_disabled(environ: Mapping[str, str] | None = None) -> bool:
    """``SPANSCOPE_DISABLED`` is set to a true value."""
    env = os.environ if environ is None else environ
    return env.get("SPANSCOPE_DISABLED", "").strip().lower() in _TRUE


Handle = Any  # what a backend's enter/open returns and exit_* takes back


class Backend(Protocol):
    """What the decorators need from a tracing backend. No method raises."""

    def enter(self, name: str, kind: SpanKind, attributes: Mapping[str, AttributeValue] | None) -> Handle: ...

    def open(
        self,
        name: str,
        kind: SpanKind,
        attributes: Mapping[str, AttributeValue] | None,
        *,
        links: Sequence[Link] | None = None,
        parent: Context | None = None,
        start_time_ns: int | None = None,
    ) -> Handle: ...

    def exit_ok(self, handle: Handle) -> None: ...

    def exit_error(self, handle: Handle, exc: BaseException) -> None: ...

    def close(self, handle: Handle, exc: BaseException | None) -> None: ...

    def suspend(self, handle: Handle) -> None: ...

    def resume(self, handle: Handle) -> None: ...

    def span_of(self, handle: Handle) -> otel_trace.Span: ...

    def annotate(self, key: str, value: object) -> bool: ...

    def add_metadata(self, key: str, value: object, namespace: str | None) -> int: ...

    def force_flush(self, timeout_millis: int) -> bool: ...

    def shutdown(self) -> None: ...


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
        if _FAST is not None:
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
            var, key = _FAST  # type: ignore[misc]
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
        try:
            if handle.token is not None:
                _detach(handle.token)
                handle.token = None
        except Exception as failure:
            HEALTH.fail("context_detach", failure)
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


def bounded_flush(provider: Any, timeout_millis: int) -> bool:
    """``provider.force_flush`` that returns after ``timeout_millis`` whatever the exporters do.

    The SDK's batch processor exports synchronously in ``force_flush`` and ignores its timeout (an
    unreachable collector holds it for the exporter's whole retry budget), so the flush runs in a
    helper thread that is left to finish in the background when the time is up.
    """
    if timeout_millis <= 0:
        return False
    done = threading.Event()
    outcome: list[bool] = []

    deadline = time.monotonic() + timeout_millis / 1000

    def run() -> None:
        try:
            ok = bool(provider.force_flush(timeout_millis))
            # The SDK's processors hand their queues to the exporters but never call the exporters' own
            # force_flush; exporters that hold spans themselves (the edge spool) need it to forward them.
            for exporter in list(RUNTIME.exporters.get(provider, ())):
                remaining = int((deadline - time.monotonic()) * 1000)
                if remaining <= 0:
                    ok = False
                    break
                ok = bool(exporter.force_flush(remaining)) and ok
            outcome.append(ok)
        except Exception as exc:
            HEALTH.fail("flush_error", exc)
        finally:
            done.set()

    try:
        threading.Thread(target=run, name="spanscope-flush", daemon=True).start()
    except Exception as exc:
        HEALTH.fail("flush_error", exc)
        return False
    if not done.wait(timeout_millis / 1000):
        HEALTH.fail("flush_timeout", f"spans not exported within {timeout_millis} ms")
        return False
    return bool(outcome and outcome[0])


class NoopBackend:
    """Used when set-up failed: everything passes through."""

    def enter(self, name: str, kind: SpanKind, attributes: Mapping[str, AttributeValue] | None) -> Handle:
        return None

    def open(self, name: str, kind: SpanKind, attributes: Mapping[str, AttributeValue] | None, **_: Any) -> Handle:
        return None

    def exit_ok(self, handle: Handle) -> None:
        return None

    def exit_error(self, handle: Handle, exc: BaseException) -> None:
        return None

    def close(self, handle: Handle, exc: BaseException | None) -> None:
        return None

    def suspend(self, handle: Handle) -> None:
        return None

    def resume(self, handle: Handle) -> None:
        return None

    def span_of(self, handle: Handle) -> otel_trace.Span:
        return otel_trace.INVALID_SPAN

    def annotate(self, key: str, value: object) -> bool:
        return False

    def add_metadata(self, key: str, value: object, namespace: str | None) -> int:
        return 0

    def force_flush(self, timeout_millis: int) -> bool:
        return True

    def shutdown(self) -> None:
        return None


class Runtime:
    """The one place that knows how the tracer is configured. ``backend`` is None until first use."""

    def __init__(self) -> None:
        self.passthrough = env_disabled()
        self.backend: Any = None
        self.lock = threading.RLock()
        self.own_providers: weakref.WeakSet[Any] = weakref.WeakSet()
        self.exporters: weakref.WeakKeyDictionary[Any, list[Any]] = weakref.WeakKeyDictionary()
        self.memory_exporter: Any = None
        self.default_flush_millis = 2000

    def ensure(self) -> Any:
        """The backend, configured from the environment on first use. Never raises."""
        backend = self.backend
        if backend is not None:
            return backend
        with self.lock:
            if self.backend is None:
                try:
                    from spanscope.tracer.setup import configure

                    configure()
                except Exception as exc:
                    HEALTH.fail("configure_error", exc)
                if self.backend is None:
                    self.backend = NoopBackend()
            return self.backend


RUNTIME = Runtime()


def configure(
    *,
    service: str | None = None,
    exporters: Sequence[str | SpanExporter] | None = None,
    sampling: float | str | Sampler | None = None,
    backend: str = "otel",
    tracer_provider: TracerProvider | None = None,
    resource_attributes: Mapping[str, str | int | float | bool] | None = None,
    location: str | None = None,
    disabled: bool | None = None,
    processor: str = "auto",
    flush_timeout_millis: int | None = None,
    endpoint: str | None = None,
    protocol: str | None = None,
) -> None:
    """Set the tracer up (see ``spanscope.tracer.setup.configure``). Never raises.

    ``endpoint`` (e.g. ``"http://127.0.0.1:4318"``) and ``protocol`` (``"http/protobuf"`` or ``"grpc"``)
    say where OTLP spans go; by default the OTEL_EXPORTER_OTLP_* variables decide.
    """
    try:
        from spanscope.tracer.setup import configure as _configure

        _configure(
            service=service,
            exporters=exporters,
            sampling=sampling,
            backend=backend,
            tracer_provider=tracer_provider,
            resource_attributes=resource_attributes,
            location=location,
            disabled=disabled,
            processor=processor,
            flush_timeout_millis=flush_timeout_millis,
            endpoint=endpoint,
            protocol=protocol,
        )
    except Exception as exc:
        HEALTH.fail("configure_error", exc)


def force_flush(timeout_millis: int | None = None) -> bool:
    """Export what is buffered, waiting at most ``timeout_millis`` (default 2 s). Never raises."""
    backend = RUNTIME.backend
    if backend is None:
        return True
    return bool(backend.force_flush(RUNTIME.default_flush_millis if timeout_millis is None else timeout_millis))


def shutdown() -> None:
    """Flush and stop the tracer's own provider (an application's provider is left to the application).

    Afterwards spans are no-ops until ``configure`` is called again (no silent re-set-up from env vars).
    """
    with RUNTIME.lock:
        backend = RUNTIME.backend
        RUNTIME.backend = NoopBackend()
    if backend is not None:
        try:
            provider = getattr(backend, "provider", None)
            if provider is not None and provider in RUNTIME.own_providers:
                from spanscope.tracer.setup import close_provider

                close_provider(provider, RUNTIME.default_flush_millis)
            elif provider is None:
                backend.shutdown()
            else:
                backend.force_flush(RUNTIME.default_flush_millis)
        except Exception as exc:
            HEALTH.fail("shutdown_error", exc)
