"""The spool's disk log: a bounded, crash-safe FIFO of byte records in a directory (append, read, commit, recovery).

On disk: ``seg-<16 digits>.spool`` files of records ``b"SSP1" | length (u32 BE) | crc32 (u32 BE) | payload``,
each append flushed and fsynced; a new process never appends to an existing file, so a torn write can only
be the tail of a file, where reading stops (the damaged record is counted). The read position lives in
``cursor.json``, replaced atomically (temp file, fsync, rename). Over ``max_bytes``, whole files are evicted
oldest first and their unsent records counted.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import os
import struct
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

_MAGIC: Final = b"SSP1"
_HEADER: Final = struct.Struct(">4sII")
_SEGMENT_PREFIX: Final = "seg-"
_SEGMENT_SUFFIX: Final = ".spool"
_CURSOR_FILE: Final = "cursor.json"


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
