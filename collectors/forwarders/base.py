"""The forwarding loop shared by every destination: encode after commit, queue on disk, send with retries.

A forwarder's ``enqueue`` is called by the batch writer after spans are committed; it encodes them
into payloads and appends them to its DiskQueue. A sender thread delivers the oldest due payload;
a retryable failure schedules it again after an exponential backoff with jitter (or the server's
Retry-After), a permanent one drops it (counted). Payloads left at shutdown stay on disk and are
sent when the collector starts again.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from spanscope.collectors.forwarders.disk_queue import DiskQueue
from spanscope.collectors.model import Span
from spanscope.collectors.receivers.counters import Counters

_log = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class SendResult:
    """Outcome of one delivery attempt."""

    ok: bool
    retryable: bool = True
    retry_after_s: float | None = None
    reason: str = ""
    requeue: tuple[bytes, ...] = ()  # parts to send again (X-Ray's unprocessed segments)


class Forwarder:
    """Base class: subclasses define ``name``, ``encode`` and ``send``."""

    name = "forward"

    def __init__(
        self,
        queue_path: Path,
        counters: Counters,
        *,
        max_queue_bytes: int = 256 * 1024 * 1024,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 60.0,
    ) -> None:
        self.queue = DiskQueue(queue_path, max_bytes=max_queue_bytes)
        self._counters = counters
        self._base = backoff_base_s
        self._cap = backoff_cap_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"spanscope-{self.name}", daemon=True)
        counters.gauge(f"{self.name}.queue_depth", lambda: self.queue.depth)
        counters.gauge(f"{self.name}.queue_bytes", lambda: self.queue.size_bytes)

    # to implement ---------------------------------------------------------------------------------
    def encode(self, spans: list[Span]) -> list[bytes]:
        raise NotImplementedError

    def send(self, payload: bytes) -> SendResult:
        raise NotImplementedError

    # lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        if self._thread.is_alive():  # a send still hangs: leave the queue to it (the process is ending)
            _log.warning("%s: a delivery was still in progress at shutdown; it stays queued", self.name)
            return
        self.queue.close()

    def enqueue(self, spans: list[Span]) -> None:
        """Encode committed spans and queue them on disk (the batch writer's after-commit hook)."""
        payloads = self.encode(spans)
        evicted = self.queue.put(payloads)
        self._counters.add(f"{self.name}.queued", len(payloads))
        if evicted:
            self._counters.add(f"{self.name}.evicted", evicted)
            _log.warning("%s queue full: evicted %d oldest payloads", self.name, evicted)
        self._wake.set()

    def backoff_s(self, attempts: int) -> float:
        """Exponential backoff with full jitter in [0.5, 1.5) of the step, capped."""
        step = min(self._cap, self._base * (2 ** min(attempts, 30)))
        return float(step * (0.5 + random.random()))

    def _run(self) -> None:
        counters = self._counters
        while not self._stop.is_set():
            row = self.queue.next_due()
            now = time.time_ns()
            if row is None or row[3] > now:
                wait_s = 1.0 if row is None else min(1.0, (row[3] - now) / 1e9)
                self._wake.wait(wait_s)
                self._wake.clear()
                continue
            row_id, payload, attempts, _due = row
            try:
                result = self.send(payload)
            except Exception as exc:  # a sender bug must not kill forwarding
                _log.warning("%s send failed: %s", self.name, exc)
                result = SendResult(ok=False, retryable=True, reason=type(exc).__name__)
            if result.requeue:
                self.queue.put(list(result.requeue), due_ns=time.time_ns() + int(self.backoff_s(attempts) * 1e9))
                counters.add(f"{self.name}.requeued", len(result.requeue))
            if result.ok:
                self.queue.ack(row_id)
                counters.add(f"{self.name}.sent")
            elif result.retryable:
                delay = result.retry_after_s if result.retry_after_s is not None else self.backoff_s(attempts)
                self.queue.retry(row_id, time.time_ns() + int(delay * 1e9))
                counters.add(f"{self.name}.retries")
                counters.add(f"{self.name}.failed:{result.reason or 'error'}")
            else:
                self.queue.ack(row_id)
                counters.add(f"{self.name}.dropped:{result.reason or 'rejected'}")
                _log.warning("%s dropped a payload the destination refused: %s", self.name, result.reason)
