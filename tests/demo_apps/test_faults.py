"""Fault names, seeded plans and the demo command's argument errors."""

from __future__ import annotations

import pytest
from spanscope.cli.demo.truth import expected_findings
from spanscope.cli.main import main
from spanscope.demo_apps.faults import (
    DEFAULT_FAULTS,
    FAULT_KINDS,
    FaultSpecError,
    Scale,
    hot_partition,
    parse_fault_names,
    plan_faults,
)


def test_fault_names() -> None:
    assert parse_fault_names(None) == list(DEFAULT_FAULTS)
    assert parse_fault_names("all") == list(FAULT_KINDS)
    assert parse_fault_names("none") == []
    assert parse_fault_names(" s3-latency, s3-latency ,bad-deploy") == ["s3-latency", "bad-deploy"]
    with pytest.raises(FaultSpecError, match="unknown fault 'nope'"):
        parse_fault_names("s3-latency,nope")


def test_at_least_five_kinds_cover_every_category() -> None:
    categories = {k.category for k in FAULT_KINDS.values()}
    assert {"errors", "latency", "straggler", "cold-start", "connectivity"} <= categories
    assert len(FAULT_KINDS) >= 5


def test_plans_are_a_function_of_the_seed() -> None:
    a = plan_faults(list(FAULT_KINDS), seed=11, scale=Scale.quick())
    b = plan_faults(list(FAULT_KINDS), seed=11, scale=Scale.quick())
    c = plan_faults(list(FAULT_KINDS), seed=12, scale=Scale.quick())
    assert a.to_json() == b.to_json()
    assert a.to_json() != c.to_json()
    # a fault's parameters do not depend on which other faults are on
    alone = plan_faults(["s3-latency"], seed=11, scale=Scale.quick())
    assert alone.s3_extra_latency_s == a.s3_extra_latency_s
    assert alone.dynamodb_throttle_rate == 0.0


def test_slow_reducer_never_lands_on_the_hot_partition() -> None:
    for seed in range(50):
        plan = plan_faults(["slow-reducer", "skewed-partition"], seed=seed, scale=Scale.quick())
        assert plan.slow_reducer_partition != hot_partition(plan.scale.reduce_tasks)


def test_every_fault_has_an_expectation() -> None:
    plan = plan_faults(list(FAULT_KINDS), seed=1, scale=Scale())
    items = expected_findings(plan)
    assert [i["fault"] for i in items] == list(FAULT_KINDS)
    keys = ("failing_operation", "slow_operation", "straggler", "cold_start_function")
    assert all(any(k in i for k in keys) for i in items)


def test_cli_rejects_unknown_faults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--faults", "meteor-strike", "--db", "/nonexistent/x.db"]) == 2
    assert "unknown fault 'meteor-strike'" in capsys.readouterr().err


def test_cli_lists_faults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--list-faults"]) == 0
    out = capsys.readouterr().out
    for name in FAULT_KINDS:
        assert name in out
