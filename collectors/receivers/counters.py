"""The collector's own counters: thread-safe named integers, rendered as JSON and Prometheus text."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Counters:
    """Monotonic counters and gauges keyed by dotted names (``xray_udp.received``).

    Counters only grow; gauges are read from callbacks when a snapshot is taken (queue depths).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, int] = {}
        self._gauges: dict[str, Callable[[], int]] = {}
        self.started_s = time.time()

    def add(self, name: str, amount: int = 1) -> None:
        if amount:
            with self._lock:
                self._values[name] = self._values.get(name, 0) + amount

    def add_many(self, amounts: dict[str, int]) -> None:
        with self._lock:
            values = self._values
            for name, amount in amounts.items():
                if amount:
                    values[name] = values.get(name, 0) + amount

    def set_max(self, name: str, value: int) -> None:
        """Raise a counter to ``value`` (for cumulative figures read from elsewhere, e.g. the kernel)."""
        with self._lock:
            if value > self._values.get(name, 0):
                self._values[name] = value

    def gauge(self, name: str, read: Callable[[], int]) -> None:
        self._gauges[name] = read

    def get(self, name: str) -> int:
        with self._lock:
            return self._values.get(name, 0)

    def snapshot(self) -> dict[str, int]:
        """Every counter and gauge by name, sorted."""
        with self._lock:
            out = dict(self._values)
        for name, read in list(self._gauges.items()):
            try:
                out[name] = int(read())
            except Exception:  # a gauge must never break the stats endpoint
                out[name] = -1
        return dict(sorted(out.items()))

    def prometheus(self) -> str:
        """The snapshot in Prometheus text exposition format (``spanscope_`` prefix, labels for reasons)."""
        lines: list[str] = []
        for name, value in self.snapshot().items():
            base, _, reason = name.partition(":")
            metric = "spanscope_" + "".join(c if c.isalnum() else "_" for c in base)
            if reason:
                safe = reason.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
                lines.append(f'{metric}{{reason="{safe}"}} {value}')
            else:
                lines.append(f"{metric} {value}")
        return "\n".join(lines) + "\n"
