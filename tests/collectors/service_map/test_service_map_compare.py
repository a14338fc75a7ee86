"""Window comparison: appeared/disappeared nodes and edges, significant failure-rate and p95 changes, ranking."""

from __future__ import annotations

import math

import pytest
from spanscope.collectors.conventions import ORIGIN_LAMBDA
from spanscope.collectors.model import Kind, Status
from spanscope.collectors.service_map import build_service_map
from spanscope.collectors.service_map.compare import (
    EDGE_APPEARED,
    EDGE_DISAPPEARED,
    FAILURE_RATE,
    NODE_APPEARED,
    NODE_DISAPPEARED,
    P95,
    compare_maps,
    two_proportion_z,
)

from tests.builders import build_trace

API = ("api", ORIGIN_LAMBDA)


def traces(n: int, *, prefix: str, fail_every: int = 0, ms=lambda i: 100, calls: str = "DynamoDB"):
    out = []
    for i in range(n):
        status = Status.FAULT if fail_every and i % fail_every == 0 else Status.OK
        out.append(
            build_trace(
                [
                    ("root", None, 0, ms(i), {"service": "api", "origin": ORIGIN_LAMBDA, "kind": Kind.SERVER,
                                              "status": status}),
                    ("call", "root", 1, 5, {"service": "api", "kind": Kind.CLIENT, "namespace": "aws",
                                            "remote_service": calls}),
                ],
                trace=f"{prefix}{i}",
            )
        )  # fmt: skip
    return out


def test_two_proportion_z_matches_the_textbook_formula():
    p = 40 / 200
    expected = (0.3 - 0.1) / math.sqrt(p * (1 - p) * (1 / 100 + 1 / 100))
    assert two_proportion_z(30, 100, 10, 100) == pytest.approx(expected)
    assert two_proportion_z(0, 100, 0, 100) == 0.0
    assert two_proportion_z(1, 0, 1, 10) == 0.0


def test_identical_windows_have_no_changes():
    base = build_service_map(traces(50, prefix="b", fail_every=10))
    cur = build_service_map(traces(50, prefix="c", fail_every=10))
    assert compare_maps(cur, base) == []


def test_appeared_and_disappeared_nodes_and_edges_ranked_by_traffic():
    base = build_service_map(traces(10, prefix="b", calls="DynamoDB") + traces(3, prefix="x", calls="S3"))
    cur = build_service_map(traces(10, prefix="c", calls="SQS"))
    changes = compare_maps(cur, base)
    kinds = [(c.change, c.subject) for c in changes]
    assert kinds[:4] == sorted(kinds[:4], key=lambda k: k)  # ties (10 requests) in a stable order
    assert (NODE_APPEARED, "SQS") in kinds and (EDGE_APPEARED, "api -> SQS") in kinds
    assert (NODE_DISAPPEARED, "DynamoDB") in kinds and (EDGE_DISAPPEARED, "api -> DynamoDB") in kinds
    assert kinds[-2:] == [(EDGE_DISAPPEARED, "api -> S3"), (NODE_DISAPPEARED, "S3")]  # 3 requests: last
    assert all(c.structural for c in changes)


def test_significant_failure_rate_rise_is_reported_with_z_and_ratio():
    base = build_service_map(traces(100, prefix="b", fail_every=50))  # 2 %
    cur = build_service_map(traces(100, prefix="c", fail_every=4))  # 25 %
    changes = [c for c in compare_maps(cur, base) if c.change == FAILURE_RATE]
    subjects = {c.subject for c in changes}
    assert subjects == {"api", "client -> api"}
    change = next(c for c in changes if c.node == API)
    assert change.baseline == pytest.approx(0.02) and change.current == pytest.approx(0.25)
    assert change.z == pytest.approx(two_proportion_z(25, 100, 2, 100)) and change.z > 3
    assert change.ratio == pytest.approx(12.5)
    assert change.to_json()["node"] == {"name": "api", "type": ORIGIN_LAMBDA}


def test_small_or_insignificant_failure_changes_are_not_reported():
    # 2 % -> 4 %: not significant at n=100
    assert compare_maps(build_service_map(traces(100, prefix="c", fail_every=25)),
                        build_service_map(traces(100, prefix="b", fail_every=50))) == []  # fmt: skip
    # a big jump on too few requests
    assert compare_maps(build_service_map(traces(10, prefix="c", fail_every=2)),
                        build_service_map(traces(10, prefix="b"))) == []  # fmt: skip


def test_p95_regression_is_reported_and_jitter_is_not():
    base = build_service_map(traces(200, prefix="b", ms=lambda i: 100 + i % 10))
    slow = build_service_map(traces(200, prefix="c", ms=lambda i: 100 + i % 10 if i % 5 else 400))
    changes = [c for c in compare_maps(slow, base) if c.change == P95 and c.node == API]
    assert len(changes) == 1
    change = changes[0]
    assert change.baseline == pytest.approx(0.109, rel=0.05) and change.current == pytest.approx(0.4, rel=0.05)
    assert change.ratio > 3 and change.z > 3
    jitter = build_service_map(traces(200, prefix="d", ms=lambda i: 102 + i % 10))
    assert [c for c in compare_maps(jitter, base) if c.change == P95] == []


def test_p95_improvement_is_reported_as_a_change_too():
    base = build_service_map(traces(400, prefix="b", ms=lambda i: 100 if i % 5 else 400))
    fast = build_service_map(traces(400, prefix="c", ms=lambda i: 100))
    changes = [c for c in compare_maps(fast, base) if c.change == P95 and c.node == API]
    assert len(changes) == 1 and changes[0].ratio < 1 and changes[0].z < -3


def test_metric_changes_ranked_by_significance_after_structural_ones():
    base = build_service_map(traces(100, prefix="b", fail_every=50))
    cur = build_service_map(traces(100, prefix="c", fail_every=4) + traces(5, prefix="n", calls="S3"))
    changes = compare_maps(cur, base)
    first_metric = next(i for i, c in enumerate(changes) if not c.structural)
    assert all(c.structural for c in changes[:first_metric])
    zs = [abs(c.z) for c in changes[first_metric:]]
    assert zs == sorted(zs, reverse=True)
