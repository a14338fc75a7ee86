"""Store-and-forward span export for Greengrass / edge devices: a bounded on-disk spool drained over OTLP/HTTP.

:class:`StoreAndForwardExporter` wraps the exporter a device would normally use (``inner``, e.g. the
OTLP/HTTP exporter). While the inner exporter succeeds, spans go straight through. When it fails (the
collector is unreachable), each batch is serialized as an OTLP ``ExportTraceServiceRequest`` (protobuf)
and appended to a :class:`DiskSpool`; a background thread forwards the spool, oldest first, by POSTing
those bytes to the OTLP/HTTP endpoint with exponential backoff and jitter. While anything is spooled,
new batches are appended behind it so spans arrive in the order they were exported.

On a lossy uplink, ``fec=FecUplink((host, port))`` forwards every batch through the spool as
erasure-coded UDP datagrams instead (:mod:`spanscope.tracer.fec`): the collector rebuilds lost datagrams
from parity and acknowledges records once stored; what it did not acknowledge is sent again.

The spool on disk: ``seg-<16 digits>.spool`` files of records ``b"SSP1" | length (u32 BE) | crc32 (u32
BE) | payload``, each append flushed and fsynced; a new process never appends to an existing file, so a
torn write can only be the tail of a file, where reading stops (the damaged record is counted). The read
position lives in ``cursor.json``, replaced atomically (temp file, fsync, rename). Over ``max_bytes``,
whole files are evicted oldest first and their unsent records counted. A crash between a send and the
cursor update re-sends one batch; the collector's store is idempotent on (trace id, span id).

Clock skew: devices often run with a wrong clock. The offset ``spanscope.device.clock_offset_ns`` =
device clock - collector clock (positive: the device is ahead; the collector subtracts it) is written on
every forwarded span. It is either configured, or estimated from the ``Date`` header of the collector's
answers (second resolution, so the estimate is within about half a second plus half the round trip).

Nothing here raises into the host program: failures are logged once per kind and counted in
:attr:`StoreAndForwardExporter.stats`.
"""

from __future__ import annotations

import bisect
import contextlib
import http.client
import json
import logging
import os
import random
import struct
import threading
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

if TYPE_CHECKING:
    from spanscope.tracer.fec import FecUplink

_logger = logging.getLogger(__name__)

DEVICE_CLOCK_OFFSET_NS: Final = "spanscope.device.clock_offset_ns"  # = collectors.conventions
DEFAULT_ENDPOINT: Final = "http://127.0.0.1:4318/v1/traces"
CONTENT_TYPE: Final = "application/x-protobuf"

_MAGIC: Final = b"SSP1"
_HEADER: Final = struct.Struct(">4sII")
_SEGMENT_PREFIX: Final = "seg-"
_SEGMENT_SUFFIX: Final = ".spool"
_CURSOR_FILE: Final = "cursor.json"
_RETRYABLE_STATUS: Final = frozenset({408, 429, 500, 502, 503, 504})
_RANDOM: Final = random.Random()  # jitter, not security


# --- the on-disk spool -----------------------------------------------------------------------------------


@dataclass
class _Segment:
    seq: int
    path: Path
    size: int  # bytes of valid records
    offsets: list[int]  # start offset of each valid record


@dataclass(frozen=True)
class SpoolRecord:
    """One spooled payload and the position just after it (what :meth:`DiskSpool.commit` takes)."""

    seq: int
    end_offset: int
    payload: bytes


@dataclass
class AppendResult:
    """What one append did: whether the payload was stored, and what was evicted to make room."""

    stored: bool
    evicted_records: int = 0
    evicted_bytes: int = 0


class DiskSpool:
    """A bounded, crash-safe FIFO of byte records in a directory (see the module docstring for the format).

    Thread-safe. ``max_bytes`` bounds the files' total size; ``segment_bytes`` is the size at which a file
    is closed and a new one started (eviction drops whole files, so keep it well below ``max_bytes``).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        max_bytes: int = 64 * 1024 * 1024,
        segment_bytes: int = 1024 * 1024,
        fsync: bool = True,
    ) -> None:
        if max_bytes < 4 * _HEADER.size:
            raise ValueError("max_bytes is too small for a spool")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.segment_bytes = max(_HEADER.size + 1, min(segment_bytes, max_bytes // 4))
        self._fsync = fsync
        self._lock = threading.RLock()
        self._segments: list[_Segment] = []
        self._active: _Segment | None = None
        self._file: Any = None
        self.corrupt_records = 0
        self._cursor = (0, 0)
        self._recover()

    # -- recovery --

    def _recover(self) -> None:
        seqs = []
        for path in self.directory.glob(f"{_SEGMENT_PREFIX}*{_SEGMENT_SUFFIX}"):
            digits = path.name[len(_SEGMENT_PREFIX) : -len(_SEGMENT_SUFFIX)]
            if digits.isdigit():
                seqs.append(int(digits))
        for seq in sorted(seqs):
            segment = self._scan(seq)
            if segment.offsets:
                self._segments.append(segment)
            else:
                with contextlib.suppress(OSError):
                    segment.path.unlink()
        self._cursor = self._read_cursor()
        self._normalize_cursor()
        # Never reuse a number the cursor may point past (its file can be gone already).
        self._next_seq = max(max(seqs, default=0), self._cursor[0]) + 1

    def _scan(self, seq: int) -> _Segment:
        path = self._path(seq)
        data = path.read_bytes()
        offsets: list[int] = []
        offset = 0
        while offset < len(data):
            if len(data) - offset < _HEADER.size:
                self.corrupt_records += 1
                break
            magic, length, crc = _HEADER.unpack_from(data, offset)
            end = offset + _HEADER.size + length
            if magic != _MAGIC or end > len(data):
                self.corrupt_records += 1  # a torn tail (or a damaged header): nothing after it is trusted
                break
            if zlib.crc32(data[offset + _HEADER.size : end]) != crc:
                self.corrupt_records += 1
                if end == len(data) or data[end : end + len(_MAGIC)] == _MAGIC:
                    offset = end  # damaged payload, intact framing: skip just this record
                    continue
                break
            offsets.append(offset)
            offset = end
        return _Segment(seq, path, offset, offsets)

    def _read_cursor(self) -> tuple[int, int]:
        try:
            raw = json.loads((self.directory / _CURSOR_FILE).read_text())
            return int(raw["segment"]), int(raw["offset"])
        except (OSError, ValueError, KeyError, TypeError):
            return (0, 0)

    def _normalize_cursor(self) -> None:
        """Point the cursor at the next unread record (or the end) and delete files read to the end."""
        seq, offset = self._cursor
        while self._segments:
            first = self._segments[0]
            if first.seq < seq or (first.seq == seq and offset >= first.size and first is not self._active):
                self._delete(first)
                continue
            if first.seq > seq:
                seq, offset = first.seq, 0
            elif offset not in first.offsets and offset < first.size:
                offset = next((o for o in first.offsets if o >= offset), first.size)
            break
        self._cursor = (seq, offset)

    # -- writing --

    def append(self, payload: bytes) -> AppendResult:
        """Store one record durably, evicting the oldest files first when over ``max_bytes``."""
        size = _HEADER.size + len(payload)
        with self._lock:
            if size > self.max_bytes:
                return AppendResult(stored=False, evicted_records=1, evicted_bytes=size)
            result = AppendResult(stored=True)
            if self._active is None or self._active.size + size > self.segment_bytes:
                self._rotate()
            while self.total_bytes() + size > self.max_bytes and len(self._segments) > 1:
                self._evict(self._segments[0], result)
            if self.total_bytes() + size > self.max_bytes:  # only the active file is left: start afresh
                old = self._segments[0]
                self._rotate()
                self._evict(old, result)
            active = self._active
            assert active is not None and self._file is not None
            record = _HEADER.pack(_MAGIC, len(payload), zlib.crc32(payload)) + payload
            try:
                self._file.write(record)
                self._file.flush()
                if self._fsync:
                    os.fsync(self._file.fileno())
            except OSError:
                # Full disk or I/O error: cut the partial record off, or give the file up, so the next
                # append never lands behind a torn record.
                try:
                    self._file.seek(active.size)
                    self._file.truncate(active.size)
                except (OSError, ValueError):
                    self._close_file()
                    self._active = None
                raise
            active.offsets.append(active.size)
            active.size += size
            return result

    def _rotate(self) -> None:
        self._close_file()
        seq = self._next_seq
        self._next_seq += 1
        path = self._path(seq)
        self._file = open(path, "xb")  # noqa: SIM115 - kept open for appends, closed in close()
        self._active = _Segment(seq, path, 0, [])
        self._segments.append(self._active)
        if self._fsync:
            _fsync_directory(self.directory)
        self._normalize_cursor()

    def _evict(self, segment: _Segment, result: AppendResult) -> None:
        seq, offset = self._cursor
        if segment.seq > seq:
            unread = segment.offsets
        elif segment.seq == seq:
            unread = [o for o in segment.offsets if o >= offset]
        else:
            unread = []
        result.evicted_records += len(unread)
        result.evicted_bytes += segment.size - (unread[0] if unread else segment.size)
        if segment is self._active:
            self._close_file()
            self._active = None
        self._delete(segment)
        self._normalize_cursor()

    def _delete(self, segment: _Segment) -> None:
        self._segments.remove(segment)
        with contextlib.suppress(OSError):
            segment.path.unlink()

    # -- reading --

    def peek(self, *, max_records: int = 256, max_bytes: int = 1024 * 1024) -> list[SpoolRecord]:
        """The oldest unread records (at least one if any), without consuming them."""
        out: list[SpoolRecord] = []
        budget = max_bytes
        with self._lock:
            seq, offset = self._cursor
            for segment in self._segments:
                if segment.seq < seq:
                    continue
                start = offset if segment.seq == seq else 0
                positions = [o for o in segment.offsets if o >= start]
                if not positions:
                    continue
                with open(segment.path, "rb") as handle:
                    for position in positions:
                        handle.seek(position)
                        header = handle.read(_HEADER.size)
                        _magic, length, _crc = _HEADER.unpack(header)
                        if out and (len(out) >= max_records or length > budget):
                            return out
                        payload = handle.read(length)
                        out.append(SpoolRecord(segment.seq, position + _HEADER.size + length, payload))
                        budget -= length
        return out

    def commit(self, record: SpoolRecord) -> None:
        """Mark everything up to and including ``record`` as sent; persist the cursor atomically."""
        with self._lock:
            if (record.seq, record.end_offset) <= self._cursor:
                return  # evicted or already committed meanwhile
            self._cursor = (record.seq, record.end_offset)
            self._normalize_cursor()
            self._write_cursor()

    def _write_cursor(self) -> None:
        seq, offset = self._cursor
        target = self.directory / _CURSOR_FILE
        temp = self.directory / f".{_CURSOR_FILE}.tmp"
        with open(temp, "w") as handle:
            handle.write(json.dumps({"segment": seq, "offset": offset}))
            handle.flush()
            if self._fsync:
                os.fsync(handle.fileno())
        os.replace(temp, target)
        if self._fsync:
            _fsync_directory(self.directory)

    # -- sizes --

    def total_bytes(self) -> int:
        """Bytes of all spool files (read records of the current file included)."""
        with self._lock:
            return sum(s.size for s in self._segments)

    def pending(self) -> tuple[int, int]:
        """(records, payload-and-header bytes) not yet committed."""
        with self._lock:
            seq, offset = self._cursor
            records = 0
            size = 0
            for segment in self._segments:
                if segment.seq < seq:
                    continue
                first = bisect.bisect_left(segment.offsets, offset) if segment.seq == seq else 0
                records += len(segment.offsets) - first
                if first < len(segment.offsets):
                    size += segment.size - segment.offsets[first]
            return records, size

    def __len__(self) -> int:
        return self.pending()[0]

    def close(self) -> None:
        """Close the file being written (the spool stays on disk for the next process)."""
        with self._lock:
            self._close_file()
            self._active = None

    def _close_file(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    def _path(self, seq: int) -> Path:
        return self.directory / f"{_SEGMENT_PREFIX}{seq:016d}{_SEGMENT_SUFFIX}"


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- the exporter ----------------------------------------------------------------------------------------


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


class StoreAndForwardExporter(SpanExporter):
    """Exports through ``inner`` when it works, spools to ``directory`` when it does not, forwards later.

    ``endpoint`` is the OTLP/HTTP traces URL the spool is drained to; default: the inner exporter's
    endpoint when it has one, else ``$OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, else
    ``$OTEL_EXPORTER_OTLP_ENDPOINT`` + ``/v1/traces``, else ``http://127.0.0.1:4318/v1/traces``.
    ``headers`` are sent with each drain request (default: ``$OTEL_EXPORTER_OTLP_TRACES_HEADERS``, else
    ``$OTEL_EXPORTER_OTLP_HEADERS``, e.g. the collector's bearer token). ``clock_offset_ns`` fixes the
    device clock offset; otherwise it is estimated from the collector's
    ``Date`` header (a probe with an empty request is sent at start when ``probe_clock``).
    """

    def __init__(
        self,
        inner: SpanExporter | None,
        directory: str | os.PathLike[str],
        *,
        max_bytes: int = 64 * 1024 * 1024,
        segment_bytes: int = 1024 * 1024,
        endpoint: str | None = None,
        headers: Mapping[str, str] | None = None,
        clock_offset_ns: int | None = None,
        probe_clock: bool = True,
        initial_backoff_s: float = 1.0,
        max_backoff_s: float = 300.0,
        request_timeout_s: float = 10.0,
        drain_batch_bytes: int = 1024 * 1024,
        shutdown_timeout_s: float = 5.0,
        fsync: bool = True,
        fec: FecUplink | None = None,
    ) -> None:
        self._inner: SpanExporter = inner if inner is not None else _NoExporter()
        self._fec = fec
        self._endpoint = endpoint or _endpoint_of(self._inner)
        self._headers = dict(headers) if headers is not None else _headers_from_environ()
        self._fixed_offset = clock_offset_ns
        self._offset_ns: int | None = clock_offset_ns
        self._initial_backoff_s = max(0.001, initial_backoff_s)
        self._max_backoff_s = max(self._initial_backoff_s, max_backoff_s)
        self._request_timeout_s = request_timeout_s
        self._drain_batch_bytes = drain_batch_bytes
        self._shutdown_timeout_s = shutdown_timeout_s
        self._stats = SpoolStats()
        self._warned: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._stopping = False
        self._shut = False
        self._online = True  # optimistic until a send fails
        self._failures = 0
        self._attempts = 0  # drain attempts finished (force_flush waits on it)
        self._hurry = False
        self._single = False  # after a 4xx, send records one by one to isolate the bad one
        self._spool: DiskSpool | None = None
        try:
            self._spool = DiskSpool(directory, max_bytes=max_bytes, segment_bytes=segment_bytes, fsync=fsync)
            self._stats.corrupt_records = self._spool.corrupt_records
        except Exception as error:
            self._warn_once("spool-open", "span spool unusable, spans are not kept while offline: %r", error)
        # Probe with an empty request at start, and before draining while the offset is still unknown,
        # so that spans spooled offline are forwarded with the offset already estimated.
        self._probe = probe_clock and clock_offset_ns is None and fec is None  # FEC: acks carry the clock
        self._startup_probe = self._probe
        self._thread = threading.Thread(target=self._run, name="spanscope-spool", daemon=True)
        self._thread.start()

    # -- SpanExporter --

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            return self._export(spans)
        except Exception as error:
            with self._lock:
                self._stats.export_failures += 1
            self._warn_once(f"export:{type(error).__name__}", "span export failed: %r", error)
            return SpanExportResult.FAILURE

    def _export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shut or not spans:
            return SpanExportResult.FAILURE if self._shut else SpanExportResult.SUCCESS
        spool = self._spool
        with self._lock:
            online = self._online
            offset = self._offset_ns
        if online and self._fec is None and (spool is None or len(spool) == 0):
            stamped = _stamped(spans, offset) if offset is not None else spans
            if self._inner.export(stamped) is SpanExportResult.SUCCESS:
                with self._lock:
                    self._stats.exported_live += len(spans)
                return SpanExportResult.SUCCESS
            with self._lock:
                self._online = False
        if spool is None:
            return SpanExportResult.FAILURE
        payload = encode_spans(spans).SerializeToString()
        result = spool.append(payload)
        with self._lock:
            stats = self._stats
            stats.evicted_batches += result.evicted_records
            stats.evicted_bytes += result.evicted_bytes
            if result.stored:
                stats.spooled_batches += 1
                stats.spooled_spans += len(spans)
            self._wake.notify_all()
        if result.evicted_records:
            self._warn_once("evict", "span spool full: oldest batches evicted (counted in stats)")
        return SpanExportResult.SUCCESS if result.stored else SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Try to forward the spool within ``timeout_millis``; True when nothing is left unsent."""
        deadline = time.monotonic() + max(0, timeout_millis) / 1000
        try:
            spool = self._spool
            with self._lock:
                start = self._attempts
                self._hurry = True
                self._wake.notify_all()
                while spool is not None and len(spool) > 0 and not self._stopping:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or (not self._online and self._attempts > start):
                        break
                    self._wake.wait(min(remaining, 0.1))
                self._hurry = False
            empty = spool is None or len(spool) == 0
            remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
            return self._inner.force_flush(remaining_ms) and empty
        except Exception as error:
            self._warn_once(f"flush:{type(error).__name__}", "span spool flush failed: %r", error)
            return False

    def shutdown(self) -> None:
        """Stop the forwarding thread (bounded by ``shutdown_timeout_s``); spooled spans stay on disk."""
        try:
            with self._lock:
                if self._shut:
                    return
                self._shut = True
                self._stopping = True
                self._wake.notify_all()
            self._thread.join(self._shutdown_timeout_s)
            if self._spool is not None:
                self._spool.close()
            if self._fec is not None:
                self._fec.close()
            self._inner.shutdown()
        except Exception as error:
            self._warn_once(f"shutdown:{type(error).__name__}", "span spool shutdown failed: %r", error)

    # -- introspection --

    @property
    def stats(self) -> SpoolStats:
        """A snapshot of the counters, with the spool's current backlog."""
        with self._lock:
            snapshot = replace(self._stats, online=self._online, clock_offset_ns=self._offset_ns)
        if self._spool is not None:
            snapshot.pending_batches, snapshot.pending_bytes = self._spool.pending()
        return snapshot

    @property
    def endpoint(self) -> str:
        """The OTLP/HTTP URL the spool drains to."""
        return self._endpoint

    # -- forwarding thread --

    def _run(self) -> None:
        while True:
            try:
                if not self._step():
                    return
            except Exception as error:  # keep forwarding whatever happens
                self._warn_once(f"drain:{type(error).__name__}", "span spool forwarding failed: %r", error)
                with self._lock:
                    self._stats.send_failures += 1
                    self._failures += 1
                    self._wake.wait(self._backoff_s())

    def _step(self) -> bool:
        """One forwarding attempt (or a wait). False when the thread should end."""
        spool = self._spool
        with self._lock:
            while not self._stopping and not self._startup_probe and (spool is None or len(spool) == 0):
                self._wake.wait()
            if self._stopping:
                return False
            probe = self._startup_probe or (self._probe and self._offset_ns is None)
            self._startup_probe = False
        if probe:
            ok, _permanent = self._post(b"")
            with self._lock:
                if ok:
                    self._online = True
                    self._probe = False  # answered: the offset is known, or the collector sends no Date
                else:
                    self._after_failure()
            return True
        assert spool is not None
        records = spool.peek(max_records=1 if self._single else 256, max_bytes=self._drain_batch_bytes)
        if not records:
            return True
        with self._lock:
            offset = self._offset_ns
        if self._fec is not None:
            return self._send_fec(spool, records, offset)
        body = b"".join(_stamp_payload(r.payload, offset) for r in records)
        ok, permanent = self._post(body)
        if ok or (permanent and len(records) == 1):
            with self._lock:  # commit and state change together, as force_flush and export see them
                spool.commit(records[-1])
                if ok:
                    self._stats.drained_batches += len(records)
                    self._stats.drain_requests += 1
                    self._online = True
                    self._failures = 0
                    self._single = False
                else:
                    self._stats.rejected_batches += 1
                self._attempts += 1
                self._wake.notify_all()
            if permanent:
                self._warn_once("rejected", "collector rejected a spooled batch; it was dropped")
            return True
        with self._lock:
            if permanent:
                self._single = True  # find the bad record: one per request
                self._attempts += 1
                return True
            self._after_failure()
        return True

    def _send_fec(self, spool: DiskSpool, records: list[SpoolRecord], offset: int | None) -> bool:
        """Send records over the FEC uplink; commit those acknowledged in order, back off only when none was."""
        assert self._fec is not None
        acked = self._fec.send([_stamp_payload(r.payload, offset) for r in records])
        with self._lock:
            if self._fixed_offset is None and self._fec.clock_offset_ns is not None:
                self._offset_ns = self._fec.clock_offset_ns
            if acked:
                spool.commit(records[acked - 1])
                self._stats.drained_batches += acked
                self._stats.drain_requests += 1
                self._online = True
                self._failures = 0
                self._attempts += 1
                self._wake.notify_all()
                return True  # what was not acknowledged is sent again at once: FEC already paid for the loss
            self._after_failure()
        return True

    def _after_failure(self) -> None:
        """Count a failed attempt and wait out the backoff (lock held)."""
        self._stats.send_failures += 1
        self._online = False
        self._failures += 1
        self._attempts += 1
        self._wake.notify_all()
        delay = self._backoff_s()
        deadline = time.monotonic() + delay
        while not self._stopping and not self._hurry:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._wake.wait(remaining)

    def _backoff_s(self) -> float:
        return backoff_delay_s(self._failures, self._initial_backoff_s, self._max_backoff_s)

    def _post(self, body: bytes) -> tuple[bool, bool]:
        """POST one OTLP request: (success, permanent failure). Estimates the clock offset on answers."""
        parts = urlsplit(self._endpoint)
        host = parts.hostname or "127.0.0.1"
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(host, parts.port, timeout=self._request_timeout_s)
        else:
            connection = http.client.HTTPConnection(host, parts.port, timeout=self._request_timeout_s)
        path = parts.path or "/v1/traces"
        if parts.query:
            path = f"{path}?{parts.query}"
        headers = {"Content-Type": CONTENT_TYPE, **self._headers}
        try:
            sent_ns = time.time_ns()
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            received_ns = time.time_ns()
            self._estimate_offset(response.getheader("Date"), sent_ns, received_ns)
        except (OSError, http.client.HTTPException) as error:
            self._warn_once(f"post:{type(error).__name__}", "collector unreachable, spooling spans: %r", error)
            return False, False
        finally:
            connection.close()
        if 200 <= response.status < 300:
            return True, False
        if response.status in _RETRYABLE_STATUS:
            return False, False
        self._warn_once(f"status:{response.status}", "collector answered HTTP %s", response.status)
        return False, 400 <= response.status < 500

    def _estimate_offset(self, date: str | None, sent_ns: int, received_ns: int) -> None:
        if self._fixed_offset is not None or not date:
            return
        try:
            server_s = parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError, IndexError):
            return
        # The Date header truncates to the second: the server's time was within [date, date + 1 s).
        server_ns = int(server_s * 1e9) + 500_000_000
        offset = (sent_ns + received_ns) // 2 - server_ns
        with self._lock:
            self._offset_ns = offset

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        with self._lock:
            if key in self._warned:
                return
            self._warned.add(key)
        _logger.warning(message, *args)


# --- helpers for the exporter ----------------------------------------------------------------------------


class _NoExporter(SpanExporter):
    """The live exporter of a spool that forwards everything over its FEC uplink."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


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


def _headers_from_environ() -> dict[str, str]:
    """``OTEL_EXPORTER_OTLP_TRACES_HEADERS`` (else ``OTEL_EXPORTER_OTLP_HEADERS``), as the OTLP exporter reads them."""
    text = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS") or os.environ.get("OTEL_EXPORTER_OTLP_HEADERS", "")
    if not text:
        return {}
    from opentelemetry.util.re import parse_env_headers

    return dict(parse_env_headers(text, liberal=True))


def _endpoint_of(inner: SpanExporter) -> str:
    endpoint = getattr(inner, "_endpoint", None)
    if isinstance(endpoint, str) and endpoint.startswith(("http://", "https://")):
        return endpoint
    traces = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if traces:
        return traces
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if base:
        return base.rstrip("/") + "/v1/traces"
    return DEFAULT_ENDPOINT


def _stamped(spans: Sequence[ReadableSpan], offset_ns: int) -> list[ReadableSpan]:
    """Copies of the spans carrying the device clock offset attribute."""
    out: list[ReadableSpan] = []
    for span in spans:
        attributes = dict(span.attributes or {})
        if DEVICE_CLOCK_OFFSET_NS in attributes:
            out.append(span)
            continue
        attributes[DEVICE_CLOCK_OFFSET_NS] = offset_ns
        out.append(
            ReadableSpan(
                name=span.name,
                context=span.context,
                parent=span.parent,
                resource=span.resource,
                attributes=attributes,
                events=span.events,
                links=span.links,
                kind=span.kind,
                status=span.status,
                start_time=span.start_time,
                end_time=span.end_time,
                instrumentation_scope=span.instrumentation_scope,
            )
        )
    return out


def _stamp_payload(payload: bytes, offset_ns: int | None) -> bytes:
    """The spooled request with the clock offset added to spans that lack it (unchanged if unknown)."""
    if offset_ns is None:
        return payload
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(payload)
    except Exception:  # not ours to judge: send it as it is, the collector rejects it (then it is dropped)
        return payload
    changed = False
    for span in _iter_spans(request):
        if not any(kv.key == DEVICE_CLOCK_OFFSET_NS for kv in span.attributes):
            span.attributes.append(KeyValue(key=DEVICE_CLOCK_OFFSET_NS, value=AnyValue(int_value=offset_ns)))
            changed = True
    return request.SerializeToString() if changed else payload


def _iter_spans(request: ExportTraceServiceRequest) -> Iterator[Any]:
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            yield from scope_spans.spans
