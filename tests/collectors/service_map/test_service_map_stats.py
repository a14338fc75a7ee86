"""Service map statistics: X-Ray's status counters, the fixed histogram, percentiles, durations."""

from __future__ import annotations

import pytest
from spanscope.collectors.conventions import (
    ORIGIN_LAMBDA,
)
from spanscope.collectors.model import Status
from spanscope.collectors.service_map import (
    HISTOGRAM_BOUNDS_S,
    build_service_map,
)
from spanscope.collectors.service_map.stats import FINE_BOUNDS_NS, Statistics, add_duration, new_counts

from tests.builders import api_trace, build_trace, lam

API = ("api", ORIGIN_LAMBDA)


# --- statistics ---------------------------------------------------------------------------------------


def test_statistics_count_each_status_like_xray():
    traces = [
        api_trace("ok1"),
        api_trace("ok2"),
        api_trace("err", status=Status.ERROR),
        api_trace("thr", status=Status.THROTTLE),
        api_trace("flt", status=Status.FAULT),
    ]
    s = build_service_map(traces).nodes[API]["stats"]
    assert (s.ok_count, s.error_other, s.throttle_count, s.fault_count) == (2, 1, 1, 1)
    assert s.error_count == 2 and s.total_count == 5
    assert s.total_response_time_s == pytest.approx(0.5)
    doc = s.summary_json()
    assert doc == {
        "OkCount": 2,
        "ErrorStatistics": {"ThrottleCount": 1, "OtherCount": 1, "TotalCount": 2},
        "FaultStatistics": {"OtherCount": 1, "TotalCount": 1},
        "TotalCount": 5,
        "TotalResponseTime": pytest.approx(0.5),
    }


def test_histogram_buckets_are_fixed_and_inclusive_of_upper_bound():
    counts = new_counts()
    for seconds in (0.001, 0.0011, 0.0025, 0.003, 0.01, 0.5, 0.5001, 90_000.0, 200_000.0):
        add_duration(counts, 0, round(seconds * 1e9))
    s = Statistics.from_counts(counts)
    assert s.histogram == ((0.001, 1), (0.0025, 2), (0.005, 1), (0.01, 1), (0.5, 1), (1.0, 1), (86400.0, 2))
    assert all(value in HISTOGRAM_BOUNDS_S for value, _ in s.histogram)
    assert sum(c for _, c in s.histogram) == s.total_count == 9
    assert s.histogram_json()[0] == {"Value": 0.001, "Count": 1}


def test_every_histogram_bound_is_a_fine_bound():
    for bound in HISTOGRAM_BOUNDS_S:
        assert round(bound * 1e9) in FINE_BOUNDS_NS


def test_percentiles_are_nearest_rank_within_bucket_resolution():
    counts = new_counts()
    for ms in range(1, 101):  # 1..100 ms
        add_duration(counts, 0, ms * 1_000_000)
    s = Statistics.from_counts(counts)
    assert s.p50_s == pytest.approx(0.050, rel=0.045) and s.p50_s >= 0.050
    assert s.p90_s == pytest.approx(0.090, rel=0.045) and s.p90_s >= 0.090
    assert s.p99_s == pytest.approx(0.099, rel=0.045) and s.p99_s >= 0.099
    assert Statistics.from_counts(new_counts()).p50_s is None


def test_zero_and_negative_durations_count_as_zero():
    trace = build_trace([("root", None, 10, 5, lam("api"))])
    s = build_service_map([trace]).nodes[API]["stats"]
    assert s.total_count == 1 and s.total_response_time_s == 0
