"""The tracer's state and the backend contract: configuration flags, the active backend, flushing and shutting down.

The hot path of every decorator is ``RUNTIME.passthrough`` then ``RUNTIME.backend.enter/exit_*``. The backend
is set by :mod:`spanscope.tracer.setup` (which imports the SDK), on first use or by ``configure``
(:mod:`spanscope.tracer.lifecycle`), never at ``import spanscope.tracer``; this module imports neither.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry import trace as otel_trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanKind
from spanscope.tracer.annotations import AttributeValue
from spanscope.tracer.health import HEALTH

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

_TRUE = {"1", "true", "yes", "on"}


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


RUNTIME = Runtime()


def close_provider(provider: TracerProvider, flush_timeout_millis: int) -> None:
    """Flush for at most ``flush_timeout_millis``, then stop: exporters are shut first so that an export
    retrying against an unreachable collector gives up at once instead of holding the process."""
    bounded_flush(provider, flush_timeout_millis)
    for exporter in RUNTIME.exporters.pop(provider, []):
        exporter.shutdown()
    try:
        provider.shutdown()
    except Exception as exc:
        HEALTH.fail("shutdown_error", exc)
