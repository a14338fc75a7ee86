"""Trace context on the wire: X-Amzn-Trace-Id (Root/Parent/Sampled + pass-through keys) and W3C traceparent.

Carriers are header mappings (looked up case-insensitively) or the process environment
(``_X_AMZN_TRACE_ID`` as Lambda sets it, ``TRACEPARENT``/``TRACESTATE`` as the OTel env-carrier spec proposes).

>>> h = parse_xray_header("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a:1")
>>> h.root, h.parent, h.sampled, h.extra
('1-5759e988-bd862e3fe1be46a994272793', '53995c3f42cd8ad8', True, (('Lineage', 'a:1'),))
>>> h.format()
'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a:1'
"""

from __future__ import annotations

import contextvars
import os
import re
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Final

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import (
    CarrierT,
    DefaultGetter,
    DefaultSetter,
    Getter,
    Setter,
    TextMapPropagator,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from spanscope.tracer.xray.core.ids import xray_trace_id

XRAY_HEADER: Final = "X-Amzn-Trace-Id"
XRAY_ENV: Final = "_X_AMZN_TRACE_ID"
TRACEPARENT_ENV: Final = "TRACEPARENT"
TRACESTATE_ENV: Final = "TRACESTATE"

_ROOT = re.compile(r"^1-[0-9a-fA-F]{8}-[0-9a-fA-F]{24}$")
_PARENT = re.compile(r"^[0-9a-fA-F]{16}$")

_EXTRA_KEY: Final = otel_context.create_key("spanscope-xray-extra")
_ROOT_ONLY_KEY: Final = otel_context.create_key("spanscope-xray-root-only")
_DEFERRED_KEY: Final = otel_context.create_key("spanscope-xray-sampling-deferred")

# Set around the start of a root span so the id generator reuses an extracted X-Ray Root without a Parent.
FORCED_TRACE_ID: contextvars.ContextVar[int | None] = contextvars.ContextVar("spanscope_forced_trace_id", default=None)

_W3C = TraceContextTextMapPropagator()


@dataclass(frozen=True)
class XRayHeader:
    """A parsed X-Amzn-Trace-Id: Root, optional Parent, Sampled (None when absent or ``?``), other keys."""

    root: str
    parent: str | None = None
    sampled: bool | None = None
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def trace_id(self) -> int:
        return int(self.root[2:10] + self.root[11:], 16)

    @property
    def span_id(self) -> int | None:
        return int(self.parent, 16) if self.parent else None

    def format(self) -> str:
        parts = [f"Root={self.root}"]
        if self.parent:
            parts.append(f"Parent={self.parent}")
        if self.sampled is not None:
            parts.append(f"Sampled={1 if self.sampled else 0}")
        parts.extend(f"{k}={v}" for k, v in self.extra)
        return ";".join(parts)


def parse_xray_header(text: str | None) -> XRayHeader | None:
    """Parse an X-Amzn-Trace-Id value; None when it has no valid Root. Never raises."""
    if not text or not isinstance(text, str) or len(text) > 4096:
        return None
    root: str | None = None
    parent: str | None = None
    sampled: bool | None = None
    extra: list[tuple[str, str]] = []
    for part in text.split(";"):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "Root":
            root = value.lower() if _ROOT.match(value) else None
        elif key == "Parent":
            parent = value.lower() if _PARENT.match(value) and int(value, 16) else None
        elif key == "Sampled":
            sampled = {"1": True, "0": False}.get(value)
        elif key:
            extra.append((key, value))
    if root is None or int(root[2:10] + root[11:], 16) == 0:
        return None
    return XRayHeader(root, parent, sampled, tuple(extra))


def context_from_xray(header: XRayHeader, context: Context | None = None) -> Context:
    """A context whose (remote) parent is the header's Parent; a Root alone becomes the next root's trace id."""
    ctx = context if context is not None else Context()
    if header.parent:
        span_context = otel_trace.SpanContext(
            trace_id=header.trace_id,
            span_id=int(header.parent, 16),
            is_remote=True,
            trace_flags=otel_trace.TraceFlags(
                otel_trace.TraceFlags.SAMPLED if header.sampled else otel_trace.TraceFlags.DEFAULT
            ),
        )
        ctx = otel_trace.set_span_in_context(otel_trace.NonRecordingSpan(span_context), ctx)
        if header.sampled is None:  # "Sampled=?" or absent: the upstream left the decision to us
            ctx = otel_context.set_value(_DEFERRED_KEY, True, ctx)
    else:
        ctx = otel_context.set_value(_ROOT_ONLY_KEY, header.trace_id, ctx)
    if header.extra:
        ctx = otel_context.set_value(_EXTRA_KEY, header.extra, ctx)
    return ctx


def deferred_decision(context: Context | None) -> bool:
    """Whether the extracted X-Ray parent in ``context`` left sampling undecided (``Sampled=?``)."""
    return otel_context.get_value(_DEFERRED_KEY, context) is True


def decide_deferred(context: Context, sampled: bool) -> Context:
    """``context`` with its undecided remote parent marked sampled or not (the decision now made)."""
    span_context = otel_trace.get_current_span(context).get_span_context()
    decided = otel_trace.SpanContext(
        trace_id=span_context.trace_id,
        span_id=span_context.span_id,
        is_remote=True,
        trace_flags=otel_trace.TraceFlags(otel_trace.TraceFlags.SAMPLED if sampled else otel_trace.TraceFlags.DEFAULT),
        trace_state=span_context.trace_state,
    )
    ctx = otel_trace.set_span_in_context(otel_trace.NonRecordingSpan(decided), context)
    return otel_context.set_value(_DEFERRED_KEY, False, ctx)


def forced_root(context: Context | None) -> int | None:
    """The X-Ray Root a new root span in ``context`` must reuse, if any."""
    value = otel_context.get_value(_ROOT_ONLY_KEY, context)
    return value if isinstance(value, int) else None


# Set by the legacy (aws-xray-sdk) backend: the span of the recorder's current entity, used when no
# OpenTelemetry span is current, so the helpers below propagate X-Ray SDK segments too.
FALLBACK_SPAN: list[Callable[[], otel_trace.Span | None]] = []


def current_span(context: Context | None = None) -> otel_trace.Span:
    """The span current in ``context``: OpenTelemetry's, else (legacy mode, no explicit context) the
    X-Ray SDK recorder's current entity; a non-recording invalid span when there is none."""
    span = otel_trace.get_current_span(context)
    if context is None and FALLBACK_SPAN and not span.get_span_context().is_valid:
        try:
            span = FALLBACK_SPAN[0]() or span
        except Exception:
            pass
    return span


def xray_header_for(context: Context | None = None) -> str | None:
    """The X-Amzn-Trace-Id value for the span current in ``context`` (None when there is no valid span)."""
    span_context = current_span(context).get_span_context()
    if not span_context.is_valid:
        return None
    extra = otel_context.get_value(_EXTRA_KEY, context)
    header = XRayHeader(
        root=xray_trace_id(span_context.trace_id),
        parent=f"{span_context.span_id:016x}",
        sampled=span_context.trace_flags.sampled,
        extra=extra if isinstance(extra, tuple) else (),
    )
    return header.format()


def _lookup(carrier: Mapping[str, object], name: str) -> str | None:
    """A header value by case-insensitive name; list values (CloudFront, multi-value) give their first item."""
    wanted = name.lower()
    for key, value in carrier.items():
        if isinstance(key, str) and key.lower() == wanted:
            if isinstance(value, list | tuple):
                value = value[0] if value else None
                if isinstance(value, Mapping):  # CloudFront: [{"key": ..., "value": ...}]
                    value = value.get("value")
            return value if isinstance(value, str) else None
    return None


def extract(carrier: Mapping[str, object] | None, context: Context | None = None) -> Context:
    """A context from headers: X-Amzn-Trace-Id first, then W3C traceparent/tracestate. Never raises."""
    ctx = context if context is not None else Context()
    if not carrier:
        return ctx
    try:
        header = parse_xray_header(_lookup(carrier, XRAY_HEADER))
        if header is not None:
            return context_from_xray(header, ctx)
        traceparent = _lookup(carrier, "traceparent")
        if traceparent:
            w3c = {"traceparent": traceparent}
            tracestate = _lookup(carrier, "tracestate")
            if tracestate:
                w3c["tracestate"] = tracestate
            return _W3C.extract(w3c, ctx)
    except Exception:
        pass
    return ctx


def inject(carrier: MutableMapping[str, str] | None = None, context: Context | None = None) -> dict[str, str]:
    """Write X-Amzn-Trace-Id and traceparent (and tracestate) for the current span; returns the headers written."""
    headers: dict[str, str] = {}
    try:
        xray = xray_header_for(context)
        if xray:
            headers[XRAY_HEADER] = xray
            if context is None and FALLBACK_SPAN and not otel_trace.get_current_span().get_span_context().is_valid:
                context = otel_trace.set_span_in_context(current_span())
            _W3C.inject(headers, context)
    except Exception:
        headers = {}
    if carrier is not None:
        carrier.update(headers)
    return headers


def context_from_environ(environ: Mapping[str, str] | None = None, context: Context | None = None) -> Context:
    """A context from ``_X_AMZN_TRACE_ID`` (preferred) or ``TRACEPARENT``/``TRACESTATE`` in the environment."""
    env = os.environ if environ is None else environ
    carrier: dict[str, object] = {}
    if env.get(XRAY_ENV):
        carrier[XRAY_HEADER] = env[XRAY_ENV]
    if env.get(TRACEPARENT_ENV):
        carrier["traceparent"] = env[TRACEPARENT_ENV]
        if env.get(TRACESTATE_ENV):
            carrier["tracestate"] = env[TRACESTATE_ENV]
    return extract(carrier, context)


def environ_for_context(context: Context | None = None) -> dict[str, str]:
    """Environment variables that carry the current context to a child process or container."""
    headers = inject(None, context)
    out: dict[str, str] = {}
    if XRAY_HEADER in headers:
        out[XRAY_ENV] = headers[XRAY_HEADER]
    if "traceparent" in headers:
        out[TRACEPARENT_ENV] = headers["traceparent"]
    if headers.get("tracestate"):
        out[TRACESTATE_ENV] = headers["tracestate"]
    return out


class XRayPropagator(TextMapPropagator):
    """An OpenTelemetry propagator for X-Amzn-Trace-Id (usable with ``opentelemetry.propagate.set_global_textmap``)."""

    def extract(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        getter: Getter[CarrierT] = DefaultGetter(),  # type: ignore[assignment]
    ) -> Context:
        values = getter.get(carrier, XRAY_HEADER) or getter.get(carrier, XRAY_HEADER.lower())
        header = parse_xray_header(values[0] if values else None)
        ctx = context if context is not None else Context()
        return context_from_xray(header, ctx) if header else ctx

    def inject(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        setter: Setter[CarrierT] = DefaultSetter(),  # type: ignore[assignment]
    ) -> None:
        value = xray_header_for(context)
        if value:
            setter.set(carrier, XRAY_HEADER, value)

    @property
    def fields(self) -> set[str]:
        return {XRAY_HEADER}
