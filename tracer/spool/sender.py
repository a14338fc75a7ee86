"""The spool's sender: one background thread that drains a :class:`DiskSpool` oldest first, and its retry schedule.

The engine under :class:`~spanscope.tracer.spool.exporter.StoreAndForwardExporter`, as the OpenTelemetry SDK's
batch processor sits on a shared worker: the exporter decides *what* is spooled, the sender *when* it is sent.
Records are POSTed as OTLP/HTTP requests (or handed to an FEC uplink); a failure waits out an exponential
backoff with jitter; a 4xx answer sends records one by one to find the bad one, which is dropped. A crash
between a send and the cursor update re-sends one batch; the collector's store is idempotent on (trace id,
span id). The sender's state (counters, online, clock offset) is read and written under :attr:`lock`.
"""

from __future__ import annotations

import http.client
import logging
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from spanscope.tracer.health import WarnOnce
from spanscope.tracer.spool import wire
from spanscope.tracer.spool.disk import DiskSpool, SpoolRecord

if TYPE_CHECKING:
    from spanscope.tracer.fec import FecUplink

_logger = logging.getLogger("spanscope.tracer.spool")
_RANDOM: Final = random.Random()  # jitter, not security


@dataclass
class SpoolStats:
    """Counters of a :class:`StoreAndForwardExporter` (a snapshot)."""

    exported_live: int = 0
    spooled_batches: int = 0
    spooled_spans: int = 0
    drained_batches: int = 0
    drain_requests: int = 0
    evicted_batches: int = 0
    evicted_bytes: int = 0
    rejected_batches: int = 0
    corrupt_records: int = 0
    send_failures: int = 0
    export_failures: int = 0
    pending_batches: int = 0
    pending_bytes: int = 0
    online: bool = False
    clock_offset_ns: int | None = None


def backoff_delay_s(failures: int, initial_s: float, maximum_s: float, *, rng: random.Random | None = None) -> float:
    """Seconds to wait after ``failures`` consecutive failures: exponential, capped, with "equal jitter".

    The ceiling doubles from ``initial_s`` up to ``maximum_s``; the delay is half the ceiling plus a random
    part of the other half, so devices that lost the collector together do not retry in lockstep.

    >>> 0.5 <= backoff_delay_s(1, 1.0, 300.0) <= 1.0, 150 <= backoff_delay_s(40, 1.0, 300.0) <= 300
    (True, True)
    """
    exponent = max(0, min(failures - 1, 30))
    ceiling: float = min(maximum_s, initial_s * float(1 << exponent))
    draw = (rng or _RANDOM).uniform(0, ceiling / 2)
    return ceiling / 2 + draw


class SpoolSender:
    """Drains ``spool`` to ``endpoint`` (or over ``fec``) on a daemon thread started by :meth:`start`.

    ``clock_offset_ns`` fixes the device clock offset; otherwise it is estimated from the answers' ``Date``
    headers (with ``probe``, an empty request is sent at start and before draining while it is unknown, so
    that spans spooled offline are forwarded with the offset already estimated).
    """

    def __init__(
        self,
        spool: DiskSpool | None,
        *,
        endpoint: str,
        headers: Mapping[str, str],
        clock_offset_ns: int | None,
        probe: bool,
        initial_backoff_s: float,
        max_backoff_s: float,
        request_timeout_s: float,
        drain_batch_bytes: int,
        fec: FecUplink | None,
    ) -> None:
        self.spool = spool
        self.endpoint = endpoint
        self.fec = fec
        self._headers = dict(headers)
        self._fixed_offset = clock_offset_ns
        self.offset_ns: int | None = clock_offset_ns
        self._initial_backoff_s = max(0.001, initial_backoff_s)
        self._max_backoff_s = max(self._initial_backoff_s, max_backoff_s)
        self._request_timeout_s = request_timeout_s
        self._drain_batch_bytes = drain_batch_bytes
        self.stats = SpoolStats()
        self.warn_once = WarnOnce(_logger)  # (key, message, *args): logged the first time a key is seen
        self.lock = threading.Lock()
        self.wake = threading.Condition(self.lock)
        self.stopping = False
        self.online = True  # optimistic until a send fails
        self._failures = 0
        self._attempts = 0  # drain attempts finished (flush waits on it)
        self._hurry = False
        self._single = False  # after a 4xx, send records one by one to isolate the bad one
        self._probe = probe
        self._startup_probe = probe
        self._thread = threading.Thread(target=self._run, name="spanscope-spool", daemon=True)

    def start(self) -> None:
        """Start the forwarding thread."""
        self._thread.start()

    def flush(self, deadline: float) -> bool:
        """Hurry the thread and wait until the spool is empty, the ``deadline`` (monotonic) passes, or an
        attempt fails while offline; True when nothing is left unsent."""
        spool = self.spool
        with self.lock:
            start = self._attempts
            self._hurry = True
            self.wake.notify_all()
            while spool is not None and len(spool) > 0 and not self.stopping:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (not self.online and self._attempts > start):
                    break
                self.wake.wait(min(remaining, 0.1))
            self._hurry = False
        return spool is None or len(spool) == 0

    def stop(self, timeout_s: float) -> None:
        """Stop the thread (waiting at most ``timeout_s``) and close the spool and the uplink."""
        with self.lock:
            self.stopping = True
            self.wake.notify_all()
        self._thread.join(timeout_s)
        if self.spool is not None:
            self.spool.close()
        if self.fec is not None:
            self.fec.close()

    # -- the thread --

    def _run(self) -> None:
        while True:
            try:
                if not self._step():
                    return
            except Exception as error:  # keep forwarding whatever happens
                self.warn_once(f"drain:{type(error).__name__}", "span spool forwarding failed: %r", error)
                with self.lock:
                    self.stats.send_failures += 1
                    self._failures += 1
                    self.wake.wait(self._backoff_s())

    def _step(self) -> bool:
        """One forwarding attempt (or a wait). False when the thread should end."""
        spool = self.spool
        with self.lock:
            while not self.stopping and not self._startup_probe and (spool is None or len(spool) == 0):
                self.wake.wait()
            if self.stopping:
                return False
            probe = self._startup_probe or (self._probe and self.offset_ns is None)
            self._startup_probe = False
        if probe:
            ok, _permanent = self._post(b"")
            with self.lock:
                if ok:
                    self.online = True
                    self._probe = False  # answered: the offset is known, or the collector sends no Date
                else:
                    self._after_failure()
            return True
        assert spool is not None
        records = spool.peek(max_records=1 if self._single else 256, max_bytes=self._drain_batch_bytes)
        if not records:
            return True
        with self.lock:
            offset = self.offset_ns
        if self.fec is not None:
            return self._send_fec(spool, records, offset)
        body = b"".join(wire.stamp_payload(r.payload, offset) for r in records)
        ok, permanent = self._post(body)
        if ok or (permanent and len(records) == 1):
            with self.lock:  # commit and state change together, as flush and the exporter see them
                spool.commit(records[-1])
                if ok:
                    self.stats.drained_batches += len(records)
                    self.stats.drain_requests += 1
                    self.online = True
                    self._failures = 0
                    self._single = False
                else:
                    self.stats.rejected_batches += 1
                self._attempts += 1
                self.wake.notify_all()
            if permanent:
                self.warn_once("rejected", "collector rejected a spooled batch; it was dropped")
            return True
        with self.lock:
            if permanent:
                self._single = True  # find the bad record: one per request
                self._attempts += 1
                return True
            self._after_failure()
        return True

    def _send_fec(self, spool: DiskSpool, records: list[SpoolRecord], offset: int | None) -> bool:
        """Send records over the FEC uplink; commit those acknowledged in order, back off only when none was."""
        assert self.fec is not None
        acked = self.fec.send([wire.stamp_payload(r.payload, offset) for r in records])
        with self.lock:
            if self._fixed_offset is None and self.fec.clock_offset_ns is not None:
                self.offset_ns = self.fec.clock_offset_ns
            if acked:
                spool.commit(records[acked - 1])
                self.stats.drained_batches += acked
                self.stats.drain_requests += 1
                self.online = True
                self._failures = 0
                self._attempts += 1
                self.wake.notify_all()
                return True  # what was not acknowledged is sent again at once: FEC already paid for the loss
            self._after_failure()
        return True

    def _after_failure(self) -> None:
        """Count a failed attempt and wait out the backoff (lock held)."""
        self.stats.send_failures += 1
        self.online = False
        self._failures += 1
        self._attempts += 1
        self.wake.notify_all()
        delay = self._backoff_s()
        deadline = time.monotonic() + delay
        while not self.stopping and not self._hurry:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self.wake.wait(remaining)

    def _backoff_s(self) -> float:
        return backoff_delay_s(self._failures, self._initial_backoff_s, self._max_backoff_s)

    def _post(self, body: bytes) -> tuple[bool, bool]:
        """POST one OTLP request: (success, permanent failure). Estimates the clock offset on answers."""
        try:
            status, date, sent_ns, received_ns = wire.post(self.endpoint, body, self._headers, self._request_timeout_s)
            self._estimate_offset(date, sent_ns, received_ns)
        except (OSError, http.client.HTTPException) as error:
            self.warn_once(f"post:{type(error).__name__}", "collector unreachable, spooling spans: %r", error)
            return False, False
        if 200 <= status < 300:
            return True, False
        if status in wire.RETRYABLE_STATUS:
            return False, False
        self.warn_once(f"status:{status}", "collector answered HTTP %s", status)
        return False, 400 <= status < 500

    def _estimate_offset(self, date: str | None, sent_ns: int, received_ns: int) -> None:
        if self._fixed_offset is not None:
            return
        offset = wire.offset_from_date(date, sent_ns, received_ns)
        if offset is None:
            return
        with self.lock:
            self.offset_ns = offset
