"""Hotspots (with a baseline), stragglers and cold starts on small hand-built traces."""

from __future__ import annotations

import pytest
from spanscope.analysis import (
    cold_starts,
    cold_starts_partial,
    compare_with_baseline,
    hotspots,
    hotspots_partial,
    merge_cold_starts,
    merge_hotspots,
    merge_stragglers,
    stragglers,
    stragglers_partial,
)
from spanscope.analysis.stats import mad, median, percentile
from spanscope.collectors.model import Kind

from tests.builders import MS, build_trace, trace_id_for


def request(label, *, db_ms=30, region="us-east-1"):
    return build_trace(
        [
            (
                "root",
                None,
                0,
                100 + db_ms,
                {"service": "api", "operation": "GET /orders", "attributes": {"cloud.region": region}},
            ),
            ("auth", "root", 5, 20, {"service": "auth", "operation": "check"}),
            ("db", "root", 50, 50 + db_ms, {"service": "orders", "operation": "query", "kind": Kind.CLIENT}),
        ],
        trace=label,
    )


# --- hotspots -------------------------------------------------------------------------------------------


def test_hotspots_rank_by_critical_path_time_with_self_time_and_percentiles():
    traces = [request(str(i), db_ms=100 + i) for i in range(10)]
    ranked = hotspots(traces)
    assert [(h.service, h.operation) for h in ranked] == [
        ("orders", "query"),
        ("api", "GET /orders"),
        ("auth", "check"),
    ]
    top = ranked[0]
    assert top.count == 10
    assert top.critical_path_ns == sum(100 + i for i in range(10)) * MS
    assert top.self_ns == top.critical_path_ns
    assert top.p50_ns == 104 * MS and top.p95_ns == 109 * MS and top.p99_ns == 109 * MS
    api = ranked[1]
    # the root's self time excludes both children; its critical path time excludes them too
    assert api.self_ns == 10 * (100 - 15) * MS
    assert api.critical_path_ns == api.self_ns


def test_hotspot_self_time_with_overlapping_and_overflowing_children():
    tr = build_trace(
        [
            ("root", None, 0, 100),
            ("a", "root", 10, 50),
            ("b", "root", 30, 70),
            ("c", "root", 90, 200),
        ]
    )
    by_op = {h.operation: h for h in hotspots([tr])}
    assert by_op["root"].self_ns == (100 - 60 - 10) * MS


def test_hotspot_partials_merge_like_a_single_pass():
    traces = [request(str(i), db_ms=i) for i in range(8)]
    parts = [hotspots_partial(t) for t in traces]
    merged = merge_hotspots([parts[0].merge(parts[1]).merge(parts[2]), *parts[3:]])
    assert merged == hotspots(traces)


def test_baseline_growth_and_attribute_over_representation():
    baseline = [hotspots_partial(request(f"b{i}", db_ms=30 + i % 3), collect_attributes=True) for i in range(40)]
    current = [
        hotspots_partial(
            request(f"c{i}", db_ms=300 if i % 2 else 30, region="eu-west-1" if i % 2 else "us-east-1"),
            collect_attributes=True,
        )
        for i in range(40)
    ]
    base = baseline[0]
    for p in baseline[1:]:
        base.merge(p)
    cur = current[0]
    for p in current[1:]:
        cur.merge(p)
    cmp = compare_with_baseline(cur, base)
    assert (cmp.growth[0].service, cmp.growth[0].operation) == ("orders", "query")
    assert cmp.growth[0].growth_ns > 100 * MS
    assert cmp.slow_traces == 20 and cmp.baseline_traces == 40
    top = cmp.attributes[0]
    assert (top.key, top.value, top.slow_share, top.baseline_share) == ("cloud.region", "eu-west-1", 1.0, 0.0)


# --- stragglers -----------------------------------------------------------------------------------------


def fanout(durations, *, inputs=None, label="f", hpc_compute=None):
    rows = [("job", None, 0, max(durations) + 1, {"service": "emr", "operation": "job"})]
    for i, d in enumerate(durations):
        attrs = {"mapreduce.task.id": f"m{i}"}
        if inputs is not None:
            attrs["mapreduce.records.in"] = inputs[i]
        if hpc_compute is not None:
            attrs = {"spanscope.hpc.rank": i, "spanscope.hpc.compute_ns": hpc_compute[i] * MS}
        rows.append((f"task{i}", "job", 0, d, {"service": "emr", "operation": "map", "attributes": attrs}))
    return build_trace(rows, trace=label)


def test_straggler_without_input_skew_is_not_explained():
    tr = fanout([100, 102, 98, 101, 99, 100, 250], inputs=[1000] * 7)
    [s] = stragglers([tr])
    assert (s.operation, s.label, s.value_ns) == ("map", "m6", 250 * MS)
    assert s.lost_ns == (250 - 102) * MS
    assert s.input_ratio == 1.0 and s.explained_by_input is False
    assert s.measure == "duration" and s.siblings == 7


def test_straggler_with_input_skew_is_explained():
    tr = fanout([100, 102, 98, 101, 99, 100, 250], inputs=[1000, 1010, 990, 1000, 1000, 1000, 2600])
    [s] = stragglers([tr])
    assert s.explained_by_input is True and s.input_ratio == pytest.approx(2.6)


def test_no_straggler_in_a_uniform_group_or_a_small_one():
    assert stragglers([fanout([100, 101, 99, 100, 102, 100])]) == []
    assert stragglers([fanout([100, 100, 400], label="small")]) == []


def test_straggler_with_zero_mad():
    [s] = stragglers([fanout([100, 100, 100, 100, 100, 300])])
    assert s.mad_ns == 0 and s.value_ns == 300 * MS
    assert s.explained_by_input is None


def test_hpc_ranks_measured_by_compute_time():
    # every rank's step span ends at the barrier: durations are equal, compute time is not
    tr = fanout([500] * 8, hpc_compute=[100, 101, 99, 100, 102, 100, 98, 480])
    [s] = stragglers([tr])
    assert s.measure == "compute" and s.label == "7"
    assert s.lost_ns == (480 - 102) * MS


def test_straggler_partials_merge_ranked_by_time_lost():
    small = fanout([100, 100, 100, 100, 100, 160], label="a")
    big = fanout([100, 100, 100, 100, 100, 900], label="b")
    ranked = merge_stragglers([stragglers_partial(small), stragglers_partial(big)])
    assert [s.trace_id for s in ranked] == [trace_id_for("b"), trace_id_for("a")]


# --- cold starts ----------------------------------------------------------------------------------------


def invocations(spec, *, label="l"):
    rows = []
    for i, (fn, ms, cold) in enumerate(spec):
        attrs = {"faas.coldstart": cold, "faas.name": fn}
        if cold:
            attrs["spanscope.faas.init_duration_ns"] = int(ms * 0.5 * MS)
        rows.append((f"inv{i}", None, 0, ms, {"service": fn, "attributes": attrs}))
    return build_trace(rows, trace=label)


def test_cold_starts_per_function():
    tr = invocations(
        [("a", 100, False), ("a", 110, False), ("a", 400, True), ("a", 120, False), ("b", 50, False), ("b", 60, True)]
    )
    stats = {c.function: c for c in cold_starts([tr])}
    a = stats["a"]
    assert (a.invocations, a.cold, a.cold_rate) == (4, 1, 0.25)
    assert a.cold_p50_ns == 400 * MS and a.warm_p50_ns == 110 * MS
    assert a.init_share == pytest.approx(200 / (200 + 400))  # init / (init + cold invocation)
    assert [c.function for c in cold_starts([tr])] == ["a", "b"]  # a's cold starts cost more


def test_cold_start_partials_merge_and_no_cold_start_attribute_is_ignored():
    t1 = invocations([("a", 100, True)], label="1")
    t2 = invocations([("a", 10, False)], label="2")
    t3 = build_trace([("x", None, 0, 5)], trace="3")
    [a] = merge_cold_starts([cold_starts_partial(t) for t in (t1, t2, t3)])
    assert (a.invocations, a.cold, a.warm_p50_ns) == (2, 1, 10 * MS)


# --- statistics and depth -------------------------------------------------------------------------------


def test_order_statistics():
    assert percentile([], 0.5) == 0
    assert percentile(list(range(1, 101)), 0.99) == 99
    assert median([3, 1, 2]) == 2.0 and mad([1, 1, 1, 50]) == 0.0
