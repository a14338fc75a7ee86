"""X-Ray daemon-compatible UDP receiver: a header line, then one segment document per datagram.

The wire format is the AWS X-Ray daemon's (``{"format":"json","version":1}\\n{segment}``, at most
64 KB): what the X-Ray SDKs send to 127.0.0.1:2000. Whole segments, independently streamed
subsegments and in-progress segments all convert through ``formats.xray.spans_from_document``; the
store joins subsegments to their segment by parent id and replaces in-progress spans when the
completed version arrives. Bad datagrams are counted by reason and the receiver carries on.

Counters: ``xray_udp.received`` (datagrams), ``xray_udp.accepted`` (datagrams whose spans were
queued), ``xray_udp.rejected:<reason>``, ``xray_udp.dropped:<reason>`` (lost: write queue
full, store failure, or the kernel's receive buffer overflowing, read through SO_RXQ_OVFL). While the write queue is
full, datagrams are counted in ``dropped:overload`` without being decoded, so ``dropped_spans`` counts only the spans
of datagrams decoded before the queue filled.
"""

from __future__ import annotations

import logging
import select
import socket
import threading
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from spanscope.collectors.model import Span
from spanscope.collectors.receivers.counters import Counters
from spanscope.collectors.receivers.udp_batch import DatagramReader
from spanscope.collectors.receivers.writer import BatchWriter

_log = logging.getLogger(__name__)

MAX_DATAGRAM_BYTES = 64 * 1024
# About 26,000 small segments (the kernel charges ~1,280 bytes each): half a second at 50,000/s.
DEFAULT_RCVBUF_BYTES = 32 * 1024 * 1024
_SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)  # Linux: drops counter as ancillary data
_SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)  # Linux: past net.core.rmem_max, with CAP_NET_ADMIN
_FLUSH_SPANS = 512
_POLL_MS = 200
_PREFIX = "xray_udp"


_KNOWN_HEADERS = frozenset({b'{"format": "json", "version": 1}', b'{"format":"json","version":1}'})


def _header_ok(header: bytes) -> bool:
    if header in _KNOWN_HEADERS:  # what the SDKs send, byte for byte
        return True
    try:
        doc = orjson.loads(header)
    except orjson.JSONDecodeError:
        return False
    return isinstance(doc, dict) and doc.get("format") == "json" and doc.get("version") == 1


def parse_datagram(data: bytes, convert: Callable[[Mapping[str, Any]], list[Span]]) -> tuple[list[Span], str | None]:
    """(spans, None) for a good datagram, ([], reason) for a bad one."""
    if len(data) > MAX_DATAGRAM_BYTES:
        return [], "too_large"
    header, newline, body = data.partition(b"\n")
    if not newline:
        return [], "missing_header"
    if not _header_ok(header):
        return [], "bad_header"
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return [], "bad_json"
    if not isinstance(doc, dict):
        return [], "not_a_segment"
    try:
        spans = convert(doc)
    except (ValueError, TypeError, KeyError) as exc:
        _log.debug("rejected X-Ray document: %s", exc)
        return [], "invalid_segment"
    except Exception as exc:  # a converter bug must not stop the receiver: count it, keep going
        _log.warning("X-Ray document could not be converted (%s: %s)", type(exc).__name__, exc)
        return [], "converter_error"
    if not spans:
        return [], "empty_segment"
    return spans, None


def _set_rcvbuf(sock: socket.socket, size_bytes: int) -> int:
    """Ask for a ``size_bytes`` receive buffer; past ``net.core.rmem_max`` only where the process may
    force it (CAP_NET_ADMIN). Returns the usable size granted."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size_bytes)
    # Linux reports twice the usable size it granted; compare like with like.
    granted = int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)) // 2
    if granted < size_bytes:
        try:
            sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, size_bytes)
        except OSError:  # not permitted: the kernel's cap stands (and is reported)
            return granted
        granted = int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)) // 2
    return granted


class XRayUDPReceiver:
    """Receives X-Ray datagrams on one thread and hands their spans to the batch writer."""

    def __init__(
        self,
        host: str,
        port: int,
        writer: BatchWriter,
        counters: Counters,
        *,
        rcvbuf_bytes: int = DEFAULT_RCVBUF_BYTES,
    ) -> None:
        from spanscope.collectors.formats.xray import spans_from_document

        self._convert: Callable[[Mapping[str, Any]], list[Span]] = spans_from_document
        self._writer = writer
        self._counters = counters
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self.rcvbuf_requested = rcvbuf_bytes
        self.rcvbuf_granted = _set_rcvbuf(self._sock, rcvbuf_bytes)
        self.rcvbuf_capped = self.rcvbuf_granted < rcvbuf_bytes
        if self.rcvbuf_capped:
            _log.warning(
                "X-Ray UDP receive buffer capped by the kernel at %d bytes (asked %d); raise "
                "net.core.rmem_max to avoid drops under bursts",
                self.rcvbuf_granted,
                rcvbuf_bytes,
            )
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, _SO_RXQ_OVFL, 1)
            self._ovfl = True
        except OSError:
            self._ovfl = False
        self._sock.bind((host.strip("[]"), port))
        self._sock.setblocking(False)
        self.address: tuple[str, int] = self._sock.getsockname()[:2]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="spanscope-xray-udp", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop receiving and hand what was already read to the writer."""
        self._stop.set()
        self._thread.join(5.0)
        self._sock.close()

    # receive loop --------------------------------------------------------------------------------
    def _store_failed(self, datagrams: int, spans: int) -> Callable[[BaseException | None], None]:
        def done(error: BaseException | None) -> None:  # on the writer thread, after the commit failed or not
            if error is not None:
                self._counters.add_many(
                    {f"{_PREFIX}.dropped:store_error": datagrams, f"{_PREFIX}.dropped_spans": spans}
                )

        return done

    def _flush(self, spans: list[Span], datagrams: int, tally: dict[str, int]) -> None:
        if spans and not self._writer.submit(spans, self._store_failed(datagrams, len(spans))):
            tally[f"{_PREFIX}.dropped:overload"] = tally.get(f"{_PREFIX}.dropped:overload", 0) + datagrams
            tally[f"{_PREFIX}.dropped_spans"] = tally.get(f"{_PREFIX}.dropped_spans", 0) + len(spans)
        elif spans:
            tally[f"{_PREFIX}.accepted"] = tally.get(f"{_PREFIX}.accepted", 0) + datagrams
            tally[f"{_PREFIX}.spans"] = tally.get(f"{_PREFIX}.spans", 0) + len(spans)
        if tally:
            self._counters.add_many(tally)
            tally.clear()

    def _run(self) -> None:
        sock = self._sock
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        convert = self._convert
        # one buffer per slot for every read, not 64 KB allocated per datagram
        reader = DatagramReader(sock, MAX_DATAGRAM_BYTES + 1, drops=self._ovfl)
        spans: list[Span] = []
        good = 0
        received = 0
        tally: dict[str, int] = {}
        kernel_drops = 0
        while True:
            try:
                datagrams, drops = reader.read()
            except BlockingIOError:
                if received:
                    tally[f"{_PREFIX}.received"] = received
                    received = 0
                self._flush(spans, good, tally)
                spans, good = [], 0
                if self._stop.is_set():
                    return
                poller.poll(_POLL_MS)
                continue
            except OSError as exc:
                if self._stop.is_set():
                    return
                # a socket error (e.g. a queued ICMP error) is counted; the receiver carries on
                _log.warning("X-Ray UDP receive error: %s", exc)
                self._counters.add(f"{_PREFIX}.receive_errors")
                poller.poll(_POLL_MS)
                continue
            received += len(datagrams)
            if drops is not None and drops > kernel_drops:
                kernel_drops = drops
                self._counters.set_max(f"{_PREFIX}.dropped:kernel_buffer", drops)
            if self._writer.saturated:
                # refused before decoding, as the HTTP and gRPC receivers do: decoding datagrams that would be
                # dropped takes the CPU the writer needs to drain the queue (30 s at 50,000/s stored 7,400/s)
                tally[f"{_PREFIX}.dropped:overload"] = tally.get(f"{_PREFIX}.dropped:overload", 0) + len(datagrams)
                tally[f"{_PREFIX}.received"] = received
                received = 0
                self._flush(spans, good, tally)
                spans, good = [], 0
                continue
            for data in datagrams:
                got, reason = parse_datagram(data, convert)
                if reason is not None:
                    key = f"{_PREFIX}.rejected:{reason}"
                    tally[key] = tally.get(key, 0) + 1
                    continue
                spans.extend(got)
                good += 1
            if len(spans) >= _FLUSH_SPANS:
                tally[f"{_PREFIX}.received"] = received
                received = 0
                self._flush(spans, good, tally)
                spans, good = [], 0
                if self._stop.is_set():
                    return
