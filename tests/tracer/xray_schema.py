"""X-Ray test helpers: the v1.0.0 segment schema validator, a recording SDK provider, a remote parent context."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import jsonschema
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

SCHEMA_PATH = pathlib.Path(__file__).parents[1] / "fixtures" / "xray" / "xray-segmentdocument-schema-v1.0.0.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text())
VALIDATOR = jsonschema.Draft4Validator(SCHEMA)
TRACE_ID = 0x6921F3A0BD862E3FE1BE46A994272793  # epoch seconds first, like X-Ray ids


def validate(document: dict[str, Any] | str | bytes) -> dict[str, Any]:
    """Validate one document (dict or JSON text) against the X-Ray schema; returns the dict."""
    doc = json.loads(document) if isinstance(document, str | bytes) else document
    json.dumps(doc, allow_nan=False)  # must be strict JSON
    errors = sorted(VALIDATOR.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message[:200]}" for e in errors]
    return doc


class Recorder:
    """A real SDK tracer provider recording into memory."""

    def __init__(self, **resource: Any) -> None:
        attrs = {"service.name": "checkout", "cloud.provider": "aws", "cloud.platform": "aws_lambda"}
        attrs.update(resource)
        self.memory = InMemorySpanExporter()
        self.provider = TracerProvider(resource=Resource.create(attrs))
        self.provider.add_span_processor(SimpleSpanProcessor(self.memory))
        self.tracer = self.provider.get_tracer("test")

    def spans(self) -> list[ReadableSpan]:
        return list(self.memory.get_finished_spans())

    def by_name(self, name: str) -> ReadableSpan:
        return next(s for s in self.spans() if s.name == name)


def remote_parent(trace_id: int = TRACE_ID, span_id: int = 0x53995C3F42CD8AD8) -> Any:
    ctx = SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    return otel_trace.set_span_in_context(NonRecordingSpan(ctx))


def deep_chain(recorder: Recorder, depth: int, prefix: str = "s") -> None:
    """Record a chain of ``depth`` nested spans (``{prefix}0`` the root), ended innermost first."""
    opened: list[Any] = []
    context = None
    for i in range(depth):
        span = recorder.tracer.start_span(f"{prefix}{i}", context=context)
        context = otel_trace.set_span_in_context(span)
        opened.append(span)
    for span in reversed(opened):
        span.end()
