"""Shared builders for tests: tiny traces from edge lists (readable names instead of ids), collector set-ups.

    tr = build_trace([
        ("root", None, 0, 100),            # name, parent name, start ms, end ms
        ("db", "root", 10, 40, {"service": "orders", "kind": Kind.CLIENT, "status": Status.FAULT}),
    ])

Names become deterministic span ids, so the same name gives the same id in every trace.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import requests
from spanscope.collectors.collector_config import Address, CollectorConfig
from spanscope.collectors.formats.otlp_proto import spans_to_request
from spanscope.collectors.model import Kind, Span, SpanLink, Status, Trace

# the keys every trace summary's JSON carries (TraceSummary.to_json, `spanscope traces --json`)
SUMMARY_JSON_KEYS = frozenset(
    [
        "trace_id",
        "xray_id",
        "root_service",
        "root_name",
        "start",
        "duration",
        "span_count",
        "error",
        "fault",
        "throttle",
        "services",
    ]
)
BASE_NS = 1_763_700_000_000_000_000  # 2025-11-21 04:40:00 UTC; ids below carry this epoch second
MS = 1_000_000


def trace_id_for(label: str = "t") -> str:
    """A deterministic X-Ray-compatible trace id (epoch seconds first) for a label."""
    digest = hashlib.sha1(label.encode()).hexdigest()
    return f"{BASE_NS // 1_000_000_000:08x}{digest[:24]}"


def span_id_for(name: str) -> str:
    """A deterministic 16-hex span id for a name."""
    digest = hashlib.sha1(("span:" + name).encode()).hexdigest()[:16]
    return digest if digest != "0" * 16 else "1" * 16


def make_span(
    name: str,
    parent: str | None = None,
    start_ms: float = 0,
    end_ms: float = 1,
    *,
    trace: str = "t",
    service: str = "svc",
    operation: str | None = None,
    kind: Kind = Kind.INTERNAL,
    status: Status = Status.OK,
    origin: str = "",
    namespace: str = "",
    remote_service: str = "",
    attributes: dict[str, Any] | None = None,
    annotations: dict[str, Any] | None = None,
    resource: dict[str, Any] | None = None,
    links: Sequence[tuple[str, str]] = (),
    in_progress: bool = False,
    span_id: str | None = None,
) -> Span:
    """One span. ``name`` names the node (and its id); ``operation`` is the span name if different.

    ``links`` are (trace label, span name) pairs.
    """
    return Span(
        trace_id=trace_id_for(trace),
        span_id=span_id or span_id_for(name),
        parent_id=span_id_for(parent) if parent else None,
        service=service,
        name=operation or name,
        kind=kind,
        start_ns=BASE_NS + int(start_ms * MS),
        end_ns=BASE_NS + int(end_ms * MS),
        status=status,
        origin=origin,
        namespace=namespace,
        remote_service=remote_service,
        attributes=dict(attributes or {}),
        annotations=dict(annotations or {}),
        resource=dict(resource or {}),
        links=[SpanLink(trace_id_for(t), span_id_for(s)) for t, s in links],
        in_progress=in_progress,
    )


EdgeRow = tuple[Any, ...]


def build_spans(rows: Iterable[EdgeRow], *, trace: str = "t") -> list[Span]:
    """Spans from rows ``(name, parent, start_ms, end_ms[, options])``; options are make_span keywords."""
    spans = []
    for row in rows:
        name, parent, start, end = row[:4]
        options: dict[str, Any] = dict(row[4]) if len(row) > 4 else {}
        options.setdefault("trace", trace)
        spans.append(make_span(name, parent, start, end, **options))
    return spans


def build_trace(rows: Iterable[EdgeRow], *, trace: str = "t") -> Trace:
    """A Trace from edge-list rows (see build_spans)."""
    spans = build_spans(rows, trace=trace)
    return Trace(trace_id_for(trace), spans)


def chain(depth: int, *, trace: str = "deep", step_ns: int = 1) -> list[Span]:
    """A single parent→child chain ``depth`` spans deep, each child nested inside its parent."""
    tid = trace_id_for(trace)
    total = depth * step_ns * 2 + 2
    return [
        Span(
            trace_id=tid,
            span_id=f"{i + 1:016x}",
            parent_id=f"{i:016x}" if i else None,
            service=f"svc{i % 7}",
            name=f"op{i % 13}",
            start_ns=BASE_NS + i * step_ns,
            end_ns=BASE_NS + total - i * step_ns,
        )
        for i in range(depth)
    ]


# --- row options and small traces of the service-map tests --------------------------------------------------


def lam(service: str, **kw: Any) -> dict[str, Any]:
    """Row options of a Lambda function's server span."""
    return {"service": service, "origin": "AWS::Lambda::Function", "kind": Kind.SERVER, **kw}


def ddb_call(service: str = "api", **kw: Any) -> dict[str, Any]:
    """Row options of an AWS SDK call to DynamoDB (no instrumented callee: an inferred node)."""
    return {"service": service, "kind": Kind.CLIENT, "namespace": "aws", "remote_service": "DynamoDB", **kw}


def sqs_send(service: str = "api", **kw: Any) -> dict[str, Any]:
    """Row options of a bare SQS producer span (an AWS SDK send without attributes)."""
    return {"service": service, "kind": Kind.PRODUCER, "namespace": "aws", "remote_service": "SQS", **kw}


def api_trace(label: str, *, status: Status = Status.OK, ddb_status: Status = Status.OK, end: float = 100) -> Trace:
    """api (a Lambda) that calls DynamoDB once."""
    return build_trace(
        [
            ("root", None, 0, end, lam("api", status=status)),
            ("get", "root", 10, 30, ddb_call(status=ddb_status)),
        ],
        trace=label,
    )


def sqs_pair(label: str, *, consumer_status: Status = Status.OK) -> list[Trace]:
    """A producer trace (api sends to SQS) and a consumer trace (worker) linked to the send."""
    producer = build_trace([("web", None, 0, 50, lam("api")), ("send", "web", 10, 20, sqs_send())], trace=f"{label}-p")
    consumer = build_trace(
        [
            (
                "consume",
                None,
                120,
                170,
                lam("worker", kind=Kind.CONSUMER, status=consumer_status, links=[(f"{label}-p", "send")]),
            ),
        ],
        trace=f"{label}-c",
    )
    return [producer, consumer]


# --- collector set-ups of the integration tests ------------------------------------------------------------

LOOPBACK: Address = ("127.0.0.1", 0)


def collector_config(
    db_path: Path | None,
    *,
    xray_udp: Address | None = None,
    otlp_http: Address | None = LOOPBACK,
    otlp_grpc: Address | None = None,
    **overrides: Any,
) -> CollectorConfig:
    """A collector on loopback ephemeral ports, OTLP/HTTP only unless told, no periodic log line.

    ``overrides`` are further CollectorConfig fields (``log_interval_s`` too).
    """
    overrides.setdefault("log_interval_s", 0)
    return CollectorConfig(db_path=db_path, xray_udp=xray_udp, otlp_http=otlp_http, otlp_grpc=otlp_grpc, **overrides)


def all_receivers_config(db_path: Path | None, **overrides: Any) -> CollectorConfig:
    """collector_config with the X-Ray UDP, OTLP/HTTP and OTLP/gRPC receivers all on ephemeral loopback ports."""
    return collector_config(db_path, xray_udp=LOOPBACK, otlp_grpc=LOOPBACK, **overrides)


def post_otlp(address: Address | str, spans: Iterable[Span], *, timeout: float = 10) -> requests.Response:
    """POST ``spans`` as one OTLP/HTTP protobuf request to ``address`` (``(host, port)`` or ``"host:port"``)."""
    where = address if isinstance(address, str) else f"{address[0]}:{address[1]}"
    return requests.post(
        f"http://{where}/v1/traces",
        data=spans_to_request(list(spans)).SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
        timeout=timeout,
    )
