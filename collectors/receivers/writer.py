"""The durable batching writer: one thread commits spans from every receiver, then acknowledges them.

Receivers ``submit`` spans with a completion callback; the writer thread takes everything queued
(up to a batch limit), commits it in one ``store.write_spans`` transaction and only then calls the
callbacks, so an acknowledgement always means the spans are in the store. The queue is bounded by
its number of spans: when it is full ``submit`` refuses and the receiver answers with a retryable
overload code. ``failing`` holds the store's error while writes fail (a full disk), for ``/healthz``.
After a commit, and before the acknowledgement, ``after_commit`` hooks (forwarders,
the service map) see the spans, so an acknowledged span is already in the forward queue.
When a batch fails, each submission in it is written on its own, so spans the store refuses fail
only their own submission. When the store reports corruption, the failed submitters hear it first,
then ``on_corrupt_store``'s callback may swap in a fresh store (see ``collectors.store.recovery``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from spanscope.collectors.errors import CollectorOverloadedError, StoreCorruptError
from spanscope.collectors.model import Span
from spanscope.collectors.receivers.counters import Counters

_log = logging.getLogger(__name__)

Done = Callable[[BaseException | None], None]
QUEUE_FULL_MESSAGE = "the collector's write queue is full; retry later"


class SpanSink(Protocol):
    """What the writer needs of the store."""

    def write_spans(self, spans: Sequence[Span]) -> object: ...


class BatchWriter:
    """A bounded queue of span batches drained by one committing thread."""

    def __init__(
        self,
        store: SpanSink,
        counters: Counters,
        *,
        max_pending_spans: int = 200_000,
        max_batch_spans: int = 20_000,
        after_commit: Sequence[Callable[[list[Span]], None]] = (),
    ) -> None:
        self._store = store
        self._counters = counters
        self._max_pending = max_pending_spans
        self._max_batch = max_batch_spans
        self._after_commit = list(after_commit)
        self._on_corrupt: Callable[[BaseException], SpanSink | None] | None = None
        self._items: deque[tuple[list[Span], Done | None]] = deque()
        self._pending = 0
        self._inflight = 0
        self._cond = threading.Condition()
        self._closing = False
        self.failing: BaseException | None = None  # the last store error while no write has succeeded since
        self._thread = threading.Thread(target=self._run, name="spanscope-writer", daemon=True)
        counters.gauge("writer.queue_spans", lambda: self._pending)
        counters.gauge("writer.inflight_spans", lambda: self._inflight)

    # producer side --------------------------------------------------------------------------------
    @property
    def pending_spans(self) -> int:
        return self._pending

    @property
    def saturated(self) -> bool:
        """True while the queue is full: receivers refuse before decoding, so overload costs little CPU."""
        return self._closing or self._pending >= self._max_pending

    def add_hook(self, hook: Callable[[list[Span]], None]) -> None:
        self._after_commit.append(hook)

    def on_corrupt_store(self, replace: Callable[[BaseException], SpanSink | None]) -> None:
        """After a batch failed with StoreCorruptError (and its submitters heard so), call ``replace``
        on the writer thread; a store it returns takes over the next batches. No write races the swap."""
        self._on_corrupt = replace

    def start(self) -> None:
        self._thread.start()

    def submit(self, spans: list[Span], done: Done | None = None) -> bool:
        """Queue spans; False (and nothing queued) when the queue is full or closing."""
        n = len(spans)
        with self._cond:
            if self._closing or (self._pending and self._pending + n > self._max_pending):
                return False
            self._items.append((spans, done))
            self._pending += n
            self._cond.notify()
        return True

    async def write(self, spans: list[Span]) -> None:
        """Queue spans and wait until they are committed.

        Raises CollectorOverloadedError when the queue is full, or what the store raised.
        """
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()

        def resolve(exc: BaseException | None) -> None:
            if fut.done():
                return
            if exc is None:
                fut.set_result(None)
            else:
                fut.set_exception(exc)

        def done(exc: BaseException | None) -> None:
            try:
                loop.call_soon_threadsafe(resolve, exc)
            except RuntimeError:  # the loop is closed: nobody waits any more
                pass

        if not self.submit(spans, done):
            raise CollectorOverloadedError(QUEUE_FULL_MESSAGE)
        await fut

    # consumer side --------------------------------------------------------------------------------
    def _take(self) -> tuple[list[Span], list[tuple[list[Span], Done | None]]] | None:
        with self._cond:
            while not self._items and not self._closing:
                self._cond.wait()
            if not self._items:
                return None
            batch: list[Span] = []
            parts: list[tuple[list[Span], Done | None]] = []
            while self._items and (not batch or len(batch) + len(self._items[0][0]) <= self._max_batch):
                spans, done = self._items.popleft()
                batch.extend(spans)
                parts.append((spans, done))
            self._pending -= len(batch)
            self._inflight = len(batch)
            return batch, parts

    def _write(self, batch: list[Span]) -> BaseException | None:
        try:
            if batch:
                self._store.write_spans(batch)
        except Exception as exc:
            _log.warning("store write of %d spans failed: %s", len(batch), exc)
            return exc
        return None

    def _run(self) -> None:
        counters = self._counters
        while True:
            taken = self._take()
            if taken is None:
                return
            batch, parts = taken
            error = self._write(batch)
            if error is None or len(parts) == 1:
                results = [(spans, done, error) for spans, done in parts]
            else:  # one submission's spans must not fail the others': write each on its own
                results = [(spans, done, self._write(spans)) for spans, done in parts]
            committed = [s for spans, _done, err in results if err is None for s in spans]
            failed = len(batch) - len(committed)
            if failed:  # reported to the waiting receivers, the writer carries on
                counters.add("writer.failed_batches")
                counters.add("writer.failed_spans", failed)
            if committed:
                counters.add("writer.batches")
                counters.add("writer.spans", len(committed))
                self.failing = None
            elif failed:
                self.failing = next(err for _s, _d, err in results if err is not None)
            self._inflight = 0
            if committed:  # before acknowledging: an acknowledged span is already queued for forwarding
                for hook in self._after_commit:
                    try:
                        hook(committed)
                    except Exception:
                        _log.exception("after-commit hook failed")
            for _spans, done, err in results:
                if done is None:
                    continue
                try:
                    done(err)
                except Exception:
                    _log.exception("acknowledgement callback failed")
            corrupt = next((err for _s, _d, err in results if isinstance(err, StoreCorruptError)), None)
            if corrupt is not None and self._on_corrupt is not None:
                self._replace_store(corrupt)

    def _replace_store(self, error: BaseException) -> None:
        assert self._on_corrupt is not None
        try:
            replacement = self._on_corrupt(error)
        except Exception:
            _log.exception("replacing the corrupt store failed")
            return
        if replacement is not None:
            self._store = replacement

    def close(self, timeout_s: float | None = None) -> None:
        """Refuse new spans, commit everything queued, stop the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
