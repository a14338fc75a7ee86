"""Rate-limited logging of repeated messages: the first of a kind is logged, then one line per interval with a count.

A collector under attack (thousands of broken connections, a full disk with clients retrying) must not
write one log line per event. ``RepeatFilter`` is a ``logging.Filter`` for a handler: records of the same
logger, level and message template within ``interval_s`` of the last one shown are dropped and counted;
the next one shown after the interval carries ``[N similar messages suppressed]``.

>>> import logging
>>> clock = [0.0]
>>> f = RepeatFilter(10.0, clock=lambda: clock[0])
>>> rec = lambda: logging.LogRecord("x", logging.WARNING, "", 0, "write failed: %s", ("disk full",), None)
>>> [f.filter(rec()) for _ in range(3)]
[True, False, False]
>>> clock[0] = 11.0
>>> r = rec(); f.filter(r), r.getMessage()
(True, 'write failed: disk full [2 similar messages suppressed in the last 11 s]')
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

_MAX_KEYS = 1024  # distinct message templates remembered; beyond this the oldest are forgotten


class RepeatFilter(logging.Filter):
    """Drops records repeating a (logger, level, template) seen less than ``interval_s`` ago, counting them."""

    def __init__(
        self, interval_s: float = 10.0, *, min_level: int = logging.INFO, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.interval_s = interval_s
        self.min_level = min_level
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, int, str], list[float]] = {}  # key -> [shown at, suppressed count]
        self.suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.min_level:
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        with self._lock:
            state = self._seen.get(key)
            if state is not None and now - state[0] < self.interval_s:
                state[1] += 1
                self.suppressed += 1
                return False
            suppressed = int(state[1]) if state is not None else 0
            since = now - state[0] if state is not None else 0.0
            if state is None and len(self._seen) >= _MAX_KEYS:
                self._seen.pop(next(iter(self._seen)))
            self._seen[key] = [now, 0]
        if suppressed:
            record.msg = f"{record.getMessage()} [{suppressed} similar messages suppressed in the last {since:.0f} s]"
            record.args = None
        return True


def install(interval_s: float = 10.0, logger: logging.Logger | None = None) -> list[RepeatFilter]:
    """Give every handler of ``logger`` (default: the root logger) its own RepeatFilter; returns them.

    One filter per handler: a record passes every handler, so a shared filter would count it twice.
    """
    target = logger or logging.getLogger()
    filters = []
    for handler in target.handlers:
        repeat = RepeatFilter(interval_s)
        handler.addFilter(repeat)
        filters.append(repeat)
    return filters
