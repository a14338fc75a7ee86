"""The whole report on demo-like traces stays what it was: a stored report (every field, JSON) compared whole.

The traces are the TUI's sample shop (API, orders, payments, DynamoDB, an SQS hop whose consumer trace links
to its producer, a Batch job, a 400-span trace) plus a few that reach the analyzers the shop does not: a
CloudFront edge calling a cold-started function in a region, a server span on a skewed host, a device's
recorded clock offset. Regenerate ``golden_report.json`` only for an intended change of behaviour:
``.venv/bin/python -m tests.analysis.test_report_golden``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from spanscope.analysis.report import build_report
from spanscope.collectors.model import Kind, Span, Status, Trace

from tests.fixtures.tui.sample_store import BASE_NS, MS, sample_spans, span_id, trace_id

GOLDEN = Path(__file__).with_name("golden_report.json")


def _edge_trace(n: int) -> list[Span]:
    """viewer at an edge location → origin call → a cold-started orders function in us-east-1 (baseline shape)."""
    tid, t0 = trace_id(n), BASE_NS + n * 60_000 * MS
    edge = {"spanscope.location": "edge:IAD89-C1", "host.name": "edge-1"}
    region = {"cloud.region": "us-east-1", "host.name": f"lambda-{n % 3}"}
    cold = n % 4 == 0
    skew = 40 * MS if n % 5 == 0 else 0  # the function's host clock runs ahead
    fn_attrs: dict[str, Any] = {"faas.coldstart": cold, "faas.name": "orders-fn"}
    if cold:
        fn_attrs["spanscope.faas.init_duration_ns"] = 120 * MS
    spans = [
        Span(tid, span_id(n, "viewer"), None, "cdn", "GET /orders", Kind.SERVER, t0, t0 + 400 * MS, resource=edge),
        Span(
            tid,
            span_id(n, "origin"),
            span_id(n, "viewer"),
            "cdn",
            "origin POST /orders",
            Kind.CLIENT,
            t0 + 10 * MS,
            t0 + 390 * MS,
            resource=edge,
        ),
        Span(
            tid,
            span_id(n, "fn"),
            span_id(n, "origin"),
            "orders-fn",
            "POST /orders",
            Kind.SERVER,
            t0 + (150 if cold else 30) * MS + skew,
            t0 + 370 * MS + skew,
            resource=region,
            attributes=fn_attrs,
            status=Status.FAULT if n % 7 == 0 else Status.OK,
        ),
        Span(
            tid,
            span_id(n, "ddb"),
            span_id(n, "fn"),
            "orders-fn",
            "DynamoDB",
            Kind.CLIENT,
            t0 + 200 * MS + skew,
            t0 + (260 + n % 9 * 10) * MS + skew,
            resource=region,
            attributes={"rpc.system": "aws-api", "rpc.service": "DynamoDB"},
        ),
    ]
    if n % 3 == 0:  # a Greengrass device with a recorded clock offset
        device = {"spanscope.location": "device:thing-7", "host.name": "thing-7"}
        spans.append(
            Span(
                tid,
                span_id(n, "dev"),
                span_id(n, "viewer"),
                "sensor",
                "publish",
                Kind.PRODUCER,
                t0 + 5 * MS + 900 * MS,
                t0 + 8 * MS + 900 * MS,
                resource=device,
                attributes={"spanscope.device.clock_offset_ns": 900 * MS},
            )
        )
    return spans


def _fan_out_trace(n: int) -> list[Span]:
    """An EMR step fanning out to twelve tasks (ranks of one HPC step) on their hosts, one a straggler."""
    tid, t0 = trace_id(n), BASE_NS + n * 60_000 * MS
    step = span_id(n, "step")
    spans = [Span(tid, step, None, "emr", "step wordcount", Kind.SERVER, t0, t0 + 2_000 * MS)]
    for k in range(12):
        slow = 900 if k == n % 12 else 0
        spans.append(
            Span(
                tid,
                span_id(n, f"task{k}"),
                step,
                "emr",
                "map task",
                Kind.INTERNAL,
                t0 + (10 + k) * MS,
                t0 + (300 + 7 * k + slow) * MS,
                resource={"host.name": f"core-{k % 4}"},
                attributes={
                    "spanscope.hpc.rank": k,
                    "spanscope.hpc.step": 1,
                    "spanscope.hpc.compute_ns": (280 + 7 * k + slow) * MS,
                },
            )
        )
    return spans


def demo_like_traces() -> list[Trace]:
    spans = sample_spans()
    for n in range(40, 60):
        spans.extend(_edge_trace(n))
    for n in range(60, 66):
        spans.extend(_fan_out_trace(n))
    by_trace: dict[str, list[Span]] = {}
    for span in spans:
        by_trace.setdefault(span.trace_id, []).append(span)
    return [Trace(tid, group) for tid, group in sorted(by_trace.items())]


def _plain(value: Any) -> Any:
    """The report as JSON data: dataclasses to dicts, tuples to lists, dict keys to strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(_plain(k)) if not isinstance(k, str) else k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_plain(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def report_data() -> dict[str, Any]:
    traces = demo_like_traces()
    half = len(traces) // 2
    full = _plain(build_report(traces, service_map=False))
    compared = _plain(build_report(traces[half:], baseline=traces[:half], service_map=False))
    raw = _plain(build_report(traces, service_map=False, adjust_skew=False, percentiles="sketch"))
    data: dict[str, Any] = json.loads(json.dumps({"full": full, "with_baseline": compared, "raw_sketch": raw}))
    return data


def test_the_report_on_demo_like_traces_is_unchanged() -> None:
    want = json.loads(GOLDEN.read_text(encoding="utf-8"))
    got = report_data()
    for part in want:
        assert got[part] == want[part], f"report part {part!r} changed"


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(report_data(), sort_keys=True, separators=(",", ":")) + "\n", encoding="utf-8")
