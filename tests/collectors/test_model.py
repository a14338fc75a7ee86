"""The span model: ids, status rules, and a tree index that survives real data's defects."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from spanscope.collectors.errors import InvalidIdError, SpanscopeError
from spanscope.collectors.model import (
    Kind,
    Span,
    Status,
    Trace,
    group_traces,
    new_trace_id,
    normalize_span_id,
    normalize_trace_id,
    otel_trace_id,
    status_from_flags,
    status_from_http,
    xray_trace_id,
)

from tests.builders import SUMMARY_JSON_KEYS, build_trace, chain, make_span, span_id_for, trace_id_for

XRAY = "1-5759e988-bd862e3fe1be46a994272793"
OTEL = "5759e988bd862e3fe1be46a994272793"


def test_id_conversion_both_ways() -> None:
    assert otel_trace_id(XRAY) == OTEL
    assert xray_trace_id(OTEL) == XRAY
    assert xray_trace_id(XRAY) == XRAY
    assert normalize_trace_id(OTEL.upper()) == OTEL


@given(st.binary(min_size=16, max_size=16).filter(lambda b: any(b)))
def test_id_round_trip(raw: bytes) -> None:
    otel = raw.hex()
    assert otel_trace_id(xray_trace_id(otel)) == otel


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "xyz",
        "1-5759e988-bd862e3fe1be46a99427279",
        "2-5759e988-bd862e3fe1be46a994272793",
        "0" * 32,
        "g" * 32,
        "1-5759e988bd862e3fe1be46a994272793x",
    ],
)
def test_malformed_trace_id_names_the_value(bad: str) -> None:
    with pytest.raises(InvalidIdError) as info:
        normalize_trace_id(bad)
    assert repr(bad) in str(info.value)
    assert isinstance(info.value, SpanscopeError)


def test_otel_trace_id_requires_xray_form() -> None:
    with pytest.raises(InvalidIdError, match="X-Ray"):
        otel_trace_id(OTEL)


@pytest.mark.parametrize("bad", ["", "abc", "0" * 16, "z" * 16, "a" * 17])
def test_malformed_span_id(bad: str) -> None:
    with pytest.raises(InvalidIdError, match="span id"):
        normalize_span_id(bad)


def test_new_trace_id_starts_with_epoch_seconds() -> None:
    tid = new_trace_id(now_s=0x5759E988)
    assert tid.startswith("5759e988") and len(tid) == 32
    assert normalize_trace_id(tid) == tid


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (200, Status.OK),
        (302, Status.OK),
        (400, Status.ERROR),
        (404, Status.ERROR),
        (429, Status.THROTTLE),
        (500, Status.FAULT),
        (503, Status.FAULT),
        (None, Status.OK),
    ],
)
def test_status_from_http_follows_xray(code: int | None, status: Status) -> None:
    assert status_from_http(code) is status


def test_status_flags_precedence() -> None:
    assert status_from_flags(error=True, throttle=True) is Status.THROTTLE
    assert status_from_flags(error=True, fault=True) is Status.FAULT
    assert status_from_flags() is Status.OK
    assert Status.ERROR.failed and not Status.OK.failed


def test_tree_order_and_children_sorted_by_start() -> None:
    tr = build_trace([("root", None, 0, 100), ("b", "root", 50, 60), ("a", "root", 10, 20), ("a1", "a", 11, 12)])
    names = [tr.spans[i].name for i, _ in tr.preorder()]
    assert names == ["root", "a", "a1", "b"]
    assert tr.root is not None and tr.root.name == "root"
    assert [tr.spans[i].name for i in tr.postorder()][-1] == "root"


def test_missing_parent_becomes_root_after_true_root() -> None:
    tr = build_trace([("orphan", "ghost", 0, 5), ("root", None, 10, 20)])
    assert [tr.spans[i].name for i in tr.roots] == ["root", "orphan"]
    assert [tr.spans[i].name for i in tr.missing_parent] == ["orphan"]


def test_all_orphans_root_is_earliest() -> None:
    tr = build_trace([("late", "x", 10, 20), ("early", "y", 0, 5)])
    assert tr.root is not None and tr.root.name == "early"


def test_parent_cycle_is_broken_at_earliest_span() -> None:
    spans = [
        make_span("a", "c", 5, 9),
        make_span("b", "a", 6, 8),
        make_span("c", "b", 1, 10),
        make_span("d", "b", 7, 8),
    ]
    tr = Trace(trace_id_for("t"), spans)
    assert [tr.spans[i].name for i in tr.cycle_breaks] == ["c"]
    assert sorted(tr.spans[i].name for i, _ in tr.preorder()) == ["a", "b", "c", "d"]
    assert tr.root is not None and tr.root.name == "c"


def test_self_parent_is_a_missing_parent_not_a_loop() -> None:
    tr = Trace(trace_id_for("t"), [make_span("a", "a", 0, 1)])
    assert len(list(tr.preorder())) == 1


def test_duplicate_ids_keep_completed_latest_record() -> None:
    spans = [
        make_span("a", None, 0, 5, in_progress=True),
        make_span("a", None, 0, 9),
        make_span("a", None, 0, 7),
        make_span("b", "a", 1, 2),
    ]
    tr = Trace(trace_id_for("t"), spans)
    assert tr.get(span_id_for("a")) is spans[1]
    assert tr.duplicates == [0, 2]
    assert [i for i, _ in tr.preorder()] == [1, 3]
    summary = tr.summary()
    assert summary.span_count == 2 and not summary.in_progress


def test_deep_chain_without_recursion() -> None:
    spans = chain(100_000)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        tr = Trace(spans[0].trace_id, spans)
        depths = [d for _, d in tr.preorder()]
        post = tr.postorder()
        summary = tr.summary()
    finally:
        sys.setrecursionlimit(limit)
    assert depths[-1] == 99_999
    assert post[0] == 99_999
    assert summary.span_count == 100_000


def test_summary_flags_and_json_keys() -> None:
    tr = build_trace(
        [
            ("root", None, 0, 100, {"service": "api", "kind": Kind.SERVER, "operation": "GET /"}),
            ("q", "root", 10, 20, {"service": "db", "status": Status.THROTTLE}),
            ("w", "root", 30, 40, {"service": "worker", "status": Status.FAULT}),
        ]
    )
    summary = tr.summary()
    assert (summary.error, summary.throttle, summary.fault) == (True, True, True)
    doc = summary.to_json()
    assert set(doc) >= SUMMARY_JSON_KEYS
    assert doc["root_name"] == "GET /" and doc["services"] == ["api", "db", "worker"]
    assert doc["duration"] == pytest.approx(0.1)


def test_negative_duration_counts_as_zero() -> None:
    span = Span(OTEL, "a" * 16, None, "s", "n", start_ns=10, end_ns=5)
    assert span.duration_ns == 0


def test_group_traces_keeps_order() -> None:
    a = make_span("x", trace="one")
    b = make_span("y", trace="two")
    c = make_span("z", trace="one")
    groups = group_traces([a, b, c])
    assert [len(g) for g in groups] == [2, 1]


@given(
    st.lists(
        st.tuples(st.integers(0, 30), st.one_of(st.none(), st.integers(0, 30)), st.integers(0, 50)),
        max_size=60,
    )
)
def test_any_parent_graph_is_indexed_once_per_span(rows: list[tuple[int, int | None, int]]) -> None:
    spans = [make_span(f"n{i}", f"n{p}" if p is not None else None, s, s + 1) for i, p, s in rows]
    tr = Trace(trace_id_for("t"), spans)
    visited = [i for i, _ in tr.preorder()]
    assert len(visited) == len(set(visited)) == len(spans) - len(tr.duplicates)
