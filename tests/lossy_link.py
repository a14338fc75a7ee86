"""A lossy UDP link on loopback for tests and benchmarks: a relay that drops datagrams with a seeded chance.

The relay listens on an ephemeral port of 127.0.0.1 and forwards every datagram from a client to
``target``, and every answer from ``target`` back to the client that last sent from that port, each
direction dropping a datagram with probability ``loss`` (``random.Random(seed)``: the same datagrams are
lost on every run with the same traffic). It runs on its own thread and is stopped by ``close()``.
"""

from __future__ import annotations

import random
import select
import socket
import threading


class LossyLink:
    def __init__(self, target: tuple[str, int], loss: float, *, seed: int = 1) -> None:
        self.target = target
        self.loss = loss
        self._rng = random.Random(seed)
        self._front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._front.bind(("127.0.0.1", 0))
        self._front.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        self._back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._back.bind(("127.0.0.1", 0))
        self._back.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        self.address: tuple[str, int] = self._front.getsockname()
        self._client: tuple[str, int] | None = None
        self.forwarded = [0, 0]  # client -> target, target -> client
        self.dropped = [0, 0]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lossy-link", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._front, self._back], [], [], 0.05)
            for sock in ready:
                try:
                    data, addr = sock.recvfrom(65_536)
                except OSError:
                    continue
                upstream = sock is self._front
                if upstream:
                    self._client = addr
                direction = 0 if upstream else 1
                if self._rng.random() < self.loss:
                    self.dropped[direction] += 1
                    continue
                try:
                    if upstream:
                        self._back.sendto(data, self.target)
                    elif self._client is not None:
                        self._front.sendto(data, self._client)
                    self.forwarded[direction] += 1
                except OSError:
                    self.dropped[direction] += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        self._front.close()
        self._back.close()

    def __enter__(self) -> LossyLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
