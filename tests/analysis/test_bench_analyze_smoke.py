"""The analyze benchmark's generated workload is well formed and yields every kind of finding (no timings)."""

from __future__ import annotations

from benchmarks.bench_analyze import SPANS_PER_TRACE, generate, report_of


def test_generated_workload_has_every_finding():
    traces = generate(200)
    assert all(len(t.spans) == SPANS_PER_TRACE and not t.missing_parent for t in traces)
    report = report_of(traces)
    assert report.spans == 200 * SPANS_PER_TRACE
    assert report.hotspots and report.failure_chains and report.stragglers and report.cold_starts
