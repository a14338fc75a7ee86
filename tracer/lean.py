"""The lean recording path: SDK-compatible spans for ``@trace`` built without the SDK tracer's per-call work.

``LeanBackend`` is the OpenTelemetry backend whose decorator hot path (``enter``/``exit_*``) builds a
``LeanSpan`` directly when the provider's set-up lets it decide exactly what the SDK would: a stock SDK
``Tracer`` (enabled, internal metrics off), a sampler whose decision for the span is "sampled" by rule
(``ALWAYS_ON``, or ``ParentBased`` with the default delegates and an ``ALWAYS_ON``/ratio/X-Ray rules root
decided by the backend). Anything else goes through ``tracer.start_span`` as before.

A ``LeanSpan`` *is* an SDK ``Span`` (so a ``ReadableSpan``): processors' ``on_start``/``on_end`` and every
exporter see the object type and fields they always saw; the provider's processors, resource, scope and
limits are used. What it saves, measured in ``benchmarks/bench_tracer.py``:

- no sampler call, no ``SpanContext`` validation, ids from ``random.getrandbits`` (X-Ray-style trace ids);
- attributes, events and links containers (``BoundedAttributes``/``BoundedList``) made on first use, not
  per span (a span that never gets one has an empty frozen mapping once ended, as the SDK's would be);
- no ``ReadableSpan`` copy at ``end()``: the ended span itself goes to ``on_end`` (it accepts no writes
  after ``end()``, exactly like the SDK span the copy was taken from);
- encoding stays where the SDK puts it: in the exporter, on the batch processor's thread.
"""

from __future__ import annotations

import logging
import random
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, cast

from opentelemetry import trace as otel_trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, Tracer, TracerProvider
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.trace._tracer_metrics import NoOpTracerMetrics
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util import types
from spanscope.tracer.annotations import AttributeValue
from spanscope.tracer.health import HEALTH
from spanscope.tracer.ids import XRayIdGenerator
from spanscope.tracer.otel_backend import FAST_CONTEXT, OtelBackend, UnsampledRoot
from spanscope.tracer.propagation import FORCED_TRACE_ID

_logger = logging.getLogger("opentelemetry.sdk.trace")  # the SDK's own warnings come from this logger
_new_span = object.__new__
_new_tuple = tuple.__new__
_getrandbits = random.getrandbits
_time = time.time
_time_ns = time.time_ns
_allocate_lock = threading.Lock
_UNSET = Status(StatusCode.UNSET)
_FROZEN_EMPTY = BoundedAttributes(0, None, immutable=True)  # what an ended span without attributes shows
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_SAMPLED_RANDOM = TraceFlags(TraceFlags.SAMPLED | TraceFlags.RANDOM_TRACE_ID)
_DEFAULT_STATE = otel_trace.DEFAULT_TRACE_STATE


class LeanSpan(SdkSpan):
    """An SDK span whose containers are made on first use and which is its own ``ReadableSpan`` once ended."""

    def set_attributes(self, attributes: Mapping[str, types.AnyValue]) -> None:
        with self._lock:
            if self._end_time is not None:
                _logger.warning("Setting attribute on ended span.")
                return
            self._writable_attributes()._set_items(attributes)

    def set_attribute(self, key: str, value: types.AnyValue) -> None:
        with self._lock:
            if self._end_time is not None:
                _logger.warning("Setting attribute on ended span.")
                return
            self._writable_attributes()[key] = value

    def _writable_attributes(self) -> Any:
        attributes: Any = self._attributes
        if attributes is None:
            limits: SpanLimits = self._limits
            attributes = self._attributes = BoundedAttributes(
                limits.max_span_attributes, None, immutable=False, max_value_len=limits.max_span_attribute_length
            )
        return attributes

    def _add_event(self, event: Any) -> None:
        with self._lock:
            if self._end_time is None:
                events: Any = self._events
                if type(events) is tuple:
                    events = self._events = BoundedList(self._limits.max_events)
                events.append(event)
                return
        _logger.warning("Tried calling %s on an ended span.", "_add_event")

    def _add_link(self, link: Link) -> None:
        with self._lock:
            if self._end_time is None:
                links: Any = self._links
                if type(links) is tuple:
                    links = self._links = BoundedList(self._limits.max_links)
                links.append(link)
                return
        _logger.warning("Tried calling %s on an ended span.", "_add_link")

    def __reduce_ex__(self, protocol: Any) -> Any:
        """Copied or pickled (an exporter that keeps or ships spans), it is what the SDK would have handed
        on: a plain ``ReadableSpan`` of the same fields, without this span's lock and processor."""
        return (_readable_span_from, (self._readable_span().__dict__,))

    def end(self, end_time: int | None = None) -> None:
        with self._lock:
            if self._end_time is not None:
                _logger.warning("Calling end() on an ended span.")
                return
            self._end_time = end_time if end_time is not None else _time_ns()
            attributes: Any = self._attributes
            if attributes is None:
                self._attributes = _FROZEN_EMPTY
            else:
                attributes._immutable = True
        processor = self._span_processor
        processor._on_ending(self)
        processor.on_end(self)


def _readable_span_from(fields: dict[str, Any]) -> ReadableSpan:
    """A ReadableSpan holding ``fields`` (what ``LeanSpan.__reduce_ex__`` rebuilds)."""
    span: ReadableSpan = object.__new__(ReadableSpan)
    span.__dict__.update(fields)
    return span


def lean_sampling(sampler: Sampler) -> bool:
    """True when every span the lean path builds under ``sampler`` is one the sampler samples, with the
    parent's trace state and no attributes of its own: ``ALWAYS_ON``, or ``ParentBased`` with the default
    delegates around an ``ALWAYS_ON`` root or a ratio root (which the backend decides, as before)."""
    if sampler is ALWAYS_ON:
        return True
    if not _default_delegates(sampler):
        return False
    root = getattr(sampler, "_root", None)
    return root is ALWAYS_ON or type(root) is TraceIdRatioBased or rules_decider(sampler) is not None


def _default_delegates(sampler: Sampler) -> bool:
    """A ``ParentBased`` sampler that follows the parent's sampled flag (the default delegates)."""
    if type(sampler) is not ParentBased:
        return False
    delegates = (
        getattr(sampler, "_remote_parent_sampled", None),
        getattr(sampler, "_remote_parent_not_sampled", None),
        getattr(sampler, "_local_parent_sampled", None),
        getattr(sampler, "_local_parent_not_sampled", None),
    )
    return delegates == (ALWAYS_ON, ALWAYS_OFF, ALWAYS_ON, ALWAYS_OFF)


def rules_decider(sampler: Sampler) -> Callable[[int, Mapping[str, Any] | None], bool] | None:
    """For ``ParentBased`` (default delegates) around spanscope's X-Ray rules sampler (local or remote):
    its root decision from the trace id's low 64 bits and the span's attributes, which the decorator
    calls itself so an unsampled root builds no span; else None. The sampling modules are looked up,
    not imported: a root of their type exists only once they are."""
    if not _default_delegates(sampler):
        return None
    root: Any = getattr(sampler, "_root", None)
    rules = sys.modules.get("spanscope.tracer.sampling.sampler")
    remote = sys.modules.get("spanscope.tracer.sampling.remote")
    if rules is not None and type(root) is rules.XRayRulesSampler:
        return cast(Callable[[int, Mapping[str, Any] | None], bool], root.decide)
    if remote is not None and type(root) is remote.RemoteRulesSampler:
        return cast(Callable[[int, Mapping[str, Any] | None], bool], root.local.decide)
    return None


def lean_tracer(tracer: object, provider: TracerProvider) -> bool:
    """True when ``tracer`` is a stock SDK tracer the lean path can stand in for."""
    try:
        return (
            type(tracer) is Tracer
            and tracer._is_enabled()
            and type(tracer._tracer_metrics) is NoOpTracerMetrics
            and tracer.sampler is provider.sampler
            and lean_sampling(tracer.sampler)
        )
    except Exception:
        return False


class LeanBackend(OtelBackend):
    """``OtelBackend`` whose decorators record through ``LeanSpan`` when the provider allows it."""

    def __init__(
        self, provider: TracerProvider, *, skip_unsampled_children: bool, unsampled_root_bound: int | None = None
    ) -> None:
        super().__init__(
            provider, skip_unsampled_children=skip_unsampled_children, unsampled_root_bound=unsampled_root_bound
        )
        self.lean = FAST_CONTEXT is not None and lean_tracer(self.tracer, provider)
        # X-Ray rules roots are decided here (by the sampler's own ``decide``), as ratio roots are by bound
        self.decide_root = rules_decider(provider.sampler) if self.lean else None
        self.xray_ids = type(cast(object, provider.id_generator)) is XRayIdGenerator

    def enter(self, name: str, kind: SpanKind, attributes: Mapping[str, AttributeValue] | None) -> Any:
        if not self.lean:
            return super().enter(name, kind, attributes)
        try:
            var, key = FAST_CONTEXT  # type: ignore[misc]
            context = var.get()
            parent = context.get(key)
            span: otel_trace.Span
            if parent is None:
                bound = self.unsampled_root_bound
                decide = self.decide_root
                if decide is not None:  # the rules sampler's decision on the low 64 bits, as for a ratio
                    low = _getrandbits(64)
                    if decide(low, attributes):
                        trace_id = (int(_time()) << 96) | (_getrandbits(32) << 64) | low
                        span = self._start(name, kind, attributes, context, trace_id, None)
                    else:
                        span = UnsampledRoot(low)
                elif bound is None:
                    span = self._start(name, kind, attributes, context, self._trace_id(), None)
                else:  # TraceIdRatioBased's rule on the low 64 bits, as OtelBackend._enter_root
                    low = _getrandbits(64)
                    if low >= bound:
                        span = UnsampledRoot(low)
                    else:
                        trace_id = (int(_time()) << 96) | (_getrandbits(32) << 64) | low
                        span = self._start(name, kind, attributes, context, trace_id, None)
            else:
                if type(parent) is UnsampledRoot:
                    return None
                parent_context = parent.get_span_context()
                if not parent_context.is_valid:  # an invalid current span: the SDK's own root handling
                    return super().enter(name, kind, attributes)
                if not parent_context.trace_flags & 1 and self.skip_unsampled_children:
                    return None
                span = self._start(name, kind, attributes, context, parent_context.trace_id, parent_context)
            values = dict(context)
            values[key] = span
            return (span, var.set(Context(values)), var)
        except Exception as exc:
            HEALTH.fail("span_start", exc)
            return None

    def _trace_id(self) -> int:
        """A new root's trace id, as the provider's id generator makes it (X-Ray style inline)."""
        if self.xray_ids:
            return FORCED_TRACE_ID.get() or (int(_time()) << 96) | _getrandbits(96)
        return int(self.id_generator.generate_trace_id())

    def _start(
        self,
        name: str,
        kind: SpanKind,
        attributes: Mapping[str, AttributeValue] | None,
        context: Context,
        trace_id: int,
        parent: SpanContext | None,
    ) -> LeanSpan:
        """What ``Tracer.start_span`` + ``Span.start`` do for a sampled span, field for field."""
        tracer: Any = self.tracer
        if parent is None:
            flags = _SAMPLED_RANDOM if tracer.id_generator.is_trace_id_random() else _SAMPLED
            state = _DEFAULT_STATE
        else:
            flags = _SAMPLED_RANDOM if parent.trace_flags & 2 else _SAMPLED
            state = parent.trace_state
        span_id = (_getrandbits(64) or 1) if self.xray_ids else int(self.id_generator.generate_span_id())
        span_context = _new_tuple(SpanContext, (trace_id, span_id, False, flags, state, True))
        limits = tracer._span_limits
        span: LeanSpan = _new_span(LeanSpan)
        span.__dict__ = {
            "_name": name,
            "_context": span_context,
            "_kind": kind,
            "_instrumentation_info": tracer.instrumentation_info,
            "_instrumentation_scope": tracer._instrumentation_scope,
            "_parent": parent,
            "_start_time": _time_ns(),
            "_end_time": None,
            "_attributes": None
            if not attributes
            else BoundedAttributes(
                limits.max_span_attributes, attributes, immutable=False, max_value_len=limits.max_span_attribute_length
            ),
            "_events": (),
            "_links": (),
            "_resource": tracer.resource,
            "_status": _UNSET,
            "_sampler": tracer.sampler,
            "_trace_config": None,
            "_record_exception": True,
            "_set_status_on_exception": True,
            "_span_processor": tracer.span_processor,
            "_limits": limits,
            "_lock": _allocate_lock(),
            "_record_end_metrics": None,
        }
        tracer.span_processor.on_start(span, parent_context=context)
        return span


__all__ = ["LeanBackend", "LeanSpan", "lean_sampling", "lean_tracer", "rules_decider"]
