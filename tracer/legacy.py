"""Legacy backend (``configure(backend="xray-sdk")``, the [xray] extra): delegates to aws-xray-sdk's recorder.

For teams still on the X-Ray SDK: ``@trace``/``span()``/``annotate``/``add_metadata`` become recorder
segments, subsegments, annotations and metadata, sent by the SDK's own UDP emitter. The propagation
helpers (SQS, Step Functions, Batch, ``inject``, ``current_span``) fall back to the recorder's current
entity when no OpenTelemetry span is current. The recorder's thread-local context
applies (configure its AsyncContext for asyncio). Its first use imports aws_xray_sdk (slow: ~0.2 s).
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry import trace as otel_trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util import types as otel_types
from spanscope.tracer.annotations import AnnotationBudget, AttributeValue, annotation_problem, annotation_value
from spanscope.tracer.health import HEALTH
from spanscope.tracer.propagation import FALLBACK_SPAN, forced_root
from spanscope.tracer.xray.core.ids import xray_trace_id

_CLIENT_KINDS = (SpanKind.CLIENT, SpanKind.PRODUCER)
SPAN_NAME_KEY = "otel.span.name"  # where the X-Ray exporter keeps a span name that differs from the segment's


def _span_context(entity: Any) -> SpanContext:
    trace_id = getattr(entity, "trace_id", None) or getattr(getattr(entity, "parent_segment", None), "trace_id", "")
    try:
        tid = int(str(trace_id)[2:10] + str(trace_id)[11:], 16)
        sid = int(str(entity.id), 16)
    except (ValueError, AttributeError):
        return otel_trace.INVALID_SPAN_CONTEXT
    sampled = bool(getattr(entity, "sampled", True))
    return SpanContext(tid, sid, is_remote=False, trace_flags=TraceFlags(1 if sampled else 0))


class LegacySpan(otel_trace.Span):
    """An OpenTelemetry Span facade over an X-Ray SDK segment or subsegment."""

    def __init__(self, entity: Any) -> None:
        self.entity = entity
        self._context: SpanContext | None = None  # parsed from the entity's ids on first use

    def end(self, end_time: int | None = None) -> None:
        return None  # the backend closes the entity

    def get_span_context(self) -> SpanContext:
        if self._context is None:
            self._context = _span_context(self.entity)
        return self._context

    def set_attributes(self, attributes: Mapping[str, otel_types.AttributeValue]) -> None:
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def set_attribute(self, key: str, value: otel_types.AttributeValue) -> None:
        try:
            self.entity.put_metadata(key, list(value) if isinstance(value, tuple) else value)
        except Exception as exc:
            HEALTH.fail("legacy_metadata", exc)

    def add_event(self, name: str, attributes: otel_types.Attributes = None, timestamp: int | None = None) -> None:
        self.set_attribute(f"event.{name}", str(dict(attributes or {})))

    def add_link(self, context: SpanContext, attributes: otel_types.Attributes = None) -> None:
        return None  # X-Ray has no links

    def update_name(self, name: str) -> None:
        self.entity.name = name

    def is_recording(self) -> bool:
        return bool(getattr(self.entity, "sampled", True))

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        code = status.status_code if isinstance(status, Status) else status
        if code is StatusCode.ERROR:
            self.entity.add_fault_flag()

    def record_exception(
        self,
        exception: BaseException,
        attributes: otel_types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        try:
            stack = traceback.extract_tb(exception.__traceback__)
            self.entity.add_exception(exception, stack)
        except Exception as exc:
            HEALTH.fail("legacy_exception", exc)


class _LegacyHandle:
    __slots__ = ("ended", "entity", "is_segment")

    def __init__(self, entity: Any, is_segment: bool) -> None:
        self.entity = entity
        self.is_segment = is_segment
        self.ended = False


class XRaySdkBackend:
    """Delegates spans to ``aws_xray_sdk.core.xray_recorder``. No method raises."""

    def __init__(self, *, service: str | None, sampling: object) -> None:
        from aws_xray_sdk.core import xray_recorder

        self.recorder = xray_recorder
        options: dict[str, Any] = {"context_missing": "LOG_ERROR"}
        if service:
            options["service"] = service
        if sampling is not None and isinstance(sampling, int | float) and float(sampling) >= 1.0:
            options["sampling"] = False  # record every request
        if os.environ.get("AWS_XRAY_DAEMON_ADDRESS"):
            options["daemon_address"] = os.environ["AWS_XRAY_DAEMON_ADDRESS"]
        self.service = service or os.environ.get("OTEL_SERVICE_NAME") or "service"
        self.recorder.configure(**options)
        self.budget = AnnotationBudget()
        FALLBACK_SPAN[:] = [self.current_span]  # inject()/current_span() see the recorder's entity

    def current_span(self) -> otel_trace.Span | None:
        """The recorder's current entity as a span (None when there is none)."""
        entity = self._current()
        return LegacySpan(entity) if entity is not None else None

    # --- spans ---------------------------------------------------------------------------------------
    def _begin(
        self, name: str, kind: SpanKind, parent: Context | None, attributes: Mapping[str, AttributeValue] | None
    ) -> _LegacyHandle | None:
        """A segment (named after the service, as the X-Ray exporter does) when nothing is open, else a
        subsegment (namespace ``remote`` for client/producer spans)."""
        recorder = self.recorder
        if not _has_entity(recorder):
            span_context = otel_trace.get_current_span(parent).get_span_context() if parent is not None else None
            if span_context is not None and span_context.is_valid:
                entity = recorder.begin_segment(
                    self.service,
                    traceid=xray_trace_id(span_context.trace_id),
                    parent_id=f"{span_context.span_id:016x}",
                    sampling=1 if span_context.trace_flags.sampled else 0,
                )
            else:
                root = forced_root(parent) if parent is not None else None
                entity = recorder.begin_segment(self.service, traceid=xray_trace_id(root) if root else None)
            is_segment = True
            if entity is not None and name != self.service:
                entity.put_metadata(SPAN_NAME_KEY, name)
        else:
            namespace = "local"
            if kind in _CLIENT_KINDS:
                namespace = "remote"
                if attributes and attributes.get("rpc.system") == "aws-api":  # as the X-Ray exporter names it
                    namespace, name = "aws", str(attributes.get("rpc.service") or name)
            entity = recorder.begin_subsegment(name, namespace)
            is_segment = False
        if entity is None:
            return None
        return _LegacyHandle(entity, is_segment)

    def enter(self, name: str, kind: SpanKind, attributes: Mapping[str, AttributeValue] | None) -> Any:
        return self.open(name, kind, attributes)

    def open(
        self,
        name: str,
        kind: SpanKind,
        attributes: Mapping[str, AttributeValue] | None,
        *,
        links: Sequence[Link] | None = None,
        parent: Context | None = None,
        start_time_ns: int | None = None,
    ) -> Any:
        try:
            handle = self._begin(name, kind, parent, attributes)
            if handle is not None and attributes:
                for key, value in attributes.items():
                    handle.entity.put_metadata(key, list(value) if isinstance(value, tuple) else value)
            return handle
        except Exception as exc:
            HEALTH.fail("legacy_span_start", exc)
            return None

    def exit_ok(self, handle: Any) -> None:
        self.close(handle, None)

    def exit_error(self, handle: Any, exc: BaseException) -> None:
        self.close(handle, exc)

    def close(self, handle: _LegacyHandle, exc: BaseException | None) -> None:
        if handle is None or handle.ended:
            return
        handle.ended = True
        try:
            if exc is not None and isinstance(exc, Exception):
                handle.entity.add_exception(exc, traceback.extract_tb(exc.__traceback__))
        except Exception as failure:
            HEALTH.fail("legacy_exception", failure)
        try:
            if handle.is_segment:
                self.recorder.end_segment()
            else:
                self.recorder.end_subsegment()
        except Exception as failure:
            HEALTH.fail("legacy_span_end", failure)

    def suspend(self, handle: Any) -> None:
        return None

    def resume(self, handle: Any) -> None:
        return None

    def span_of(self, handle: Any) -> otel_trace.Span:
        return LegacySpan(handle.entity) if isinstance(handle, _LegacyHandle) else otel_trace.INVALID_SPAN

    # --- annotations and metadata --------------------------------------------------------------------
    def _current(self) -> Any:
        if not _has_entity(self.recorder):
            return None
        return self.recorder.context.get_trace_entity()

    def annotate(self, key: str, value: object) -> bool:
        try:
            entity = self._current()
            if entity is None:
                return False
            problem = annotation_problem(key, value)
            if problem is not None:
                HEALTH.fail("annotation_invalid", f"{key!r}: {problem}")
                return False
            trace_id = _span_context(entity).trace_id
            if not self.budget.admit(trace_id, key):
                HEALTH.fail("annotation_limit", "more than 50 annotations in a trace")
                return False
            entity.put_annotation(key, annotation_value(value))  # type: ignore[arg-type]
            return True
        except Exception as exc:
            HEALTH.fail("annotation_error", exc)
            return False

    def add_metadata(self, key: str, value: object, namespace: str | None) -> int:
        try:
            entity = self._current()
            if entity is None or not isinstance(key, str) or not key:
                return 0
            entity.put_metadata(key, value, namespace or "default")
            return 1
        except Exception as exc:
            HEALTH.fail("metadata_error", exc)
            return 0

    def force_flush(self, timeout_millis: int) -> bool:
        return True  # the SDK's emitter sends each segment when it ends

    def shutdown(self) -> None:
        return None


def _has_entity(recorder: Any) -> bool:
    """Whether the recorder's context holds an entity (asked without tripping context_missing)."""
    try:
        entities = getattr(recorder.context._local, "entities", None)
        if entities is not None:
            return bool(entities)
        return recorder.context.get_trace_entity() is not None
    except Exception:
        return False
