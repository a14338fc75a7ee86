"""The write path's lookups: only spans of summarised traces are looked up, and a store whose traces
table lost a row (a span stored without its trace's summary) is still written idempotently."""

from __future__ import annotations

from pathlib import Path

from spanscope.collectors.store import open_store

from tests.builders import make_span


def test_spans_of_new_and_known_traces_in_one_write(tmp_path: Path) -> None:
    with open_store(tmp_path / "spans.db") as store:
        store.write_spans([make_span("a", trace="known"), make_span("b", "a", trace="known", in_progress=True)])
        result = store.write_spans(
            [
                make_span("a", trace="known"),  # held: unchanged
                make_span("b", "a", 0, 5, trace="known"),  # completes the in-progress one
                make_span("c", "a", trace="known"),  # new span of a known trace
                make_span("x", trace="new"),  # a new trace
            ]
        )
        assert (result.inserted, result.replaced, result.unchanged) == (2, 1, 1)
        assert store.span_count() == 4
        known = store.get_trace(make_span("a", trace="known").trace_id)
        assert not any(s.in_progress for s in known.spans)
        assert sorted(s.span_count for s in store.summaries()) == [1, 3]


def test_a_span_stored_without_its_trace_summary_is_found_and_not_duplicated(tmp_path: Path) -> None:
    with open_store(tmp_path / "spans.db") as store:
        store.write_spans([make_span("a", trace="t"), make_span("b", "a", trace="t", in_progress=True)])
        with store.connection() as conn:
            conn.execute("DELETE FROM traces")  # a damaged traces table: the spans are still there
        result = store.write_spans([make_span("a", trace="t"), make_span("b", "a", 0, 9, trace="t")])
        assert (result.inserted, result.replaced, result.unchanged) == (0, 1, 1)
        assert store.span_count() == 2
        trace = store.get_trace(make_span("a", trace="t").trace_id)
        assert {s.name: s.in_progress for s in trace.spans} == {"a": False, "b": False}
