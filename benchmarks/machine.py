"""The machine line every benchmark ends with: peak RSS (this process and its waited-for children) and load average."""

from __future__ import annotations

import os
import resource


def peak_rss_mib(children: bool = False) -> float:
    """Peak resident set size in MiB of this process (or of its largest waited-for child)."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024


def machine_line() -> str:
    """``peak RSS … MiB (children … MiB), load average a b c on N cores``."""
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"peak RSS {peak_rss_mib():.0f} MiB (children {peak_rss_mib(children=True):.0f} MiB), "
        f"load average {load} on {os.cpu_count()} cores"
    )
