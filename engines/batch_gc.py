"""The garbage collector's thresholds for one batch run over an archive, restored afterwards.

An engine holds an archive file's spans (hundreds of thousands of objects) at once and then lets them go. Under
CPython's default thresholds (700, 10, 10) each file's spans survive into the oldest generation and start full
collections over everything alive: at 1 M spans 25 of them took 9.3 of 29.4 CPU seconds, and at 10 M their
number and their size both grew, which made the run grow faster than its input. Spans form no reference cycles,
so the run collects its young generation every 100,000 net allocations and considers a full collection only
after 100 of the middle one; cycles are still collected, only rarely. The process's own thresholds come back
when the run ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

BATCH_THRESHOLDS = (100_000, 50, 100)


@contextmanager
def batch_gc() -> Iterator[None]:
    """Run the block under ``BATCH_THRESHOLDS``; the thresholds that were set come back after it, raised or not."""
    before = gc.get_threshold()
    gc.set_threshold(*BATCH_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
