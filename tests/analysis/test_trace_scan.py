"""The per-trace scan (``trace_tree.scan_trace``) agrees with what the analyzers it lets the report skip would read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from spanscope.analysis.skew import adjust_clock_skew
from spanscope.analysis.trace_tree import children_lists, scan_trace
from spanscope.collectors import conventions as cv
from spanscope.collectors.formats.zipkin import parse_spans
from spanscope.collectors.model import Kind, Status, Trace, group_traces

from tests.builders import make_span

SKEW = Path(__file__).parent.parent / "fixtures" / "zipkin" / "skew.json"


def traces() -> list[Trace]:
    (skewed,) = group_traces(parse_spans(json.loads(SKEW.read_bytes())).spans)
    plain = Trace(
        make_span("a").trace_id,
        [
            make_span("a", None, 0, 10, kind=Kind.CLIENT),
            make_span("b", "a", 1, 9, kind=Kind.SERVER, status=Status.THROTTLE),
            make_span("c", "b", 2, 3, attributes={cv.HPC_RANK: 1}),
        ],
    )
    outside = Trace(
        make_span("a", trace="o").trace_id,
        [
            make_span("a", None, 5, 10, trace="o", kind=Kind.CLIENT),
            make_span("b", "a", 4, 9, trace="o", kind=Kind.SERVER, resource={"host.name": "h"}),
        ],
    )
    device = Trace(
        make_span("a", trace="d").trace_id,
        [make_span("a", None, 0, 10, trace="d", attributes={cv.DEVICE_CLOCK_OFFSET_NS: 5, cv.CLOUD_REGION: "x"})],
    )
    return [skewed, plain, outside, device, Trace(make_span("a", trace="e").trace_id, [])]


@pytest.mark.parametrize("trace", traces(), ids=["skew.json", "plain", "outside", "device", "empty"])
def test_scan_reads_what_each_pass_would(trace: Trace) -> None:
    scan = scan_trace(trace)
    assert [list(k) for k in scan.kids] == [list(k) for k in children_lists(trace)]
    assert (scan.start_ns, scan.end_ns) == (trace.start_ns, trace.end_ns)
    assert scan.failed == any(s.status.failed for s in trace.spans)
    assert scan.attribute_keys == {k for s in trace.spans for k in s.attributes}
    assert scan.placed == any(
        s.resource or cv.LOCATION in s.attributes or cv.CLOUD_REGION in s.attributes for s in trace.spans
    )
    if not scan.skew:  # nothing to adjust: the adjuster agrees
        assert adjust_clock_skew(trace) == (trace, {})


def test_scan_flags_the_traces_that_need_them() -> None:
    skewed, plain, outside, device, _empty = (scan_trace(t) for t in traces())
    assert skewed.skew and outside.skew and device.skew and not plain.skew
    assert plain.failed and not outside.failed
    assert cv.HPC_RANK in plain.attribute_keys
    assert outside.placed and device.placed and not plain.placed
