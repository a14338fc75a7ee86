"""Setting the tracer up: provider (reused or our own), resource, sampler, exporters from names or env vars."""

from __future__ import annotations

import atexit
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry import trace as otel_trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    StaticSampler,
    TraceIdRatioBased,
)
from spanscope.tracer import conventions as c
from spanscope.tracer.exporters import default_exporter_names, named_exporter
from spanscope.tracer.health import HEALTH, LogText
from spanscope.tracer.ids import XRayIdGenerator
from spanscope.tracer.lean import LeanBackend
from spanscope.tracer.placement import detect_placement, detect_platform
from spanscope.tracer.propagation import FALLBACK_SPAN
from spanscope.tracer.runtime import RUNTIME, NoopBackend, close_provider, env_disabled


class GuardedExporter(SpanExporter):
    """Wraps an exporter so its exceptions and failed exports are counted and logged once, never raised."""

    def __init__(self, inner: SpanExporter, name: str, target: str | None = None) -> None:
        self.inner = inner
        self.name = name
        self.target = target  # where the spans go and what set it, for the first failure's log line
        self.closed = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self.inner.export(spans)
        except Exception as exc:
            HEALTH.fail(f"exporter_error:{self.name}", self._where(f"{type(exc).__name__}: {exc}"))
            return SpanExportResult.FAILURE
        if result is not SpanExportResult.SUCCESS:
            HEALTH.fail(f"export_failed:{self.name}", self._where(f"{len(spans)} spans not exported"))
        return result

    def _where(self, what: str) -> LogText:
        return LogText(f"{what} to {self.target}" if self.target else what)

    def shutdown(self) -> None:
        """Shut the inner exporter down once; this also interrupts an export waiting between retries."""
        if self.closed:
            return
        self.closed = True
        try:
            self.inner.shutdown()
        except Exception as exc:
            HEALTH.fail(f"exporter_shutdown:{self.name}", exc)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        try:
            return bool(self.inner.force_flush(timeout_millis))
        except Exception as exc:
            HEALTH.fail(f"exporter_flush:{self.name}", exc)
            return False


class PlacementProcessor(SpanProcessor):
    """Adds placement attributes to every span (used on an application's provider, whose resource we keep)."""

    def __init__(self, attributes: Mapping[str, str]) -> None:
        self.attributes = dict(attributes)

    def on_start(self, span: SdkSpan, parent_context: Context | None = None) -> None:
        try:
            existing = span.attributes or {}
            span.set_attributes({k: v for k, v in self.attributes.items() if k not in existing})
        except Exception as exc:
            HEALTH.fail("placement_error", exc)

    # on_end and shutdown: the SDK's SpanProcessor does nothing, as wanted.

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class OnceFilter(logging.Filter):
    """Lets each message template of an OpenTelemetry exporter logger through once; later ones are
    counted in ``stats()`` instead (an unreachable collector would otherwise log on every retry)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[tuple[str, object]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.msg)
        if key in self.seen:
            HEALTH.fail(f"exporter_log:{record.name.rsplit('.', 1)[-1]}")
            return False
        self.seen.add(key)
        return True


EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.sdk._shared_internal",
)
_ONCE = OnceFilter()


def quiet_exporter_logs() -> None:
    """Install the once-per-message filter on the OpenTelemetry exporter loggers (idempotent)."""
    for name in EXPORTER_LOGGERS:
        log = logging.getLogger(name)
        if _ONCE not in log.filters:
            log.addFilter(_ONCE)


def sampler_from(sampling: float | str | Sampler | None, environ: Mapping[str, str]) -> Sampler:
    """A sampler from a ratio, a name (OTEL_TRACES_SAMPLER values) or an instance; env vars when None."""
    if isinstance(sampling, Sampler):
        return sampling
    if isinstance(sampling, int | float) and not isinstance(sampling, bool):
        return _ratio(float(sampling), parent_based=True)
    name = sampling if isinstance(sampling, str) else environ.get("OTEL_TRACES_SAMPLER", "parentbased_always_on")
    arg = environ.get("OTEL_TRACES_SAMPLER_ARG", "")
    name = name.strip().lower()
    if name == "always_on":
        return ALWAYS_ON
    if name == "always_off":
        return ALWAYS_OFF
    if name == "parentbased_always_on":
        return ParentBased(ALWAYS_ON)
    if name == "parentbased_always_off":
        return ParentBased(ALWAYS_OFF)
    if name in ("traceidratio", "parentbased_traceidratio"):
        try:
            ratio = float(arg) if arg else 1.0
        except ValueError:
            HEALTH.fail("bad_sampler_arg", arg)
            ratio = 1.0
        return _ratio(ratio, parent_based=name.startswith("parentbased"))
    HEALTH.fail("unknown_sampler", name)
    return ParentBased(ALWAYS_ON)


def _ratio(ratio: float, *, parent_based: bool) -> Sampler:
    ratio = min(max(ratio, 0.0), 1.0)
    root: Sampler
    if ratio >= 1.0:
        root = ALWAYS_ON
    elif ratio <= 0.0:
        root = ALWAYS_OFF
    else:
        root = TraceIdRatioBased(ratio)
    return ParentBased(root) if parent_based else root


def _skips_unsampled_children(sampler: Sampler) -> bool:
    """True when a child of an unsampled parent can never be sampled (so the span can be skipped)."""
    if not isinstance(sampler, ParentBased):
        return isinstance(sampler, StaticSampler) and sampler is ALWAYS_OFF
    remote = getattr(sampler, "_remote_parent_not_sampled", None)
    local = getattr(sampler, "_local_parent_not_sampled", None)
    return remote is ALWAYS_OFF and local is ALWAYS_OFF


def _root_ratio_bound(provider: TracerProvider) -> int | None:
    """TraceIdRatioBased's bound for roots when our id generator and a parent-based ratio sampler (or
    parent-based always_off) are in use, so decorators can decide roots themselves; else None."""
    sampler = provider.sampler
    if not isinstance(provider.id_generator, XRayIdGenerator) or not isinstance(sampler, ParentBased):
        return None
    if not _skips_unsampled_children(sampler):
        return None
    root = getattr(sampler, "_root", None)
    if isinstance(root, TraceIdRatioBased):
        return int(root.bound)
    if root is ALWAYS_OFF:
        return 0
    return None


def _service_from_env(environ: Mapping[str, str]) -> str | None:
    if environ.get("OTEL_SERVICE_NAME"):
        return None  # Resource.create reads it
    for item in environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        if item.split("=", 1)[0].strip() == c.SERVICE_NAME:
            return None
    for key in ("AWS_LAMBDA_FUNCTION_NAME", "AWS_IOT_THING_NAME"):
        if environ.get(key):
            return environ[key]
    return None


def _env_resource_keys(environ: Mapping[str, str]) -> set[str]:
    return {item.split("=", 1)[0].strip() for item in environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(",") if item}


def app_provider() -> TracerProvider | None:
    """The SDK TracerProvider the application installed globally, if any (never one of ours)."""
    provider = otel_trace.get_tracer_provider()
    if isinstance(provider, TracerProvider) and provider not in RUNTIME.own_providers:
        return provider
    return None


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
    """Set the tracer up.

    - ``service``: service.name (default OTEL_SERVICE_NAME, then the Lambda function / device name).
    - ``exporters``: SpanExporter instances or names ``otlp``, ``otlp-http``, ``otlp-grpc`` ([grpc] extra),
      ``console``, ``xray-udp`` (X-Ray daemon at AWS_XRAY_DAEMON_ADDRESS), ``memory``, ``none``.
      Default: from OTEL_TRACES_EXPORTER / OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT / AWS_XRAY_DAEMON_ADDRESS.
    - ``sampling``: a ratio (parent-based), an OTEL_TRACES_SAMPLER name, or a Sampler; default from env.
    - ``backend``: ``"otel"`` or ``"xray-sdk"`` (legacy: aws-xray-sdk's recorder, the [xray] extra).
    - ``tracer_provider``: use this provider; otherwise an application's global SDK provider is reused
      (its sampler and resource untouched; our exporters are added only when given explicitly).
    - ``disabled``: True makes every decorator a pass-through (as ``SPANSCOPE_DISABLED=1`` does).
    - ``endpoint``: where OTLP spans go, e.g. ``"http://127.0.0.1:4318"`` (``spanscope collect``'s
      default; ``/v1/traces`` is appended when the URL has no path) or ``"http://127.0.0.1:4317"`` for gRPC.
      Default: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, then OTEL_EXPORTER_OTLP_ENDPOINT, then localhost.
    - ``protocol``: ``"http/protobuf"`` (default) or ``"grpc"`` (default: OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL).
      Giving ``endpoint`` or ``protocol`` without ``exporters`` means ``exporters=["otlp"]``.
    """
    environ = os.environ
    quiet_exporter_logs()
    with RUNTIME.lock:
        previous = RUNTIME.backend
        if flush_timeout_millis is not None:
            RUNTIME.default_flush_millis = max(0, int(flush_timeout_millis))
        RUNTIME.passthrough = env_disabled(environ) if disabled is None else bool(disabled)
        FALLBACK_SPAN.clear()  # only the legacy backend installs one
        if RUNTIME.passthrough:
            RUNTIME.backend = NoopBackend()
            _retire(previous)
            return
        if backend == "xray-sdk":
            from spanscope.tracer.legacy import XRaySdkBackend

            RUNTIME.backend = XRaySdkBackend(service=service, sampling=sampling)
            _retire(previous)
            return
        if backend != "otel":
            HEALTH.fail("unknown_backend", backend)

        placement = detect_placement(environ)
        if location:
            placement[c.LOCATION] = location
        provider = tracer_provider or app_provider()
        explicit: list[str | SpanExporter] | None = list(exporters) if exporters is not None else None
        if explicit is None and (endpoint or protocol):
            explicit = ["otlp"]
        if provider is not None:
            provider.add_span_processor(PlacementProcessor(placement))
            names: list[str | SpanExporter] = explicit or []
        else:
            attributes: dict[str, Any] = {}
            env_keys = _env_resource_keys(environ)
            for key, value in {**detect_platform(environ), **placement}.items():
                if key not in env_keys:
                    attributes[key] = value
            attributes.update(resource_attributes or {})
            fallback = _service_from_env(environ)
            if service:
                attributes[c.SERVICE_NAME] = service
            elif fallback:
                attributes[c.SERVICE_NAME] = fallback
            provider = TracerProvider(
                sampler=sampler_from(sampling, environ),
                resource=Resource.create(attributes),
                id_generator=XRayIdGenerator(),
                shutdown_on_exit=False,  # close_provider runs at exit instead, with a bounded flush
            )
            RUNTIME.own_providers.add(provider)
            _register_exit()
            names = explicit if explicit is not None else list(default_exporter_names(environ))
        for item in names:
            target = None
            if isinstance(item, str):
                exporter, target = named_exporter(item, environ, endpoint=endpoint, protocol=protocol)
            else:
                exporter = item
            if exporter is None:
                continue
            label = item if isinstance(item, str) else type(item).__name__
            guarded = GuardedExporter(exporter, label, target)
            RUNTIME.exporters.setdefault(provider, []).append(guarded)
            simple = processor == "simple" or (
                processor == "auto" and isinstance(exporter, InMemorySpanExporter | ConsoleSpanExporter)
            )
            provider.add_span_processor(SimpleSpanProcessor(guarded) if simple else BatchSpanProcessor(guarded))
        if provider in RUNTIME.own_providers and not isinstance(otel_trace.get_tracer_provider(), TracerProvider):
            otel_trace.set_tracer_provider(provider)
        RUNTIME.backend = LeanBackend(
            provider,
            skip_unsampled_children=_skips_unsampled_children(provider.sampler),
            unsampled_root_bound=_root_ratio_bound(provider),
        )
        if isinstance(provider.sampler, StaticSampler) and provider.sampler is ALWAYS_OFF:
            RUNTIME.passthrough = True
        _retire(previous)


def _retire(previous: Any) -> None:
    """Shut a replaced backend down, unless its provider is the global one (others may hold its tracers)."""
    if previous is None or previous is RUNTIME.backend:
        return
    provider = getattr(previous, "provider", None)
    if provider is not None and (provider not in RUNTIME.own_providers or provider is otel_trace.get_tracer_provider()):
        previous.force_flush(RUNTIME.default_flush_millis)
        return
    if isinstance(provider, TracerProvider):
        close_provider(provider, RUNTIME.default_flush_millis)
    else:
        previous.shutdown()


_EXIT_REGISTERED: list[bool] = []


def _register_exit() -> None:
    if not _EXIT_REGISTERED:
        _EXIT_REGISTERED.append(True)
        atexit.register(_at_exit)


def _at_exit() -> None:
    """At interpreter exit: close every provider of ours, each flush bounded (``SPANSCOPE_EXIT_FLUSH_MILLIS``,
    default 2000)."""
    try:
        budget = int(os.environ.get("SPANSCOPE_EXIT_FLUSH_MILLIS", "2000"))
    except ValueError:
        budget = 2000
    for provider in list(RUNTIME.own_providers):
        if provider in RUNTIME.exporters:
            close_provider(provider, budget)


def memory_exporter() -> InMemorySpanExporter | None:
    """The in-memory exporter made by ``configure(exporters=["memory"])`` (tests)."""
    exporter = RUNTIME.memory_exporter
    return exporter if isinstance(exporter, InMemorySpanExporter) else None
