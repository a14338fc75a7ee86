"""The machine line every benchmark ends with: peak RSS (this process and its waited-for children), load average, and
the speed of this machine's Python on a fixed loop, so that absolute figures from different machines can be compared
(spans per CPU second move with it; ratios measured in the same run do not)."""

from __future__ import annotations

import os
import resource
import time


def peak_rss_mib(children: bool = False) -> float:
    """Peak resident set size in MiB of this process (or of its largest waited-for child)."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024


def reference_loop_ns(iterations: int = 1_000_000) -> float:
    """CPU nanoseconds per iteration of ``total += i`` (best of 3): the machine's Python speed, not the project's."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time_ns()
        total = 0
        for i in range(iterations):
            total += i
        best = min(best, (time.process_time_ns() - start) / iterations)
    return best


def machine_line() -> str:
    """``peak RSS … MiB (children … MiB), load average a b c on N cores, reference loop … ns``."""
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"peak RSS {peak_rss_mib():.0f} MiB (children {peak_rss_mib(children=True):.0f} MiB), "
        f"load average {load} on {os.cpu_count()} cores, reference loop {reference_loop_ns():.0f} ns"
    )
