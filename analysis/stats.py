"""Order statistics the analyzers share: nearest-rank percentiles, median, median absolute deviation.

>>> percentile([5, 1, 4, 2, 3], 0.5), median([1, 2, 3, 4]), mad([1, 2, 3, 4, 100])
(3, 2.5, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["mad", "median", "percentile", "percentiles"]


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
