"""Quantiles: exact nearest-rank percentiles or a mergeable DDSketch, and the auto switch between them."""

from __future__ import annotations

import random

import pytest
from spanscope.analysis import stats
from spanscope.analysis.stats import Quantiles, percentiles

QS = (0.5, 0.95, 0.99)


def lognormal(n: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [int(rng.lognormvariate(15, 1.5)) for _ in range(n)]


def filled(mode: str, values: list[int]) -> Quantiles:
    q = Quantiles(mode)  # type: ignore[arg-type]
    for v in values:
        q.add(v)
    return q


def test_exact_mode_is_nearest_rank() -> None:
    values = lognormal(5_000, 1)
    q = filled("exact", values)
    assert q.quantiles(QS) == percentiles(values, QS)
    assert not q.sketched and q.count == 5_000


def test_sketch_is_within_its_relative_accuracy() -> None:
    values = lognormal(50_000, 2)
    exact = percentiles(values, QS)
    estimate = filled("sketch", values).quantiles(QS)
    errors = [abs(e - x) / x for e, x in zip(estimate, exact, strict=True)]
    assert max(errors) <= 0.011, errors  # DDSketch(0.01): within 1 % of a value of (nearly) that rank


def test_sketch_buckets_are_the_librarys_own() -> None:
    """The buffered flush computes DDSketch's key inline: every quantile equals that of ddsketch's own sketch fed
    one value at a time (a ddsketch release that changed its mapping would fail here, not skew reports)."""
    from ddsketch import DDSketch

    values = [*lognormal(20_000, 6), 1, 2, 3, 10**15, 0, 0]
    ours = filled("sketch", values)
    theirs = DDSketch(stats.SKETCH_RELATIVE_ACCURACY)
    for v in values:
        theirs.add(v)
    qs = [i / 200 for i in range(201)]
    assert ours.quantiles(qs) == [float(theirs.get_quantile_value(q) or 0.0) for q in qs]
    assert ours.count == theirs.count == len(values)


def test_sketch_merge_is_order_free_and_equals_one_sketch() -> None:
    values = lognormal(30_000, 3)
    parts = [filled("sketch", values[i : i + 7_000]) for i in range(0, len(values), 7_000)]
    left = Quantiles("sketch")
    for p in parts:
        left.merge(p)
    right = Quantiles("sketch")
    for p in reversed(parts):
        right.merge(p)
    whole = filled("sketch", values)
    assert left.quantiles(QS) == right.quantiles(QS) == whole.quantiles(QS)
    assert left.count == whole.count == 30_000
    assert parts[0].count == 7_000  # merging leaves the other side as it was


def test_auto_switches_to_a_sketch_above_the_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stats, "SKETCH_ABOVE", 1_000)
    small = filled("auto", lognormal(1_000, 4))
    assert not small.sketched
    values = lognormal(5_000, 5)
    big = filled("auto", values)
    assert big.sketched and len(big.values) == 0
    assert big.quantiles(QS) == filled("sketch", values).quantiles(QS)
    grown = Quantiles("auto").merge(small).merge(big)  # exact + sketched -> sketched, nothing lost
    assert grown.sketched and grown.count == 6_000


def test_merging_a_sketch_not_yet_flushed_keeps_its_values() -> None:
    """A sketch-mode distribution holds its first values in a buffer, not yet a sketch: merged into an exact or
    auto one, they are carried over (a report folded with ``sketch`` and merged by ``auto`` lost them once)."""
    small = filled("sketch", [5, 7, 9])
    for mode in ("auto", "exact"):
        merged = Quantiles(mode).merge(small)  # type: ignore[arg-type]
        assert merged.count == 3 and merged.quantiles((0.5,)) == [7]


def test_zeros_and_empty() -> None:
    assert Quantiles("sketch").quantiles(QS) == [0, 0, 0]
    assert Quantiles("exact").quantiles(QS) == [0, 0, 0]
    q = filled("sketch", [0] * 90 + [1_000_000] * 10)
    p50, _, p99 = q.quantiles(QS)
    assert p50 == 0 and abs(p99 - 1_000_000) <= 10_000
