"""FEC UDP receiver for edge uplinks: rebuilds spool records from erasure-coded datagrams, acknowledges after commit.

The wire format and the coding are the tracer's (:mod:`spanscope.tracer.fec`): a device's spool sends
each record (an OTLP ``ExportTraceServiceRequest``) as the shards of Reed-Solomon coded parts; any ``k``
shards of a part rebuild it. A rebuilt record's spans go to the batch writer; once they are committed
its id is acknowledged to the sender (acknowledgements of one sender are batched, at most every
``ack_interval_s``). A record whose spans could not be stored is not acknowledged, and is accepted again
when the spool sends it again; a record sent again after it was stored is only acknowledged again.

Counters: ``fec_udp.received`` (datagrams), ``fec_udp.records`` (rebuilt and queued),
``fec_udp.rebuilt_parts`` (parts that needed parity), ``fec_udp.duplicates``, ``fec_udp.acks_sent``,
``fec_udp.rejected:<reason>`` (bad datagrams or records), ``fec_udp.evicted`` (incomplete records given
up for memory), ``fec_udp.dropped:<reason>`` (queue full or store error: the spool sends them again).
"""

from __future__ import annotations

import logging
import select
import socket
import threading
from collections import deque

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from spanscope.collectors.formats.otlp_proto import spans_from_request
from spanscope.collectors.receivers.counters import Counters
from spanscope.collectors.receivers.writer import BatchWriter
from spanscope.tracer.fec import FecAssembler, chunked, encode_ack

_log = logging.getLogger(__name__)

_PREFIX = "fec_udp"
_POLL_MS = 20
_MAX_DATAGRAM = 65_536
Peer = tuple[str, int]


class FecUDPReceiver:
    """Receives FEC datagrams on one thread, hands rebuilt records to the writer, acknowledges them."""

    def __init__(
        self,
        host: str,
        port: int,
        writer: BatchWriter,
        counters: Counters,
        *,
        rcvbuf_bytes: int = 4 * 1024 * 1024,
        max_held_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self._writer = writer
        self._counters = counters
        self._assembler = FecAssembler(max_bytes=max_held_bytes)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf_bytes)
        self._sock.bind((host.strip("[]"), port))
        self._sock.setblocking(False)
        self.address: tuple[str, int] = self._sock.getsockname()[:2]
        # From the writer thread to this one: ids to acknowledge, ids to accept again.
        self._acks: deque[tuple[Peer, int]] = deque()
        self._forget: deque[tuple[Peer, int]] = deque()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="spanscope-fec-udp", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)
        self._sock.close()

    def _record(self, peer: Peer, mid: int, payload: bytes) -> None:
        try:
            request = ExportTraceServiceRequest.FromString(payload)
        except DecodeError:
            self._counters.add(f"{_PREFIX}.rejected:bad_protobuf")
            self._acks.append((peer, mid))  # it will never decode: do not make the spool send it forever
            return
        result = spans_from_request(request)
        if result.errors:
            self._counters.add(f"{_PREFIX}.rejected_spans", len(result.errors))
        if not result.spans:
            self._acks.append((peer, mid))
            return

        def done(error: BaseException | None) -> None:  # on the writer thread, after the commit
            if error is None:
                self._acks.append((peer, mid))
            else:
                self._forget.append((peer, mid))
                self._counters.add(f"{_PREFIX}.dropped:store_error")

        if self._writer.submit(result.spans, done):
            self._counters.add_many({f"{_PREFIX}.records": 1, f"{_PREFIX}.spans": len(result.spans)})
        else:
            self._assembler.forget(peer, mid)
            self._counters.add(f"{_PREFIX}.dropped:overload")

    def _send_acks(self) -> None:
        while self._forget:
            self._assembler.forget(*self._forget.popleft())
        if not self._acks:
            return
        by_peer: dict[Peer, list[int]] = {}
        while self._acks:
            peer, mid = self._acks.popleft()
            by_peer.setdefault(peer, []).append(mid)
        sent = 0
        for peer, ids in by_peer.items():
            for group in chunked(ids):
                try:
                    self._sock.sendto(encode_ack(group), peer)
                    sent += 1
                except OSError as exc:  # the device went away: its spool sends the records again
                    _log.debug("FEC acknowledgement to %s failed: %s", peer, exc)
        self._counters.add(f"{_PREFIX}.acks_sent", sent)

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self._sock.fileno(), select.POLLIN)
        assembler = self._assembler
        tally: dict[str, int] = {}
        while not self._stop.is_set():
            poller.poll(_POLL_MS)
            for _ in range(4096):  # then acknowledge, even under a flood
                try:
                    data, addr = self._sock.recvfrom(_MAX_DATAGRAM)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError as exc:
                    _log.debug("FEC UDP receive error: %s", exc)
                    tally[f"{_PREFIX}.receive_errors"] = tally.get(f"{_PREFIX}.receive_errors", 0) + 1
                    break
                tally[f"{_PREFIX}.received"] = tally.get(f"{_PREFIX}.received", 0) + 1
                peer: Peer = (str(addr[0]), int(addr[1]))
                outcome, mid, payload = assembler.feed(data, peer)
                if outcome == "complete" and payload is not None:
                    self._record(peer, mid, payload)
                elif outcome == "duplicate":
                    tally[f"{_PREFIX}.duplicates"] = tally.get(f"{_PREFIX}.duplicates", 0) + 1
                    self._acks.append((peer, mid))
                elif outcome != "partial":
                    key = f"{_PREFIX}.rejected:{outcome}"
                    tally[key] = tally.get(key, 0) + 1
            self._send_acks()
            tally[f"{_PREFIX}.rebuilt_parts"] = assembler.rebuilt_parts
            tally[f"{_PREFIX}.evicted"] = assembler.evicted
            self._flush(tally)

    def _flush(self, tally: dict[str, int]) -> None:
        rebuilt = tally.pop(f"{_PREFIX}.rebuilt_parts", 0)
        evicted = tally.pop(f"{_PREFIX}.evicted", 0)
        self._counters.set_max(f"{_PREFIX}.rebuilt_parts", rebuilt)
        self._counters.set_max(f"{_PREFIX}.evicted", evicted)
        if tally:
            self._counters.add_many(tally)
            tally.clear()
