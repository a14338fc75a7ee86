"""Forward error correction for lossy edge uplinks: spool records as erasure-coded UDP datagrams.

A device's spooled record (an OTLP ``ExportTraceServiceRequest``, protobuf) is cut into *parts* of up to
``data_shards`` shards of ``shard_bytes``; each part is Reed-Solomon coded (zfec, the erasure code of
Tahoe-LAFS: any ``k`` of a part's ``n = k + m`` shards rebuild it) and every shard travels in its own
datagram. The collector (``collectors.receivers.fec_udp``) rebuilds a part from whichever ``k`` shards
arrive, so up to ``m`` lost datagrams per part cost nothing; once the record's spans are committed it
acknowledges the record's id in batches. What is not acknowledged stays in the spool and is sent again:
FEC instead of retransmission on a lossy link, with the spool filling the gaps FEC could not.

Data datagram (big-endian)::

    b"SFC1" | message id u64 | part u16 | parts u16 | k u8 | n u8 | index u8 | 0 u8
           | shard length u16 | part length u32 | crc32 of the shard u32 | shard

Acknowledgement datagram: ``b"SFA1" | collector clock ns u64 | count u16 | message id u64 × count``
(the collector's clock lets the device estimate its own clock offset, as the HTTP ``Date`` header does).

zfec is imported only when a datagram is coded (``pip install 'spanscope[fec]'``): a Lambda bundle that
never ships over FEC does not carry it.
"""

from __future__ import annotations

import os
import select
import socket
import struct
import time
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "ACK_MAGIC",
    "DATA_MAGIC",
    "FecAssembler",
    "FecCode",
    "FecUplink",
    "chunked",
    "decode_ack",
    "encode_ack",
    "encode_message",
]

DATA_MAGIC: Final = b"SFC1"
ACK_MAGIC: Final = b"SFA1"
_DATA: Final = struct.Struct(">4sQHHBBBxHII")
_ACK: Final = struct.Struct(">4sQH")
_ID: Final = struct.Struct(">Q")
MAX_SHARDS: Final = 256  # zfec's limit on n
MAX_ACK_IDS: Final = 160  # 8 bytes each: an acknowledgement stays well under 1,500 bytes
MAX_MESSAGE_BYTES: Final = 20 * 1024 * 1024  # the collector's body limit


@dataclass(frozen=True, slots=True)
class FecCode:
    """How records are coded: ``data_shards`` shards of ``shard_bytes`` per part, ``parity_shards`` added
    to a full part (a shorter part gets the same ratio, at least one). ``parity_shards=0`` is plain UDP."""

    data_shards: int = 16
    parity_shards: int = 4
    shard_bytes: int = 1200  # + 30 bytes of header + 28 of IP/UDP: under a 1,280-byte IPv6 minimum MTU

    def __post_init__(self) -> None:
        if self.data_shards < 1 or self.data_shards + self.parity_shards > MAX_SHARDS:
            raise ValueError(f"data_shards + parity_shards must be at most {MAX_SHARDS}, data_shards at least 1")
        if self.parity_shards < 0 or not 16 <= self.shard_bytes <= 65_000:
            raise ValueError("parity_shards must be >= 0 and shard_bytes from 16 to 65,000")

    def parity_for(self, k: int) -> int:
        if self.parity_shards == 0:
            return 0
        return max(1, -(-k * self.parity_shards // self.data_shards))

    @property
    def overhead(self) -> float:
        """Bytes sent per payload byte for full parts, headers included."""
        per_shard = (self.shard_bytes + _DATA.size) / self.shard_bytes
        return per_shard * (self.data_shards + self.parity_shards) / self.data_shards


def _zfec() -> Any:
    import zfec  # Tahoe-LAFS's erasure code: C, small, kept since 2007

    return zfec


def encode_message(message_id: int, payload: bytes, code: FecCode) -> list[bytes]:
    """Every datagram of one record: its parts' data shards, then their parity shards."""
    if len(payload) > MAX_MESSAGE_BYTES:
        raise ValueError(f"a record of {len(payload)} bytes is over the {MAX_MESSAGE_BYTES}-byte limit")
    zfec = _zfec()
    span = code.data_shards * code.shard_bytes
    chunks = [payload[i : i + span] for i in range(0, len(payload), span)] or [b""]
    datagrams: list[bytes] = []
    for part, chunk in enumerate(chunks):
        k = max(1, -(-len(chunk) // code.shard_bytes))
        n = k + code.parity_for(k)
        size = max(1, -(-len(chunk) // k))
        padded = chunk.ljust(k * size, b"\0")
        blocks = [padded[i * size : (i + 1) * size] for i in range(k)]
        shares = zfec.Encoder(k, n).encode(blocks) if n > k else blocks
        for index, share in enumerate(shares):
            header = _DATA.pack(
                DATA_MAGIC, message_id, part, len(chunks), k, n, index, size, len(chunk), zlib.crc32(share)
            )
            datagrams.append(header + bytes(share))
    return datagrams


def encode_ack(message_ids: Sequence[int], clock_ns: int | None = None) -> bytes:
    """One acknowledgement datagram for up to ``MAX_ACK_IDS`` records."""
    ids = list(message_ids)[:MAX_ACK_IDS]
    now = time.time_ns() if clock_ns is None else clock_ns
    return _ACK.pack(ACK_MAGIC, now, len(ids)) + b"".join(_ID.pack(i) for i in ids)


def decode_ack(data: bytes) -> tuple[int, list[int]] | None:
    """(collector clock ns, acknowledged ids) of an acknowledgement datagram, None if it is not one."""
    if len(data) < _ACK.size:
        return None
    magic, clock_ns, count = _ACK.unpack_from(data)
    if magic != ACK_MAGIC or len(data) != _ACK.size + count * _ID.size:
        return None
    return clock_ns, [_ID.unpack_from(data, _ACK.size + i * _ID.size)[0] for i in range(count)]


# --- the collector's side: rebuilding records ------------------------------------------------------------


@dataclass(slots=True)
class _Part:
    k: int
    n: int
    size: int
    length: int
    shares: dict[int, bytes] = field(default_factory=dict)


@dataclass(slots=True)
class _Message:
    parts: int
    pending: dict[int, _Part] = field(default_factory=dict)
    done: dict[int, bytes] = field(default_factory=dict)
    held_bytes: int = 0


class FecAssembler:
    """Rebuilds records from datagrams of any order, with up to ``n - k`` shards of each part missing.

    Bounded: at most ``max_messages`` records and ``max_bytes`` of shards are held while incomplete (the
    oldest is dropped beyond, counted in ``evicted``); ``remember`` completed ids are kept so a record sent
    again is acknowledged without being stored twice.
    """

    def __init__(self, *, max_messages: int = 4096, max_bytes: int = 64 * 1024 * 1024, remember: int = 65_536):
        self._messages: OrderedDict[tuple[object, int], _Message] = OrderedDict()
        self._completed: OrderedDict[tuple[object, int], None] = OrderedDict()
        self._max_messages = max_messages
        self._max_bytes = max_bytes
        self._remember = remember
        self._held = 0
        self.evicted = 0
        self.rebuilt_parts = 0  # parts that needed parity

    @property
    def held_bytes(self) -> int:
        return self._held

    def feed(self, data: bytes, source: object = None) -> tuple[str, int, bytes | None]:
        """(outcome, message id, payload): ``complete`` with the payload, ``partial``, ``duplicate`` (already
        complete: acknowledge again), or a rejection reason (``bad_magic``, ``bad_header``, ``bad_crc``)."""
        if len(data) < _DATA.size or data[:4] != DATA_MAGIC:
            return "bad_magic", 0, None
        _magic, mid, part, parts, k, n, index, size, length, crc = _DATA.unpack_from(data)
        share = data[_DATA.size :]
        if not (0 < k <= n and index < n and part < parts and len(share) == size and length <= k * size):
            return "bad_header", mid, None
        if zlib.crc32(share) != crc:
            return "bad_crc", mid, None
        key = (source, mid)
        if key in self._completed:
            return "duplicate", mid, None
        message = self._messages.get(key)
        if message is None:
            message = self._messages[key] = _Message(parts)
        elif message.parts != parts:
            return "bad_header", mid, None
        if part in message.done:
            return "partial", mid, None
        held = message.pending.get(part)
        if held is None:
            held = message.pending[part] = _Part(k, n, size, length)
        elif (held.k, held.n, held.size, held.length) != (k, n, size, length):
            return "bad_header", mid, None
        if index not in held.shares:
            held.shares[index] = share
            message.held_bytes += len(share)
            self._held += len(share)
        if len(held.shares) >= held.k:
            message.done[part] = self._rebuild(held)
            del message.pending[part]
            freed = sum(len(s) for s in held.shares.values())
            message.held_bytes -= freed
            self._held -= freed
        if len(message.done) == message.parts:
            del self._messages[key]
            self._held -= message.held_bytes
            self._completed[key] = None
            if len(self._completed) > self._remember:
                self._completed.popitem(last=False)
            return "complete", mid, b"".join(message.done[i] for i in range(message.parts))
        self._evict()
        return "partial", mid, None

    def forget(self, source: object, message_id: int) -> None:
        """A record whose spans the store refused: accept it again when it is sent again."""
        self._completed.pop((source, message_id), None)

    def _rebuild(self, part: _Part) -> bytes:
        data = [part.shares[i] for i in range(part.k) if i in part.shares]
        if len(data) == part.k:
            blocks = data
        else:
            self.rebuilt_parts += 1
            nums = sorted(part.shares)[: part.k]
            blocks = _zfec().Decoder(part.k, part.n).decode([part.shares[i] for i in nums], nums)
        return b"".join(bytes(b) for b in blocks)[: part.length]

    def _evict(self) -> None:
        while self._messages and (len(self._messages) > self._max_messages or self._held > self._max_bytes):
            _key, oldest = self._messages.popitem(last=False)
            self._held -= oldest.held_bytes
            self.evicted += 1


# --- the device's side: sending records and waiting for their acknowledgement -------------------------------


class FecUplink:
    """Sends records to a collector's FEC receiver and says how many of them, in order, were acknowledged.

    Used by :class:`spanscope.tracer.spool.StoreAndForwardExporter` (``fec=``) on its forwarding thread.
    ``rate_bytes_per_s`` paces the datagrams (a burst larger than the receiver's socket buffer is lost
    whatever the link); ``ack_timeout_s`` is how long to wait after the last datagram.
    """

    def __init__(
        self,
        address: tuple[str, int],
        code: FecCode | None = None,
        *,
        ack_timeout_s: float = 0.5,
        resend_rounds: int = 3,
        rate_bytes_per_s: float | None = 8 * 1024 * 1024,
    ) -> None:
        self.address = address
        self.code = code or FecCode()
        self.ack_timeout_s = ack_timeout_s
        self.resend_rounds = max(0, resend_rounds)
        self.rate_bytes_per_s = rate_bytes_per_s
        self.clock_offset_ns: int | None = None  # device clock - collector clock, from the acknowledgements
        self.bytes_sent = 0
        self.datagrams_sent = 0
        self.resent_records = 0  # records sent again because no acknowledgement came
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._sock.connect(address)  # acknowledgements only from the collector
        self._sock.setblocking(False)

    def send(self, payloads: Sequence[bytes]) -> int:
        """Send ``payloads`` as records; the number of leading ones the collector acknowledged.

        Records not acknowledged within ``ack_timeout_s`` are sent again, with the same ids (the collector
        acknowledges a record it already stored without storing it twice), up to ``resend_rounds`` times.
        """
        ids = [int.from_bytes(os.urandom(8), "big") for _ in payloads]
        acked: set[int] = set()
        for round_number in range(1 + self.resend_rounds):
            missing = [(mid, p) for mid, p in zip(ids, payloads, strict=True) if mid not in acked]
            if not missing:
                break
            if round_number:
                self.resent_records += len(missing)
            self._round(missing, acked)
        count = 0
        for mid in ids:
            if mid not in acked:
                break
            count += 1
        return count

    def _round(self, records: list[tuple[int, bytes]], acked: set[int]) -> None:
        started_ns = time.time_ns()
        budget_start = time.monotonic()
        sent = 0
        for mid, payload in records:
            for datagram in encode_message(mid, payload, self.code):
                sent += len(datagram)
                self._transmit(datagram)
                self._pace(sent, budget_start)
            self._read_acks(acked, started_ns)
        wanted = {mid for mid, _ in records}
        deadline = time.monotonic() + self.ack_timeout_s
        while not acked.issuperset(wanted):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            select.select([self._sock], [], [], remaining)
            self._read_acks(acked, started_ns)

    def _transmit(self, datagram: bytes) -> None:
        try:
            self._sock.send(datagram)
        except BlockingIOError:
            select.select([], [self._sock], [], 0.05)
            try:
                self._sock.send(datagram)
            except OSError:
                return
        except OSError:  # the collector's port is closed (ICMP) or the network is down: a lost datagram
            return
        self.bytes_sent += len(datagram)
        self.datagrams_sent += 1

    def _pace(self, sent: int, started: float) -> None:
        if not self.rate_bytes_per_s:
            return
        ahead = sent / self.rate_bytes_per_s - (time.monotonic() - started)
        if ahead > 0.002:
            time.sleep(ahead)

    def _read_acks(self, acked: set[int], started_ns: int) -> None:
        while True:
            try:
                data = self._sock.recv(65_536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. ECONNREFUSED from an earlier datagram: nothing to read
                return
            ack = decode_ack(data)
            if ack is None:
                continue
            clock_ns, ids = ack
            received_ns = time.time_ns()
            self.clock_offset_ns = (started_ns + received_ns) // 2 - clock_ns
            acked.update(ids)

    def close(self) -> None:
        self._sock.close()


def chunked(ids: Iterable[int], size: int = MAX_ACK_IDS) -> list[list[int]]:
    """Acknowledgement-sized groups of ids."""
    out: list[list[int]] = [[]]
    for mid in ids:
        if len(out[-1]) == size:
            out.append([])
        out[-1].append(mid)
    return [group for group in out if group]
