"""The analyze benchmark's generated workload is well formed and yields every kind of finding (no timings)."""

from __future__ import annotations

from spanscope.analysis.report import build_report

from tests.load import SPANS_PER_TRACE, generate


def test_generated_workload_has_every_finding():
    traces = generate(200)
    assert all(len(t.spans) == SPANS_PER_TRACE and not t.missing_parent for t in traces)
    report = build_report(traces)  # what bench_analyze times (report_of)
    assert report.spans == 200 * SPANS_PER_TRACE
    assert report.hotspots and report.failure_chains and report.stragglers and report.cold_starts
