"""The public tracing API: ``@trace``, ``span()``, ``annotate``, ``add_metadata``, ``bind``.

``@trace`` works bare or with arguments, on sync and async functions, generators and async generators.
The decorated function's return value is returned as is and its exception re-raised unchanged (same
object, same traceback); a failure inside the tracer is counted (``stats()``) and never raised.

>>> @trace
... def add(a, b):
...     return a + b
>>> add(1, 2)
3
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Generator, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar, cast, overload

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanKind
from spanscope.tracer.annotations import AttributeValue, sanitize_attributes
from spanscope.tracer.health import HEALTH
from spanscope.tracer.lifecycle import ensure_backend
from spanscope.tracer.propagation import current_span as _current_span
from spanscope.tracer.runtime import RUNTIME, env_disabled, span_kind

F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")


@overload
def trace(func: F, /) -> F: ...


@overload
def trace(
    span_name: str | None = None,
    /,
    *,
    name: str | None = None,
    kind: SpanKind | str = SpanKind.INTERNAL,
    attributes: Mapping[str, object] | None = None,
) -> Callable[[F], F]: ...


def trace(
    func_or_name: Any = None,
    /,
    *,
    name: str | None = None,
    kind: SpanKind | str = SpanKind.INTERNAL,
    attributes: Mapping[str, object] | None = None,
) -> Any:
    """Trace every call of a function as one span named after it (or ``name``).

    Usable bare (``@trace``), with a name (``@trace("charge")`` or ``@trace(name="charge")``) or with
    keywords (``@trace(kind="client", attributes={"peer.service": "stripe"})``).
    """
    if isinstance(func_or_name, staticmethod | classmethod) or (
        callable(func_or_name) and not isinstance(func_or_name, str)
    ):
        return _decorate(func_or_name, None, SpanKind.INTERNAL, None)
    if isinstance(func_or_name, str):
        name = func_or_name

    def decorator(func: F) -> F:
        return cast(F, _decorate(func, name, kind, attributes))

    return decorator


def _decorate(func: Any, name: str | None, kind: SpanKind | str, attributes: Mapping[str, object] | None) -> Any:
    if env_disabled():
        return func
    if isinstance(func, staticmethod | classmethod):  # @trace above @staticmethod / @classmethod
        return type(func)(_decorate(func.__func__, name, kind, attributes))
    try:
        span_name = name or getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or "function"
        clean, dropped = sanitize_attributes(attributes)
        if dropped:
            HEALTH.fail("attribute_invalid", f"{dropped} attributes of {span_name!r} dropped")
        attrs = clean or None
        otel_kind = span_kind(kind)
        if inspect.isasyncgenfunction(func):
            return _async_generator_wrapper(func, span_name, otel_kind, attrs)
        if inspect.isgeneratorfunction(func):
            return _generator_wrapper(func, span_name, otel_kind, attrs)
        if inspect.iscoroutinefunction(func):
            return _async_wrapper(func, span_name, otel_kind, attrs)
        return _sync_wrapper(func, span_name, otel_kind, attrs)
    except Exception as exc:
        HEALTH.fail("decorate_error", exc)
        return func


def _sync_wrapper(
    func: Callable[..., Any], name: str, kind: SpanKind, attrs: Mapping[str, AttributeValue] | None
) -> Callable[..., Any]:
    runtime = RUNTIME

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if runtime.passthrough:
            return func(*args, **kwargs)
        backend = runtime.backend or ensure_backend()
        handle = backend.enter(name, kind, attrs)
        if handle is None:
            return func(*args, **kwargs)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            backend.exit_error(handle, exc)
            raise
        backend.exit_ok(handle)
        return result

    return wrapper


def _async_wrapper(
    func: Callable[..., Any], name: str, kind: SpanKind, attrs: Mapping[str, AttributeValue] | None
) -> Callable[..., Any]:
    runtime = RUNTIME

    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        if runtime.passthrough:
            return await func(*args, **kwargs)
        backend = runtime.backend or ensure_backend()
        handle = backend.enter(name, kind, attrs)
        if handle is None:
            return await func(*args, **kwargs)
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            backend.exit_error(handle, exc)
            raise
        backend.exit_ok(handle)
        return result

    return wrapper


def _generator_wrapper(
    func: Callable[..., Generator[Any, Any, Any]],
    name: str,
    kind: SpanKind,
    attrs: Mapping[str, AttributeValue] | None,
) -> Callable[..., Generator[Any, Any, Any]]:
    """The span lasts from the first ``next`` to exhaustion/close; its context is active only while the
    generator's own code runs, never in the consumer between items."""
    runtime = RUNTIME

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        if runtime.passthrough:
            return (yield from func(*args, **kwargs))
        gen = func(*args, **kwargs)
        backend = runtime.backend or ensure_backend()
        handle = backend.open(name, kind, attrs)
        if handle is None:
            return (yield from gen)
        to_send: Any = None
        to_throw: BaseException | None = None
        try:
            while True:
                backend.resume(handle)
                try:
                    if to_throw is not None:
                        exc, to_throw = to_throw, None
                        item = gen.throw(exc)
                    else:
                        item = gen.send(to_send)
                finally:
                    backend.suspend(handle)
                try:
                    to_send = yield item
                except GeneratorExit:
                    gen.close()
                    raise
                except BaseException as thrown:
                    to_throw = thrown
        except StopIteration as stop:
            backend.close(handle, None)
            return stop.value
        except BaseException as exc:
            backend.close(handle, exc)
            raise

    return wrapper


def _async_generator_wrapper(
    func: Callable[..., AsyncGenerator[Any, Any]],
    name: str,
    kind: SpanKind,
    attrs: Mapping[str, AttributeValue] | None,
) -> Callable[..., AsyncGenerator[Any, Any]]:
    runtime = RUNTIME

    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        agen = func(*args, **kwargs)
        backend = runtime.backend or ensure_backend()
        handle = None if runtime.passthrough else backend.open(name, kind, attrs)
        to_send: Any = None
        to_throw: BaseException | None = None
        try:
            while True:
                if handle is not None:
                    backend.resume(handle)
                try:
                    if to_throw is not None:
                        exc, to_throw = to_throw, None
                        item = await agen.athrow(exc)
                    else:
                        item = await agen.asend(to_send)
                finally:
                    if handle is not None:
                        backend.suspend(handle)
                try:
                    to_send = yield item
                except GeneratorExit:
                    await agen.aclose()
                    raise
                except BaseException as thrown:
                    to_throw = thrown
        except StopAsyncIteration:
            if handle is not None:
                backend.close(handle, None)
            return
        except BaseException as exc:
            if handle is not None:
                backend.close(handle, exc)
            raise

    return wrapper


class SpanScope:
    """``with span("name") as s:`` (also ``async with``): ``s`` is the OpenTelemetry span (a non-recording
    span when tracing is off or unsampled). The body's exception is recorded and propagates unchanged."""

    __slots__ = ("_attributes", "_backend", "_handle", "_kind", "_links", "_name", "_parent", "_start_time_ns")

    def __init__(
        self,
        name: str,
        kind: SpanKind | str = SpanKind.INTERNAL,
        attributes: Mapping[str, object] | None = None,
        links: Sequence[Link] | None = None,
        parent: Context | None = None,
        start_time_ns: int | None = None,
    ) -> None:
        self._name = name
        self._kind = kind
        self._attributes = attributes
        self._links = links
        self._parent = parent
        self._start_time_ns = start_time_ns
        self._handle: Any = None
        self._backend: Any = None

    def __enter__(self) -> otel_trace.Span:
        if RUNTIME.passthrough:
            return otel_trace.INVALID_SPAN
        try:
            clean, dropped = sanitize_attributes(self._attributes)
            if dropped:
                HEALTH.fail("attribute_invalid", f"{dropped} attributes of {self._name!r} dropped")
            self._backend = RUNTIME.backend or ensure_backend()
            self._handle = self._backend.open(
                str(self._name),
                span_kind(self._kind),
                clean or None,
                links=self._links,
                parent=self._parent,
                start_time_ns=self._start_time_ns,
            )
            if self._handle is None:
                return otel_trace.INVALID_SPAN
            span: otel_trace.Span = self._backend.span_of(self._handle)
            return span
        except Exception as exc:
            HEALTH.fail("span_start", exc)
            self._handle = None
            return otel_trace.INVALID_SPAN

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._handle is not None:
            handle, self._handle = self._handle, None
            try:
                self._backend.close(handle, exc)
            except Exception as failure:
                HEALTH.fail("span_end", failure)

    async def __aenter__(self) -> otel_trace.Span:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


def span(
    name: str,
    *,
    kind: SpanKind | str = SpanKind.INTERNAL,
    attributes: Mapping[str, object] | None = None,
    links: Sequence[Link] | None = None,
    parent: Context | None = None,
    start_time_ns: int | None = None,
) -> SpanScope:
    """A span around a block: ``with span("load", attributes={"table": "orders"}) as s: ...``.

    ``parent`` continues an extracted context (see ``spanscope.tracer.propagation.extract``) instead of
    the current one; ``links`` records causes that are not the parent (e.g. an SQS producer).
    """
    return SpanScope(name, kind, attributes, links, parent, start_time_ns)


def annotate(key: str, value: str | int | float | bool) -> bool:
    """Add an indexed X-Ray annotation to the current span; False (counted, logged once) when it breaks
    X-Ray's rules (key: alphanumerics/underscore, ≤500 chars; value: str/number/bool; ≤50 per trace)."""
    if RUNTIME.passthrough:
        return False
    try:
        backend = RUNTIME.backend or ensure_backend()
        return bool(backend.annotate(key, value))
    except Exception as exc:
        HEALTH.fail("annotation_error", exc)
        return False


def add_metadata(key: str, value: object, namespace: str | None = None) -> int:
    """Attach (non-indexed) metadata to the current span as flattened attributes; returns how many were set."""
    if RUNTIME.passthrough:
        return 0
    try:
        backend = RUNTIME.backend or ensure_backend()
        return int(backend.add_metadata(key, value, namespace))
    except Exception as exc:
        HEALTH.fail("metadata_error", exc)
        return 0


def current_span() -> otel_trace.Span:
    """The span current in this context (non-recording when none; in legacy mode the recorder's entity)."""
    return _current_span()


def bind(func: Callable[..., R]) -> Callable[..., R]:
    """``func`` bound to the current trace context, for threads, pools and ``run_in_executor``:

    ``pool.submit(bind(work), item)`` makes spans in ``work`` children of the span current at ``bind``.
    """
    context = otel_context.get_current()

    @functools.wraps(func)
    def bound(*args: Any, **kwargs: Any) -> R:
        try:
            token: object = otel_context.attach(context)
        except Exception as exc:
            HEALTH.fail("context_attach", exc)
            return func(*args, **kwargs)
        try:
            return func(*args, **kwargs)
        finally:
            try:
                otel_context.detach(token)  # type: ignore[arg-type]
            except Exception as exc:
                HEALTH.fail("context_detach", exc)

    return bound
