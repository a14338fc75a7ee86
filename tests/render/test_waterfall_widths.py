"""The waterfall's column widths: measured from each unit's largest duration, as wide as formatting every row."""

from __future__ import annotations

import random

from spanscope.render.units import format_duration
from spanscope.render.waterfall_text import _duration_width, _note_duration

# every place format_duration changes unit or rounds up to one more digit
EDGES = [
    0,
    1,
    499,
    500,
    9_499,
    9_500,
    99_499,
    99_500,
    999_499,
    999_500,
    999_999,
    1_000_000,
    9_949_999,
    9_950_000,
    99_950_000,
    999_949_999,
    999_950_000,
    999_999_999,
    1_000_000_000,
    9_995_000_000,
    59_994_999_999,
    59_995_000_000,
    59_999_999_999,
    60_000_000_000,
    599_950_000_000,
    600_000_000_000,
    6_000_000_000_000,
]


def _widths_match(values: list[int]) -> None:
    longest = [-1, -1, -1, -1]
    for ns in values:
        _note_duration(longest, ns)
    assert _duration_width(longest) == max((len(format_duration(ns)) for ns in values), default=0), values


def test_width_at_every_unit_and_rounding_edge() -> None:
    for a in EDGES:
        for b in EDGES:
            _widths_match([a, b])
    _widths_match([])


def test_width_of_random_durations() -> None:
    rng = random.Random(15)
    for _ in range(2_000):
        _widths_match([int(10 ** rng.uniform(0, 13)) for _ in range(rng.randrange(1, 6))])
