"""Critical path rules on small hand-built traces (tests/builders.py)."""

from __future__ import annotations

import pytest
from spanscope.analysis import critical_path, critical_time_by_span
from spanscope.collectors.errors import AnalysisError, SpanscopeError
from spanscope.collectors.model import Kind, Span, Trace

from tests.builders import BASE_NS, MS, build_trace, span_id_for, trace_id_for


def path(tr: Trace, **kw: float) -> list[tuple[str, float, float]]:
    """Critical path as (name, start ms, end ms) with names instead of ids."""
    names = {s.span_id: s.name for s in tr.spans}
    return [(names[s.span_id], (s.start_ns - BASE_NS) / MS, (s.end_ns - BASE_NS) / MS) for s in critical_path(tr, **kw)]


def test_sequential_children_all_on_path_with_parent_gaps():
    tr = build_trace([("root", None, 0, 100), ("a", "root", 10, 40), ("b", "root", 50, 90)])
    assert path(tr) == [
        ("root", 0, 10),
        ("a", 10, 40),
        ("root", 40, 50),
        ("b", 50, 90),
        ("root", 90, 100),
    ]


def test_overlapping_children_only_last_finisher_and_earlier_finishers():
    tr = build_trace(
        [
            ("root", None, 0, 100),
            ("a", "root", 0, 60),  # overlaps b by 10ms: not before b started
            ("b", "root", 50, 90),
            ("c", "root", 5, 20),  # finished before b started: on the path
        ]
    )
    assert path(tr) == [("root", 0, 5), ("c", 5, 20), ("root", 20, 50), ("b", 50, 90), ("root", 90, 100)]


def test_overlap_tolerance_counts_slight_overlap_as_sequential():
    rows = [("root", None, 0, 100), ("a", "root", 0, 51), ("b", "root", 50, 100)]
    assert [n for n, *_ in path(build_trace(rows), overlap_tolerance=0.0)] == ["root", "b"]
    # 1% of 100ms = 1ms of overlap tolerated; a is clamped to where b started
    assert path(build_trace(rows), overlap_tolerance=0.01) == [("a", 0, 50), ("b", 50, 100)]


def test_negative_tolerance_is_an_analysis_error():
    tr = build_trace([("root", None, 0, 1)])
    with pytest.raises(AnalysisError):
        critical_path(tr, overlap_tolerance=-0.1)
    assert issubclass(AnalysisError, SpanscopeError)


def test_overflowing_child_is_clamped_to_parent():
    tr = build_trace([("root", None, 0, 100), ("late", "root", 80, 150), ("early", "root", -20, 10)])
    assert path(tr) == [("early", 0, 10), ("root", 10, 80), ("late", 80, 100)]


def test_detached_child_entirely_outside_is_dropped():
    tr = build_trace([("root", None, 0, 100), ("away", "root", 200, 300), ("before", "root", -50, -10)])
    assert path(tr) == [("root", 0, 100)]


def test_async_consumer_under_producer_not_on_callers_path():
    tr = build_trace(
        [
            ("root", None, 0, 100),
            ("send", "root", 10, 20, {"kind": Kind.PRODUCER}),
            ("process", "send", 15, 95, {"kind": Kind.CONSUMER, "service": "worker"}),
        ]
    )
    assert path(tr) == [("root", 0, 10), ("send", 10, 20), ("root", 20, 100)]


def test_child_linked_to_parent_is_async():
    tr = build_trace(
        [
            ("root", None, 0, 100),
            ("job", "root", 5, 99, {"links": [("t", "root")]}),
        ]
    )
    assert path(tr) == [("root", 0, 100)]


def test_equal_end_times_credit_the_longer_child():
    tr = build_trace([("root", None, 0, 100), ("short", "root", 60, 90), ("long", "root", 20, 90)])
    assert path(tr) == [("root", 0, 20), ("long", 20, 90), ("root", 90, 100)]


def test_clock_skewed_child_shifted_partly_outside():
    # the child's clock runs 30ms ahead: it appears to end after its parent
    tr = build_trace([("root", None, 0, 100), ("call", "root", 10, 90), ("skewed", "call", 70, 120)])
    assert path(tr) == [("root", 0, 10), ("call", 10, 70), ("skewed", 70, 90), ("root", 90, 100)]


def test_nested_grandchildren_are_walked():
    tr = build_trace(
        [
            ("root", None, 0, 100),
            ("a", "root", 10, 90),
            ("a1", "a", 20, 40),
            ("a2", "a", 50, 80),
        ]
    )
    segs = path(tr)
    assert segs == [
        ("root", 0, 10),
        ("a", 10, 20),
        ("a1", 20, 40),
        ("a", 40, 50),
        ("a2", 50, 80),
        ("a", 80, 90),
        ("root", 90, 100),
    ]
    total = sum(e - s for _, s, e in segs)
    assert total == 100


def test_self_time_by_span_sums_to_root_duration():
    tr = build_trace([("root", None, 0, 100), ("a", "root", 10, 40), ("b", "root", 50, 90)])
    by_span = critical_time_by_span(critical_path(tr))
    assert by_span[span_id_for("root")] == 30 * MS
    assert sum(by_span.values()) == 100 * MS
    assert all(s.self_time_ns > 0 for s in critical_path(tr))


def test_zero_timestamps_terminate():
    tid = trace_id_for("z")
    spans = [
        Span(tid, "a" * 16, None, "s", "root", start_ns=0, end_ns=0),
        Span(tid, "b" * 16, "a" * 16, "s", "kid", start_ns=0, end_ns=0),
    ]
    segs = critical_path(Trace(tid, spans))
    assert [(s.span_id, s.start_ns, s.end_ns) for s in segs] == [("a" * 16, 0, 0)]


def test_end_before_start_treated_as_empty():
    tr = build_trace([("root", None, 0, 100), ("bad", "root", 50, 40)])
    assert path(tr) == [("root", 0, 100)]


def test_cycle_and_missing_parent_terminate():
    tid = trace_id_for("cyc")
    spans = [
        Span(tid, "a" * 16, "b" * 16, "s", "x", start_ns=BASE_NS, end_ns=BASE_NS + 10),
        Span(tid, "b" * 16, "a" * 16, "s", "y", start_ns=BASE_NS + 1, end_ns=BASE_NS + 9),
        Span(tid, "c" * 16, "f" * 16, "s", "orphan", start_ns=BASE_NS, end_ns=BASE_NS + 5),
    ]
    segs = critical_path(Trace(tid, spans))
    assert segs and segs[0].start_ns >= BASE_NS


def test_empty_trace():
    assert critical_path(Trace(trace_id_for("e"), [])) == []


def test_in_progress_spans_without_end_run_to_what_was_seen():
    tr = build_trace(
        [
            ("root", None, 0, 0, {"in_progress": True}),
            ("a", "root", 10, 40),
            ("b", "root", 50, 0, {"in_progress": True}),
            ("b1", "b", 60, 90),
        ]
    )
    assert path(tr) == [("root", 0, 10), ("a", 10, 40), ("root", 40, 50), ("b", 50, 60), ("b1", 60, 90)]
