"""The tracer's public lifecycle: set up on first use, ``configure``, ``force_flush``, ``shutdown``. Never raises.

The arrows point one way: :mod:`~spanscope.tracer.setup` (provider, sampler, exporters; it imports the SDK)
writes the state in :mod:`~spanscope.tracer.runtime`; this module calls setup. Setup is imported when first
called, not at ``import spanscope.tracer``, so that importing the tracer loads only the OpenTelemetry API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from spanscope.tracer.health import HEALTH
from spanscope.tracer.runtime import RUNTIME, NoopBackend, close_provider

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.sdk.trace.sampling import Sampler


def ensure_backend() -> Any:
    """The backend, configured from the environment on first use. Never raises."""
    backend = RUNTIME.backend
    if backend is not None:
        return backend
    with RUNTIME.lock:
        if RUNTIME.backend is None:
            try:
                from spanscope.tracer.setup import configure as set_up  # the SDK: loaded on first use

                set_up()
            except Exception as exc:
                HEALTH.fail("configure_error", exc)
            if RUNTIME.backend is None:
                RUNTIME.backend = NoopBackend()
        return RUNTIME.backend


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
        from spanscope.tracer.setup import configure as set_up  # the SDK: loaded when called

        set_up(
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
                close_provider(provider, RUNTIME.default_flush_millis)
            elif provider is None:
                backend.shutdown()
            else:
                backend.force_flush(RUNTIME.default_flush_millis)
        except Exception as exc:
            HEALTH.fail("shutdown_error", exc)
