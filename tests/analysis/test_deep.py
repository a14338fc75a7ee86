"""Every analyzer on a 100,000-deep trace under sys.setrecursionlimit(200): iterative all the way."""

from __future__ import annotations

import sys

import pytest
from spanscope.analysis import (
    FailureRole,
    build_report,
    cold_starts,
    compile_filter,
    critical_path,
    failure_chains,
    failure_roles,
    hotspots,
    stragglers,
)
from spanscope.collectors.model import Status, Trace

from tests.builders import chain, trace_id_for

DEPTH = 100_000


@pytest.fixture(scope="module")
def deep() -> Trace:
    spans = chain(DEPTH)
    for span in spans:
        span.status = Status.FAULT  # the deepest span is the origin; every ancestor propagated it
    return Trace(trace_id_for("deep"), spans)


@pytest.fixture
def low_recursion_limit():
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    yield
    sys.setrecursionlimit(old)


def test_critical_path(deep, low_recursion_limit):
    segs = critical_path(deep)
    assert sum(s.self_time_ns for s in segs) == deep.spans[0].duration_ns
    assert len({s.span_id for s in segs}) == DEPTH


def test_failure_roles_and_chain(deep, low_recursion_limit):
    roles = failure_roles(deep)
    assert roles[deep.spans[-1].span_id] is FailureRole.ORIGIN
    assert sum(r is FailureRole.PROPAGATED for r in roles.values()) == DEPTH - 1
    [c] = failure_chains([deep])
    assert len(c.path) == DEPTH


def test_aggregates_report_and_filters(deep, low_recursion_limit):
    hs = hotspots([deep])
    assert sum(h.count for h in hs) == DEPTH
    assert sum(h.critical_path_ns for h in hs) == deep.spans[0].duration_ns
    assert stragglers([deep]) == [] and cold_starts([deep]) == []
    assert compile_filter('service("svc3") { fault } AND edge("svc1", "svc2")')(deep)
    report = build_report([deep], service_map=False)
    assert report.spans == DEPTH and report.failure_chains
