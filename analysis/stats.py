"""Order statistics the analyzers share: nearest-rank percentiles, median, median absolute deviation, and
``Quantiles``, a mergeable latency distribution that is exact or a DDSketch (relative error <= 1 %).

>>> percentile([5, 1, 4, 2, 3], 0.5), median([1, 2, 3, 4]), mad([1, 2, 3, 4, 100])
(3, 2.5, 1.0)
>>> q = Quantiles("sketch")
>>> for v in range(1, 10_001):
...     q.add(v)
>>> [abs(x - e) / e <= 0.02 for x, e in zip(q.quantiles((0.5, 0.99)), (5_000, 9_900))]
[True, True]
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

__all__ = [
    "PERCENTILE_MODES",
    "SKETCH_ABOVE",
    "SKETCH_RELATIVE_ACCURACY",
    "PercentileMode",
    "Quantiles",
    "mad",
    "median",
    "percentile",
    "percentiles",
]

PercentileMode = Literal["auto", "exact", "sketch"]
PERCENTILE_MODES: tuple[PercentileMode, ...] = ("auto", "exact", "sketch")
SKETCH_ABOVE = 200_000  # "auto": one distribution keeps its values exactly up to this many, then sketches them
SKETCH_RELATIVE_ACCURACY = 0.01  # DDSketch's guarantee: every quantile within 1 % of a value of that rank
_FLUSH = 4096  # values buffered before they are folded into the sketch, one bucket at a time


def percentile(values: Sequence[int | float], q: float, *, presorted: bool = False) -> int | float:
    """Nearest-rank percentile (``q`` in [0, 1]) of a non-empty sequence; 0 for an empty one."""
    if not values:
        return 0
    data = values if presorted else sorted(values)
    rank = max(1, math.ceil(q * len(data)))
    return data[min(rank, len(data)) - 1]


def percentiles(values: Sequence[int | float], qs: Sequence[float]) -> list[int | float]:
    """Several nearest-rank percentiles with one sort."""
    data = sorted(values)
    return [percentile(data, q, presorted=True) for q in qs]


def median(values: Sequence[int | float]) -> float:
    """The median (mean of the middle two for an even count); 0.0 for an empty sequence."""
    if not values:
        return 0.0
    data = sorted(values)
    n = len(data)
    mid = n // 2
    return float(data[mid]) if n % 2 else (data[mid - 1] + data[mid]) / 2.0


def mad(values: Sequence[int | float]) -> float:
    """Median absolute deviation from the median: a spread measure that outliers do not move."""
    m = median(values)
    return median([abs(v - m) for v in values])


class Quantiles:
    """A mergeable distribution of durations (integer nanoseconds): ``exact`` keeps every value (nearest-rank
    percentiles) in a machine-integer array, 8 bytes a value with no object of its own;
    ``sketch`` folds them into a DDSketch (``ddsketch`` package, relative accuracy 1 %: memory bounded
    by the number of log buckets, merge by bucket counts); ``auto`` is exact up to ``SKETCH_ABOVE``
    values and a sketch beyond. Values are added in buffered batches, so a sketch costs about what
    appending to a list does."""

    __slots__ = ("_buffer", "_sketch", "count", "mode", "values")

    def __init__(self, mode: PercentileMode = "auto") -> None:
        self.mode: PercentileMode = mode
        # exact values (exact mode, or auto below the threshold): 8 bytes a value, where a list of ints held
        # ~40 and an object per value, alive among the short-lived objects of every later trace
        self.values: array[int] = array("q")
        self.count = 0
        self._buffer: list[int] = []
        self._sketch: Any = None

    @property
    def sketched(self) -> bool:
        return self._sketch is not None or self.mode == "sketch"

    def add(self, value: int) -> None:
        self.count += 1
        if self._sketch is None and self.mode != "sketch":  # exact (the hot path: one append, one bound check)
            values = self.values
            values.append(value)
            if len(values) > SKETCH_ABOVE and self.mode == "auto":
                self._to_sketch()
            return
        buffer = self._buffer
        buffer.append(value)
        if len(buffer) >= _FLUSH:
            self._flush()

    def merge(self, other: Quantiles) -> Quantiles:
        """Fold ``other`` in (associative; ``other`` is left as it was); returns self."""
        self.count += other.count
        if other._sketch is not None:
            if not self.sketched:
                self._to_sketch()
            self._flush()
            self._sketch.merge(other._sketch)
        if self.sketched:
            buffer = self._buffer
            buffer.extend(other.values)
            buffer.extend(other._buffer)
            if len(buffer) >= _FLUSH:
                self._flush()
        else:  # other holds no sketch: its values, or a sketch-mode buffer not yet folded
            self.values.extend(other.values)
            self.values.extend(other._buffer)
            if self.mode == "auto" and len(self.values) > SKETCH_ABOVE:
                self._to_sketch()
        return self

    def copy(self) -> Quantiles:
        return Quantiles(self.mode).merge(self)

    def quantiles(self, qs: Sequence[float]) -> list[int | float]:
        """The values at ``qs`` (in [0, 1]): nearest rank when exact, DDSketch's estimate when sketched."""
        if not self.sketched:
            return percentiles(self.values, qs)
        self._flush()
        if self._sketch is None or self._sketch.count == 0:
            return [0 for _ in qs]
        return [float(self._sketch.get_quantile_value(q) or 0.0) for q in qs]

    def _to_sketch(self) -> None:
        if self._sketch is None:
            from ddsketch import DDSketch

            self._sketch = DDSketch(SKETCH_RELATIVE_ACCURACY)
        self._buffer.extend(self.values)
        self.values = array("q")
        self._flush()

    def _flush(self) -> None:
        """Fold the buffer into the sketch: values counted per bucket, one weighted add per bucket."""
        if self._sketch is None:
            self._to_sketch()
            return
        buffer = self._buffer
        if not buffer:
            return
        sketch = self._sketch
        mapping = _mapping()
        low = mapping.min_possible
        log, ceil, multiplier = math.log, math.ceil, mapping._multiplier
        # the mapping's key (ceil(log2(v) * multiplier) + offset) inline, one comprehension per flush: calling
        # ``mapping.key`` for each value took 0.9 us a value on the benchmark machine, 0.36 us inline
        buckets = Counter([ceil(log(v, 2) * multiplier) for v in buffer if v > low])
        offset = mapping._offset
        for k, n in buckets.items():  # buckets filled in the order their keys first occur, as one key a value would
            sketch.add(mapping.value(int(k + offset)), n)
        zeros = len(buffer) - buckets.total()
        if zeros:
            sketch.add(0.0, zeros)
        self._buffer = []


_MAPPINGS: list[Any] = []


def _mapping() -> Any:
    """The key mapping of ``DDSketch(SKETCH_RELATIVE_ACCURACY)`` (its default: logarithmic, same accuracy)."""
    if not _MAPPINGS:
        from ddsketch.mapping import LogarithmicMapping

        _MAPPINGS.append(LogarithmicMapping(SKETCH_RELATIVE_ACCURACY))
    return _MAPPINGS[0]
