"""No loss of acknowledged data, field by field, through every protocol into a real collector.

A seeded generator makes spans covering every model field: ids and parents, every kind, exact
nanosecond times, status ok / error (HTTP 404) / throttle (HTTP 429) / fault (HTTP 500 or an
exception), status messages, attributes of every type (string, unicode, int incl. 64-bit extremes,
float, bool, arrays of each), X-Ray annotations, events, exceptions with stack traces, links with
attributes, resource and origin, in-progress spans. They are sent to a real collector on ephemeral
ports and the store is compared with what was sent: zero mismatches, for the fields the protocol
carries.

Projection per protocol (what each wire format can carry; everything else must be equal):

- OTLP/HTTP protobuf, OTLP/HTTP protobuf gzip, OTLP/gRPC, OTLP/HTTP JSON: every field. Exceptions
  travel as ``exception`` events, so ``SpanException.remote`` is not carried (always False); an
  in-progress span travels with end time 0 and comes back ending at its start; an origin that the
  resource does not imply travels as the attribute ``spanscope.origin``, which stays on the span.
- X-Ray UDP (documents from ``collectors.formats.xray_out``): ids, parent, times as the float
  seconds X-Ray carries (within 1 µs), status (all four), exceptions (type, message, remote),
  annotations, in-progress, the origin of segments, the service with X-Ray's name character set
  (subsegments get it from their segment in the store), the HTTP status, span attributes (carried
  as metadata of the ``default`` namespace); events, links and resource are not carried.
"""

from __future__ import annotations

import gzip
import random
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import orjson
import pytest
import requests
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from spanscope.collectors import conventions as conv
from spanscope.collectors.collector import BackgroundCollector, Collector
from spanscope.collectors.formats import seconds_to_ns
from spanscope.collectors.formats.otlp_json_out import request_from_spans
from spanscope.collectors.formats.otlp_proto import spans_to_request
from spanscope.collectors.formats.xray_out import document_from_span, sanitize_name
from spanscope.collectors.model import Kind, Span, SpanEvent, SpanException, SpanLink, Status
from spanscope.collectors.store import open_store

from tests.builders import all_receivers_config

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
BASE_NS = 1_763_700_000_000_000_000
TRACES = 12
SPANS_PER_TRACE = 25

_ORIGINS = [
    ("", {}),
    (conv.ORIGIN_LAMBDA, {conv.CLOUD_PLATFORM: "aws_lambda"}),
    (conv.ORIGIN_EC2, {conv.CLOUD_PLATFORM: "aws_ec2"}),
    (conv.ORIGIN_EDGE_DEVICE, {conv.ORIGIN: conv.ORIGIN_EDGE_DEVICE}),
    (conv.ORIGIN_BATCH, {}),  # explicit span origin, not implied by the resource
]
_TEXT = ["plain", "ünïcødé ✓ 漢字", 'quote " back \\ slash', "tab\tnew\nline", "", "x" * 300, "../../etc/passwd"]


def _attr_value(rng: random.Random, i: int) -> Any:
    choice = i % 10
    if choice == 0:
        return rng.choice(_TEXT)
    if choice == 1:
        return rng.choice([0, 1, -1, 2**63 - 1, -(2**63), rng.randrange(-(10**12), 10**12)])
    if choice == 2:
        return rng.choice([0.0, -1.5, 0.1, 1e300, 3.141592653589793, rng.random()])
    if choice == 3:
        return rng.choice([True, False])
    if choice == 4:
        return [rng.choice(_TEXT) for _ in range(rng.randrange(1, 4))]
    if choice == 5:
        return [rng.randrange(-1000, 1000) for _ in range(rng.randrange(1, 4))]
    if choice == 6:
        return [rng.random() for _ in range(2)]
    if choice == 7:
        return [True, False, True]
    if choice == 8:
        return f"value-{rng.randrange(10**6)}"
    return rng.randrange(10**9)


def _span_id(rng: random.Random) -> str:
    return f"{rng.randrange(1, 2**64):016x}"


def generate_spans(seed: int = 7) -> list[Span]:
    """Spans covering every field of the model, consistent with the OTLP conventions."""
    rng = random.Random(seed)
    spans: list[Span] = []
    for t in range(TRACES):
        trace_id = f"{BASE_NS // 10**9:08x}{rng.randrange(1, 2**96):024x}"
        service = rng.choice(["orders", "api-gw", "edge ✓ device", "batch/job"]) + f"-{t}"
        origin, origin_resource = _ORIGINS[t % len(_ORIGINS)]
        resource: dict[str, Any] = {
            conv.SERVICE_NAME: service,
            "host.name": f"host-{t}",
            "process.pid": 1000 + t,
            "deployment.weight": 0.5 + t,
            "feature.enabled": t % 2 == 0,
            "team.members": ["a", "b"],
            **origin_resource,
        }
        ids: list[str] = []
        for s in range(SPANS_PER_TRACE):
            span_id = _span_id(rng)
            parent = None if s == 0 else rng.choice(ids)
            ids.append(span_id)
            kind = [Kind.SERVER, Kind.CLIENT, Kind.INTERNAL, Kind.PRODUCER, Kind.CONSUMER][s % 5] if s else Kind.SERVER
            start = BASE_NS + t * 10**10 + s * 1_000_003 + rng.randrange(1000)
            end = start + rng.randrange(1, 10**9)
            attributes: dict[str, Any] = {f"attr.{i}": _attr_value(rng, i + s) for i in range(rng.randrange(0, 12))}
            status, message = Status.OK, ""
            variant = s % 6
            if variant == 1:
                status, message = Status.ERROR, "not found"
                attributes[conv.HTTP_STATUS] = 404
            elif variant == 2:
                status, message = Status.THROTTLE, "slow down"
                attributes[conv.HTTP_STATUS] = 429
            elif variant == 3:
                status, message = Status.FAULT, "upstream failed"
                attributes[conv.HTTP_STATUS] = 500
            elif variant == 4:
                status, message = Status.FAULT, "boom"  # OTel ERROR without an HTTP status
            elif variant == 5:
                attributes[conv.HTTP_STATUS] = 200
            namespace = remote = ""
            if kind is Kind.CLIENT:
                if s % 2:
                    attributes.update({conv.RPC_SYSTEM: "aws-api", conv.RPC_SERVICE: "DynamoDB"})
                    namespace, remote = "aws", "DynamoDB"
                else:
                    attributes[conv.PEER_SERVICE] = "payments"
                    namespace, remote = "remote", "payments"
            elif kind is Kind.PRODUCER:
                attributes[conv.SERVER_ADDRESS] = "sqs.us-east-1.amazonaws.com"
                namespace, remote = "remote", "sqs.us-east-1.amazonaws.com"
            annotations: dict[str, Any] = {}
            if s % 3 == 0:
                annotations = {"customer_id": f"c{s}", "retries": s, "ratio": 0.25, "vip": s % 2 == 0}
            events = [
                SpanEvent(f"event {e} ✓", start + e + 1, {"ev.k": rng.choice(_TEXT), "ev.n": e})
                for e in range(rng.randrange(0, 3))
            ]
            exceptions = []
            if status is Status.FAULT:
                exceptions.append(
                    SpanException("ValueError", "bad ✓ value", 'File "a.py", line 1\n  boom', False, end - 1)
                )
            links = []
            if s % 4 == 1:
                links.append(SpanLink(trace_id, ids[0], {"spanscope.link.kind": "sqs", "link.n": s}))
            if s % 7 == 2:
                links.append(SpanLink(f"{rng.randrange(1, 2**128):032x}", _span_id(rng), {}))
            in_progress = s == SPANS_PER_TRACE - 1 and t % 3 == 0
            spans.append(
                Span(
                    trace_id=trace_id,
                    span_id=span_id,
                    parent_id=parent,
                    service=service,
                    name=f"op {s} ✓ /orders/{{id}}",
                    kind=kind,
                    start_ns=start,
                    end_ns=start if in_progress else end,
                    status=status,
                    status_message=message,
                    origin=origin,
                    namespace=namespace,
                    remote_service=remote,
                    attributes=attributes,
                    annotations=annotations,
                    resource=dict(resource),
                    events=events,
                    exceptions=exceptions,
                    links=links,
                    in_progress=in_progress,
                )
            )
    return spans


# --- projections ---------------------------------------------------------------------------------------


def _norm(value: Any) -> Any:
    """JSON-comparable form (floats stay floats; tuples become lists)."""
    return orjson.loads(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY))


def otlp_view(span: Span, sent: bool) -> dict[str, Any]:
    attributes = dict(span.attributes)
    if not sent and attributes.get(conv.ORIGIN) == span.origin:
        del attributes[conv.ORIGIN]  # the wire carrier of an explicit span origin, kept by the receiver
    return {
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "parent_id": span.parent_id,
        "service": span.service,
        "name": span.name,
        "kind": str(span.kind),
        "start_ns": span.start_ns,
        "end_ns": span.end_ns,
        "status": str(span.status),
        "status_message": span.status_message,
        "origin": span.origin,
        "namespace": span.namespace,
        "remote_service": span.remote_service,
        "attributes": _norm(attributes),
        "annotations": _norm(span.annotations),
        "resource": _norm(span.resource),
        "events": [(e.name, e.time_ns, _norm(e.attributes)) for e in span.events],
        "exceptions": [(x.type, x.message, x.stacktrace, x.time_ns) for x in span.exceptions],
        "links": [(lk.trace_id, lk.span_id, _norm(lk.attributes)) for lk in span.links],
        "in_progress": span.in_progress,
    }


def xray_view(span: Span, *, sent: bool) -> dict[str, Any]:
    is_segment = span.parent_id is None or span.kind in (Kind.SERVER, Kind.CONSUMER)
    # Attributes travel as metadata of the "default" namespace and come back as attributes.
    attributes = {k: v for k, v in span.attributes.items() if k.startswith(("attr.", "http."))}
    return {
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "parent_id": span.parent_id,
        "service": sanitize_name(span.service) if sent else span.service,
        # X-Ray carries float seconds: the sent time is what its float reads back as (within 1 µs)
        "start_ns": seconds_to_ns(span.start_ns / 1e9) if sent else span.start_ns,
        "end_ns": seconds_to_ns(span.end_ns / 1e9) if sent else span.end_ns,
        "status": str(span.status),
        "origin": span.origin if is_segment else "",
        "attributes": _norm(attributes),
        "annotations": _norm(span.annotations),
        "exceptions": [(x.type, x.message, x.remote) for x in span.exceptions],
        "in_progress": span.in_progress,
    }


def compare(
    sent: list[Span], stored: dict[tuple[str, str], Span], view: Callable[[Span, bool], dict[str, Any]]
) -> list[str]:
    mismatches: list[str] = []
    for span in sent:
        got = stored.get((span.trace_id, span.span_id))
        if got is None:
            mismatches.append(f"{span.trace_id}/{span.span_id}: missing")
            continue
        want, have = view(span, True), view(got, False)
        for key in want:
            if want[key] != have[key]:
                mismatches.append(f"{span.span_id}.{key}: sent {want[key]!r:.300} stored {have[key]!r:.300}")
    return mismatches


# --- senders -------------------------------------------------------------------------------------------


def _post(url: str, body: bytes, headers: dict[str, str]) -> None:
    for _ in range(50):
        reply = requests.post(url, data=body, headers=headers, timeout=30)
        if reply.status_code in (429, 503):
            time.sleep(float(reply.headers.get("Retry-After", "1")))
            continue
        assert reply.status_code == 200, reply.text
        return
    raise AssertionError("never acknowledged")


def send_otlp_proto(c: Collector, spans: list[Span]) -> None:
    url = "http://{}:{}/v1/traces".format(*c.addresses["otlp_http"])
    for i in range(0, len(spans), 40):
        _post(url, spans_to_request(spans[i : i + 40]).SerializeToString(), {"Content-Type": "application/x-protobuf"})


def send_otlp_gzip(c: Collector, spans: list[Span]) -> None:
    url = "http://{}:{}/v1/traces".format(*c.addresses["otlp_http"])
    headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}
    for i in range(0, len(spans), 40):
        _post(url, gzip.compress(spans_to_request(spans[i : i + 40]).SerializeToString()), headers)


def send_otlp_json(c: Collector, spans: list[Span]) -> None:
    url = "http://{}:{}/v1/traces".format(*c.addresses["otlp_http"])
    for i in range(0, len(spans), 40):
        _post(url, orjson.dumps(request_from_spans(spans[i : i + 40])), {"Content-Type": "application/json"})


def send_otlp_grpc(c: Collector, spans: list[Span]) -> None:
    with grpc.insecure_channel("{}:{}".format(*c.addresses["otlp_grpc"])) as channel:
        export = channel.unary_unary(EXPORT, response_deserializer=ExportTraceServiceResponse.FromString)
        for i in range(0, len(spans), 40):
            reply = export(spans_to_request(spans[i : i + 40]).SerializeToString(), timeout=30)
            assert not reply.HasField("partial_success") or reply.partial_success.rejected_spans == 0


def send_xray_udp(c: Collector, spans: list[Span]) -> None:
    target = c.addresses["xray_udp"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for n, span in enumerate(spans):
            data = b'{"format":"json","version":1}\n' + orjson.dumps(document_from_span(span))
            assert len(data) < 64 * 1024
            sock.sendto(data, target)
            if n % 50 == 49:
                time.sleep(0.01)  # UDP has no acknowledgement: do not outrun the receive buffer
    deadline = time.monotonic() + 30
    while c.counters.get("writer.spans") < len(spans) and time.monotonic() < deadline:
        time.sleep(0.05)


PROTOCOLS: dict[str, tuple[Callable[[Collector, list[Span]], None], Callable[..., dict[str, Any]]]] = {
    "otlp_http_protobuf": (send_otlp_proto, otlp_view),
    "otlp_http_gzip": (send_otlp_gzip, otlp_view),
    "otlp_http_json": (send_otlp_json, otlp_view),
    "otlp_grpc": (send_otlp_grpc, otlp_view),
    "xray_udp": (send_xray_udp, lambda s, sent: xray_view(s, sent=sent)),
}


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_every_field_arrives_through_every_protocol(tmp_path: Path, protocol: str) -> None:
    send, view = PROTOCOLS[protocol]
    sent = generate_spans()
    assert len(sent) == TRACES * SPANS_PER_TRACE
    db = tmp_path / "spans.db"
    config = all_receivers_config(db, service_map=False)
    with BackgroundCollector(config) as collector:
        send(collector, sent)
        assert collector.counters.get("writer.spans") == len(sent)
    with open_store(db, readonly=True) as store:
        stored = {(s.trace_id, s.span_id): s for t in store.iter_traces() for s in t.spans}
    assert len(stored) == len(sent)
    mismatches = compare(sent, stored, view)
    assert mismatches == [], f"{len(mismatches)} mismatches, first: " + "\n".join(mismatches[:20])


def test_generator_covers_every_field() -> None:
    spans = generate_spans()
    assert {s.kind for s in spans} == set(Kind)
    assert {s.status for s in spans} == set(Status)
    assert any(s.in_progress for s in spans) and any(s.parent_id is None for s in spans)
    assert all(any(getattr(s, f) for s in spans) for f in ("annotations", "events", "exceptions", "links"))
    assert {s.origin for s in spans} >= {"", conv.ORIGIN_LAMBDA, conv.ORIGIN_BATCH}
    values = [v for s in spans for v in s.attributes.values()]
    for kind in (str, int, float, bool, list):
        assert any(type(v) is kind for v in values), kind
    assert 2**63 - 1 in values and -(2**63) in values
