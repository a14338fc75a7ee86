"""The write path's lookups: only spans of summarised traces are looked up, and a store whose traces
table lost a row (a span stored without its trace's summary) is still written idempotently."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from spanscope.collectors.model import Span, Status
from spanscope.collectors.store import open_store
from spanscope.collectors.store.summaries import SummaryAcc, new_trace_row

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


@pytest.mark.parametrize(
    "span",
    [
        make_span("root"),
        make_span("child", "root", 2, 5, status=Status.THROTTLE, service="api"),
        make_span("failed", status=Status.FAULT, in_progress=True),
        make_span("erred", "x", status=Status.ERROR, service=""),
        replace(make_span("unstarted"), start_ns=0, end_ns=-5),
    ],
    ids=["root", "throttled-child", "in-progress-fault", "error-no-service", "no-times"],
)
def test_the_row_of_a_new_one_span_trace_is_the_accumulators(span: Span) -> None:
    acc = SummaryAcc(span.trace_id)
    acc.add(span, None)
    assert new_trace_row(span, 7) == acc.to_row(7)


def test_resources_equal_by_content_share_one_row(tmp_path: Path) -> None:
    with open_store(tmp_path / "spans.db") as store:
        store.write_spans([make_span("a", resource={"service.name": "svc", "n": 1})])
        store.write_spans(
            [
                make_span("b", trace="u", resource={"n": 1, "service.name": "svc"}),  # another dict, same content
                make_span("c", trace="v", resource={"service.name": "svc", "n": True}),  # not the same resource
                make_span("d", trace="w", resource={"service.name": "svc", "n": 1.0}),
            ]
        )
        with store.connection() as conn:
            assert conn.execute("SELECT count(*) FROM resources").fetchone()[0] == 3
        resources = {
            s.name: s.resource
            for label in ("t", "u", "v", "w")
            for s in store.get_trace(make_span("a", trace=label).trace_id).spans
        }
        assert resources == {
            "a": {"service.name": "svc", "n": 1},
            "b": {"service.name": "svc", "n": 1},
            "c": {"service.name": "svc", "n": True},
            "d": {"service.name": "svc", "n": 1.0},
        }
        assert type(resources["c"]["n"]) is bool and type(resources["d"]["n"]) is float
