"""Batched UDP reads: every datagram once, in order, whole, by recvmmsg and by the one-a-call fallback."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from spanscope.collectors.receivers import udp_batch
from spanscope.collectors.receivers.udp_batch import DatagramReader

from tests.waiting import wait_for


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    receiver.bind(("127.0.0.1", 0))
    receiver.setblocking(False)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        yield receiver, sender
    finally:
        receiver.close()
        sender.close()


def read_all(reader: DatagramReader, expected: int) -> list[bytes]:
    got: list[bytes] = []

    def drained() -> bool:
        try:
            while True:
                got.extend(reader.read()[0])
        except BlockingIOError:
            return len(got) >= expected

    wait_for(drained)
    return got


@pytest.mark.parametrize("batched", [True, False], ids=["recvmmsg", "one-a-call"])
def test_every_datagram_is_read_once_in_order_and_whole(
    pair: tuple[socket.socket, socket.socket], batched: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if batched and udp_batch._RECVMMSG is None:
        pytest.skip("recvmmsg is Linux-only")
    if not batched:
        monkeypatch.setattr(udp_batch, "_RECVMMSG", None)
    receiver, sender = pair
    reader = DatagramReader(receiver, 64 * 1024 + 1, drops=True, batch=8)
    payloads = [b"%d:" % i + b"x" * (i * 37 % 1500) for i in range(150)] + [b"", b"y" * 60_000]
    for payload in payloads:
        sender.sendto(payload, receiver.getsockname())
    assert read_all(reader, len(payloads)) == payloads
    with pytest.raises(BlockingIOError):
        reader.read()


def test_a_closed_socket_is_an_oserror(pair: tuple[socket.socket, socket.socket]) -> None:
    receiver, _sender = pair
    reader = DatagramReader(receiver, 2048, drops=False)
    receiver.close()
    with pytest.raises(OSError):
        reader.read()
