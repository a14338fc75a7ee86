"""Reading an import file: stdin or a path, gzip inflated as a stream under a bomb bound, the head replayed.

One document or one line of compressed input may inflate to at most ``MAX_INFLATED_RECORD_BYTES``, and
once ``_RATIO_FREE_BYTES`` are out the inflated size may be at most ``MAX_INFLATE_RATIO`` times the
compressed bytes read. Beyond either, ImportLimitError names the limit, before the bomb is held in memory.
"""

from __future__ import annotations

import gzip
import io
import sys
from typing import IO

from spanscope.collectors.errors import ImportLimitError

MAX_INFLATED_RECORD_BYTES = 64 * 1024 * 1024  # one document or line of a compressed file, once inflated
MAX_INFLATE_RATIO = 100  # inflated / compressed bytes of a compressed file
_RATIO_FREE_BYTES = 16 * 1024 * 1024  # inflated bytes allowed whatever the ratio (small, very repetitive files)
_READ_CHUNK = 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"

STDIN = "-"


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MiB"


class _Counting:
    """A raw byte stream that counts what was read from it (the compressed side of a ratio)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.count += len(data)
        return data


class _Inflating:
    """A gzip stream inflated incrementally; refused (ImportLimitError) once it inflates beyond the ratio bound."""

    def __init__(self, raw: IO[bytes], *, close_raw: bool, max_ratio: float) -> None:
        self._raw = _Counting(raw)
        self._close_raw = close_raw
        self._gz = gzip.GzipFile(fileobj=self._raw, mode="rb")  # type: ignore[call-overload]  # read() is all it uses
        self._max_ratio = max_ratio
        self.inflated = 0
        self.record_cap: int | None = MAX_INFLATED_RECORD_BYTES

    def _count(self, data: bytes) -> bytes:
        self.inflated += len(data)
        if self.inflated > _RATIO_FREE_BYTES and self.inflated > self._max_ratio * max(1, self._raw.count):
            raise ImportLimitError(
                f"refused: the gzip content inflates more than {self._max_ratio:g} times its compressed size"
                f" ({_mib(self.inflated)} from {self._raw.count} bytes; the limit for compressed input is"
                f" {self._max_ratio:g}x beyond {_mib(_RATIO_FREE_BYTES)}): a decompression bomb or not a trace file"
            )
        return data

    def read(self, size: int = -1) -> bytes:
        return self._count(self._gz.read(size))

    def readline(self, size: int = -1) -> bytes:
        """One line (at most ``size`` bytes), read in pieces so the ratio bound is checked while it grows."""
        parts: list[bytes] = []
        left = size
        while left != 0:
            piece = self._count(self._gz.readline(_READ_CHUNK if left < 0 else min(left, _READ_CHUNK)))
            parts.append(piece)
            if not piece or piece.endswith(b"\n"):
                break
            if left > 0:
                left -= len(piece)
        return b"".join(parts)

    def close(self) -> None:
        try:
            self._gz.close()  # closes the decompressor only: GzipFile leaves a passed-in fileobj open
        finally:
            if self._close_raw:
                self._raw.raw.close()


Reader = IO[bytes] | _Inflating


def open_input(name: str, max_ratio: float = MAX_INFLATE_RATIO) -> Reader:
    """The bytes of a file (or of stdin for ``-``), inflated when they are gzip (magic number, not name)."""
    raw: IO[bytes] = sys.stdin.buffer if name == STDIN else open(name, "rb")  # noqa: SIM115 (closed by _chunks)
    try:
        peek = getattr(raw, "peek", None)
        magic = peek(2)[:2] if peek is not None else b""
    except OSError:
        if name != STDIN:
            raw.close()
        raise
    if magic == _GZIP_MAGIC:
        return _Inflating(raw, close_raw=name != STDIN, max_ratio=max_ratio)
    return raw


class Replay:
    """Serves the bytes already read for detection, then the rest of the stream (stdin can't be reopened).

    On compressed input a document or line longer than the stream's record cap is refused while reading.
    """

    def __init__(self, head: bytes, stream: Reader) -> None:
        self._head = io.BytesIO(head)
        self._stream = stream
        self._cap = stream.record_cap if isinstance(stream, _Inflating) else None

    def _too_large(self, what: str) -> ImportLimitError:
        assert self._cap is not None
        return ImportLimitError(
            f"refused: {what} of this gzip file inflates beyond {_mib(self._cap)}, the limit for one document"
            " or line of compressed input (decompress it first, or write it as JSON Lines)"
        )

    def readline(self) -> bytes:
        line = self._head.readline()
        if not line.endswith(b"\n"):
            if self._cap is None:
                line += self._stream.readline()
            else:
                line += self._stream.readline(self._cap + 1 - len(line))
                if len(line) > self._cap:
                    raise self._too_large("a line")
        return line

    def read(self) -> bytes:
        if self._cap is None:
            return self._head.read() + self._stream.read()
        parts = [self._head.read()]
        size = len(parts[0])
        while chunk := self._stream.read(_READ_CHUNK):
            size += len(chunk)
            if size > self._cap:
                raise self._too_large("the document")
            parts.append(chunk)
        return b"".join(parts)


def close_input(handle: Reader, name: str) -> None:
    if name != STDIN or isinstance(handle, _Inflating):
        handle.close()
