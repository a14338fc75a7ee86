"""Response statistics of service-map nodes and edges: X-Ray's counters, histograms and percentiles.

Durations are counted into a fixed table of fine buckets (``FINE_BOUNDS_NS``: 16 per octave from
1 µs, so a bucket's upper bound is at most 4.4 % above any duration in it, plus every bound of the
report histogram). Aggregation therefore costs one ``bisect`` and a few integer additions per span,
and two tables subtract exactly (needed when a trace is replaced).

The report histogram (X-Ray's ``ResponseTimeHistogram``) uses the fixed, documented buckets of
``HISTOGRAM_BOUNDS_S``: an entry ``{"Value": v, "Count": n}`` counts durations ``d`` with
``previous bound < d <= v`` seconds; the last bucket (86400 s) also counts everything longer.
Only non-empty buckets are listed, as X-Ray does.

Percentiles (p50/p90/p95/p99) are the upper bound of the fine bucket holding the rank (nearest-rank
definition), clamped to the observed minimum and maximum, so they overstate the exact value by at
most 4.4 %.

>>> acc = new_counts()
>>> for ms in (10, 10, 20, 500):
...     add_duration(acc, 0, ms * 1_000_000)
>>> s = Statistics.from_counts(acc)
>>> s.total_count, s.ok_count, s.histogram
(4, 4, ((0.01, 2), (0.025, 1), (0.5, 1)))
>>> s.p50_s
0.01
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass
from itertools import compress
from typing import Any

from spanscope.collectors.model import Status

#: Upper bounds (seconds) of the report histogram; the last also holds everything longer.
HISTOGRAM_BOUNDS_S: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    900.0,
    3600.0,
    86400.0,
)
_HISTOGRAM_BOUNDS_NS = tuple(round(b * 1e9) for b in HISTOGRAM_BOUNDS_S)
_STEPS_PER_OCTAVE = 16
_OCTAVES = 38  # 1 µs .. ~76 h

#: Upper bounds (ns) of the fine buckets; bucket i holds (FINE[i-1], FINE[i]], one more bucket overflows.
FINE_BOUNDS_NS: tuple[int, ...] = tuple(
    sorted(
        {round(1000 * 2 ** (k / _STEPS_PER_OCTAVE)) for k in range(_STEPS_PER_OCTAVE * _OCTAVES + 1)}
        | set(_HISTOGRAM_BOUNDS_NS)
    )
)
N_FINE = len(FINE_BOUNDS_NS) + 1

# Counter layout: [ok, error (other), throttle, fault, total response time ns, references, min ns, max ns,
# first start ns, last end ns, fine counts...]. ``references`` counts every contribution, in-progress spans
# included, so a node or edge that loses all of them (a replaced trace) disappears. min/max only clamp the
# percentiles and first start / last end give X-Ray's StartTime/EndTime; none of the four is narrowed when a
# trace is replaced.
OK, ERROR, THROTTLE, FAULT, TOTAL_NS, REFS, MIN_NS, MAX_NS, START_NS, END_NS = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9
FIRST_BUCKET = 10
COUNTS_LEN = FIRST_BUCKET + N_FINE
_NO_MIN = 1 << 62
_TEMPLATE = [0] * COUNTS_LEN
_TEMPLATE[MIN_NS] = _NO_MIN
_TEMPLATE[START_NS] = _NO_MIN

#: Status -> counter slot.
STATUS_SLOT: dict[Status, int] = {Status.OK: OK, Status.ERROR: ERROR, Status.THROTTLE: THROTTLE, Status.FAULT: FAULT}


def new_counts() -> list[int]:
    """An empty counter row (see the layout above)."""
    return _TEMPLATE[:]


def add_duration(counts: list[int], slot: int, duration_ns: int, sign: int = 1, start_ns: int | None = None) -> None:
    """Count one request with status ``slot`` and duration into ``counts`` (sign -1 removes it); ``start_ns``
    (when known) widens the row's first start / last end."""
    counts[slot] += sign
    counts[REFS] += sign
    counts[TOTAL_NS] += sign * duration_ns
    counts[FIRST_BUCKET + bisect_left(FINE_BOUNDS_NS, duration_ns)] += sign
    if sign > 0:
        if duration_ns < counts[MIN_NS]:
            counts[MIN_NS] = duration_ns
        if duration_ns > counts[MAX_NS]:
            counts[MAX_NS] = duration_ns
        if start_ns is not None:
            if start_ns < counts[START_NS]:
                counts[START_NS] = start_ns
            if start_ns + duration_ns > counts[END_NS]:
                counts[END_NS] = start_ns + duration_ns


def bucket_slot(duration_ns: int) -> int:
    """The counter slot of a duration's fine bucket."""
    return FIRST_BUCKET + bisect_left(FINE_BOUNDS_NS, duration_ns)


def _fine_upper_s(index: int) -> float:
    bounds = FINE_BOUNDS_NS
    return (bounds[index] if index < len(bounds) else bounds[-1]) / 1e9


def _percentile(pairs: tuple[tuple[int, int], ...], total: int, q: float, low_ns: int, high_ns: int) -> float | None:
    """Nearest-rank percentile from sparse (fine bucket index, count) pairs."""
    if total <= 0:
        return None
    rank = max(1, math.ceil(round(q * total, 6)))
    seen = 0
    value = _fine_upper_s(pairs[-1][0]) if pairs else 0.0
    for index, count in pairs:
        seen += count
        if seen >= rank:
            value = _fine_upper_s(index)
            break
    if high_ns >= low_ns:  # clamp to the observed range (exact when all durations are equal)
        value = min(max(value, low_ns / 1e9), high_ns / 1e9)
    return round(value, 9)


def _coarse_histogram(pairs: tuple[tuple[int, int], ...]) -> tuple[tuple[float, int], ...]:
    out: dict[float, int] = {}
    coarse = _HISTOGRAM_BOUNDS_NS
    j = 0
    for index, count in pairs:
        upper = FINE_BOUNDS_NS[index] if index < len(FINE_BOUNDS_NS) else FINE_BOUNDS_NS[-1] + 1
        while j < len(coarse) - 1 and upper > coarse[j]:
            j += 1
        value = HISTOGRAM_BOUNDS_S[j]
        out[value] = out.get(value, 0) + count
    return tuple(sorted(out.items()))


@dataclass(frozen=True, slots=True)
class Statistics:
    """X-Ray's summary statistics of a node or an edge, plus the histogram and percentiles."""

    ok_count: int = 0
    error_other: int = 0
    throttle_count: int = 0
    fault_count: int = 0
    total_response_time_s: float = 0.0
    histogram: tuple[tuple[float, int], ...] = ()
    p50_s: float | None = None
    p90_s: float | None = None
    p95_s: float | None = None
    p99_s: float | None = None
    #: Non-empty fine buckets as (bucket index, count), for tests on the distribution (``count_above``).
    fine_buckets: tuple[tuple[int, int], ...] = ()
    #: Start of the first and end of the last request counted (Unix ns), None when none was.
    first_start_ns: int | None = None
    last_end_ns: int | None = None

    @classmethod
    def from_counts(cls, counts: list[int]) -> Statistics:
        buckets = counts[FIRST_BUCKET:]
        pairs = tuple((i, buckets[i]) for i in compress(range(len(buckets)), buckets))
        total = counts[OK] + counts[ERROR] + counts[THROTTLE] + counts[FAULT]
        low, high = counts[MIN_NS], counts[MAX_NS]
        return cls(
            ok_count=counts[OK],
            error_other=counts[ERROR],
            throttle_count=counts[THROTTLE],
            fault_count=counts[FAULT],
            total_response_time_s=counts[TOTAL_NS] / 1e9,
            histogram=_coarse_histogram(pairs),
            p50_s=_percentile(pairs, total, 0.50, low, high),
            p90_s=_percentile(pairs, total, 0.90, low, high),
            p95_s=_percentile(pairs, total, 0.95, low, high),
            p99_s=_percentile(pairs, total, 0.99, low, high),
            fine_buckets=pairs,
            first_start_ns=counts[START_NS] if counts[START_NS] != _NO_MIN else None,
            last_end_ns=counts[END_NS] if counts[START_NS] != _NO_MIN else None,
        )

    def count_above(self, threshold_s: float) -> int:
        """Requests longer than ``threshold_s``, at fine-bucket resolution (a bucket counts when it lies
        wholly above the bucket that holds the threshold)."""
        limit = bisect_left(FINE_BOUNDS_NS, round(threshold_s * 1e9))
        return sum(c for i, c in self.fine_buckets if i > limit)

    @property
    def error_count(self) -> int:
        """X-Ray's ErrorStatistics.TotalCount: 4xx including throttles."""
        return self.error_other + self.throttle_count

    @property
    def total_count(self) -> int:
        return self.ok_count + self.error_count + self.fault_count

    @property
    def failed_count(self) -> int:
        return self.error_count + self.fault_count

    @property
    def error_rate(self) -> float:
        return self.error_count / self.total_count if self.total_count else 0.0

    @property
    def fault_rate(self) -> float:
        return self.fault_count / self.total_count if self.total_count else 0.0

    @property
    def mean_s(self) -> float | None:
        return self.total_response_time_s / self.total_count if self.total_count else None

    def summary_json(self) -> dict[str, Any]:
        """X-Ray's ``ServiceStatistics`` / ``EdgeStatistics`` object."""
        return {
            "OkCount": self.ok_count,
            "ErrorStatistics": {
                "ThrottleCount": self.throttle_count,
                "OtherCount": self.error_other,
                "TotalCount": self.error_count,
            },
            "FaultStatistics": {"OtherCount": self.fault_count, "TotalCount": self.fault_count},
            "TotalCount": self.total_count,
            "TotalResponseTime": round(self.total_response_time_s, 9),
        }

    def histogram_json(self) -> list[dict[str, Any]]:
        """X-Ray's ``Histogram``: ``[{"Value": seconds, "Count": n}]``."""
        return [{"Value": value, "Count": count} for value, count in self.histogram]

    def percentiles_json(self) -> dict[str, float | None]:
        return {"p50": self.p50_s, "p90": self.p90_s, "p95": self.p95_s, "p99": self.p99_s}


EMPTY = Statistics()
