"""The cold-start "init share" is a share of the cold requests' time, so it never exceeds 100 %."""

from __future__ import annotations

import pytest
from spanscope.analysis import cold_starts

from tests.builders import MS, build_trace


def test_init_share_stays_a_share_when_init_dwarfs_the_invocation() -> None:
    # A process that lived 2,365 s before its first (1 ms) invocation: init / invocation would read 236,500 %.
    rows = [
        (
            "cold",
            None,
            0,
            1,
            {
                "service": "fn",
                "attributes": {"faas.coldstart": True, "spanscope.faas.init_duration_ns": 2365 * 1000 * MS},
            },
        ),
        ("warm", None, 5, 6, {"service": "fn", "attributes": {"faas.coldstart": False}}),
    ]
    (stats,) = cold_starts([build_trace(rows)])
    assert 0.99 < stats.init_share <= 1.0
    assert stats.init_share == pytest.approx(2365_000 / (2365_000 + 1))


def test_init_share_without_init_time_is_zero() -> None:
    rows = [("cold", None, 0, 10, {"service": "fn", "attributes": {"faas.coldstart": True}})]
    (stats,) = cold_starts([build_trace(rows)])
    assert stats.init_share == 0.0
