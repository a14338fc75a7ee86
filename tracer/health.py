"""The tracer's own failures: each kind is counted and logged once, never raised into user code."""

from __future__ import annotations

import logging
import threading

logger = logging.getLogger("spanscope.tracer")


class LogText(str):
    """A message that ``HEALTH.fail`` logs as written (it shows other details with ``repr``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)


class WarnOnce:
    """Logs a warning to ``log`` the first time each key is seen (for exporters that count their own failures)."""

    def __init__(self, log: logging.Logger) -> None:
        self._log = log
        self._lock = threading.Lock()
        self._seen: set[str] = set()

    def __call__(self, key: str, message: str, *args: object) -> None:
        with self._lock:
            if key in self._seen:
                return
            self._seen.add(key)
        self._log.warning(message, *args)


class Health:
    """Failure counters by kind. ``fail`` never raises, whatever it is given."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def fail(self, kind: str, detail: object = None) -> None:
        """Count one failure of ``kind``; log it the first time this kind is seen."""
        try:
            with self._lock:
                first = kind not in self._counts
                self._counts[kind] = self._counts.get(kind, 0) + 1
            if first:
                text = ""
                try:
                    text = f": {detail!r}" if detail is not None else ""
                except Exception:
                    text = ": <unprintable>"
                logger.warning("spanscope tracer: %s%s (further occurrences only counted)", kind, text[:500])
        except Exception:
            pass

    def stats(self) -> dict[str, int]:
        """A copy of the counters."""
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


HEALTH = Health()


def stats() -> dict[str, int]:
    """How many failures of each kind the tracer swallowed since start (or the last ``reset_stats``)."""
    return HEALTH.stats()


def reset_stats() -> None:
    """Clear the failure counters (tests)."""
    HEALTH.reset()
