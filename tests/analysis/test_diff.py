"""diff_traces: two trees matched by (service, operation) path, ranked by contribution to the end-to-end change."""

from __future__ import annotations

from spanscope.analysis.diff import diff_traces
from spanscope.collectors.model import Kind, Status, Trace

from tests.builders import MS, build_trace, chain, trace_id_for


def checkout(label: str, *, db_ms: float, calls: int, fault: bool = False, cache: bool = True) -> Trace:
    rows: list[tuple[object, ...]] = [
        ("root", None, 0, 40 + db_ms * calls, {"service": "api", "operation": "POST /checkout", "kind": Kind.SERVER}),
        ("auth", "root", 1, 9, {"service": "api", "operation": "verify token"}),
    ]
    start = 10.0
    for i in range(calls):
        rows.append(
            (
                f"put{i}",
                "root",
                start,
                start + db_ms,
                {"service": "orders", "operation": "PutItem", "kind": Kind.CLIENT},
            )
        )
        start += db_ms
    if cache:
        rows.append(("cache", "root", start, start + 5, {"service": "api", "operation": "cache get"}))
    rows.append(
        ("pay", "root", start + 5, start + 25, {"service": "payments", "status": Status.FAULT if fault else Status.OK})
    )
    return build_trace(rows, trace=label)


def by_operation(result: object) -> dict[str, object]:
    return {n.operation: n for n in result.tree}  # type: ignore[attr-defined]


def test_identical_traces_change_nothing() -> None:
    a = checkout("a", db_ms=10, calls=2)
    b = checkout("b", db_ms=10, calls=2)
    result = diff_traces(a, b)
    assert result.delta_ns == 0
    assert {n.change for n in result.tree} == {"same"}
    assert all(n.contribution_ns == 0 for n in result.tree)


def test_paths_match_across_traces_and_repeated_calls_are_one_node() -> None:
    a = checkout("a", db_ms=10, calls=2)
    b = checkout("b", db_ms=30, calls=5, fault=True, cache=False)
    result = diff_traces(a, b)
    nodes = by_operation(result)
    put = nodes["PutItem"]
    assert (put.a.count, put.b.count) == (2, 5)
    assert (put.a.duration_ns, put.b.duration_ns) == (20 * MS, 150 * MS)
    assert put.change == "slower"
    assert nodes["cache get"].change == "missing" and nodes["cache get"].b.count == 0
    assert nodes["pay"].change == "failed" and nodes["pay"].b.status is Status.FAULT
    assert [n.operation for n in result.path(put)] == ["POST /checkout", "PutItem"]
    # The node that made B slower comes first, and the contributions add up to the end-to-end change.
    assert result.nodes[0] is put
    assert sum(n.contribution_ns for n in result.tree) == result.delta_ns == 130 * MS


def test_only_in_b_is_added_and_recovery_is_seen() -> None:
    a = checkout("a", db_ms=10, calls=1, fault=True, cache=False)
    b = checkout("b", db_ms=10, calls=1)
    nodes = by_operation(diff_traces(a, b))
    assert nodes["cache get"].change == "added" and nodes["cache get"].a.status is None
    assert nodes["pay"].change == "recovered"


def test_faster_trace_ranks_what_saved_time_first() -> None:
    result = diff_traces(checkout("a", db_ms=50, calls=3), checkout("b", db_ms=10, calls=3))
    assert result.delta_ns < 0
    assert result.nodes[0].operation == "PutItem" and result.nodes[0].change == "faster"


def test_asynchronous_work_after_the_entry_span_is_not_credited_to_the_critical_path() -> None:
    def rows(consumer_ms: int) -> list[tuple[object, ...]]:
        return [
            ("root", None, 0, 50, {"service": "api", "operation": "POST /orders"}),
            ("send", "root", 10, 20, {"service": "api", "operation": "send", "kind": Kind.PRODUCER}),
            ("work", "send", 30, 30 + consumer_ms, {"service": "worker", "kind": Kind.CONSUMER}),
        ]

    result = diff_traces(build_trace(rows(100), trace="q1"), build_trace(rows(400), trace="q2"))
    assert result.delta_ns == 300 * MS
    assert result.critical_delta_ns == 0  # the request itself did not get slower
    work = by_operation(result)["work"]
    assert work.change == "slower" and work.duration_change_ns == 300 * MS


def test_same_operation_under_different_parents_are_different_nodes() -> None:
    rows = [
        ("root", None, 0, 100, {"service": "api", "operation": "GET /"}),
        ("a", "root", 10, 40, {"service": "api", "operation": "step"}),
        ("q1", "a", 11, 20, {"service": "db", "operation": "query"}),
        ("b", "root", 50, 90, {"service": "api", "operation": "other"}),
        ("q2", "b", 51, 60, {"service": "db", "operation": "query"}),
    ]
    result = diff_traces(build_trace(rows, trace="x"), build_trace(rows[:3], trace="y"))
    queries = [n for n in result.tree if n.operation == "query"]
    assert len(queries) == 2
    assert {result.tree[q.parent].operation: q.change for q in queries if q.parent is not None} == {
        "step": "same",
        "other": "missing",
    }


def test_deep_chains_and_broken_trees_do_not_recurse_or_crash() -> None:
    deep_a = Trace(trace_id_for("deep-a"), chain(30_000, trace="deep-a"))
    deep_b = Trace(trace_id_for("deep-b"), chain(30_001, trace="deep-b"))
    result = diff_traces(deep_a, deep_b)
    assert result.count("added") == 1 and len(result.tree) == 30_001
    assert len(result.path(result.tree[-1], limit=64)) == 64
    cyclic = build_trace(
        [
            ("x", "y", 0, 10, {"service": "s"}),
            ("y", "x", 1, 5, {"service": "s"}),
            ("orphan", "nobody", 2, 3, {"service": "s"}),
        ],
        trace="cyc",
    )
    assert diff_traces(cyclic, cyclic).count("same") == len(diff_traces(cyclic, cyclic).tree)


def test_docstring_examples() -> None:
    import doctest

    import spanscope.analysis.diff

    assert doctest.testmod(spanscope.analysis.diff).failed == 0
