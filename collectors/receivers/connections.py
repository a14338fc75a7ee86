"""Connection bounds for the TCP receivers: the file-descriptor budget and OTLP/HTTP's bounded listening site.

Idle and slow connections must not starve the collector. Each TCP receiver accepts at most
``max_connections`` at once; the default splits the process's file-descriptor limit (which
``spanscope collect`` first raises to its hard limit) between the TCP receivers, minus a reserve for
the store, its WAL, the forward queues and logs. Beyond the bound a new OTLP/HTTP connection is
answered with a fixed ``503`` and ``Retry-After`` and closed at once: no parser, no handler, no
task. Timeouts (keep-alive, request head, body) close the connections that hold a slot for nothing
(see ``collectors.collector``); gRPC's own ``grpc.max_allowed_incoming_connections`` bounds OTLP/gRPC.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from typing import Any

from aiohttp import web

_log = logging.getLogger(__name__)

FD_RESERVE = 256  # descriptors kept for the store, WAL, queues, logs and the UDP socket
MIN_CONNECTIONS = 16
_REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 52\r\nConnection: close\r\n\r\n"
    b"the collector has too many connections; retry later\n"
)


def raise_fd_limit() -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit (capped at 1,048,576); the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1_048_576
    target = min(target, 1_048_576)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return int(soft if soft != resource.RLIM_INFINITY else target)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as exc:  # e.g. above the kernel's nr_open: keep what we have
        _log.warning("cannot raise the file-descriptor limit from %d to %d: %s", soft, target, exc)
        return int(soft)
    return target


def default_max_connections(tcp_receivers: int) -> int:
    """Connections each TCP receiver may hold: the descriptor limit minus a reserve, shared between receivers.

    >>> default_max_connections(2) >= MIN_CONNECTIONS
    True
    """
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = 1_048_576 if soft == resource.RLIM_INFINITY else int(soft)
    return max(MIN_CONNECTIONS, (limit - FD_RESERVE) // max(1, tcp_receivers))


class _Refused(asyncio.Protocol):
    """A connection beyond the bound: a fixed 503 with Retry-After, then closed. Nothing is parsed."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        try:
            transport.write(_REFUSAL)
        finally:
            transport.close()


def _open_connections(server: Any) -> int:
    held = getattr(server, "_connections", None)  # aiohttp's handler registry; a dict, O(1) to size
    return len(held) if held is not None else len(server.connections)


class BoundedTCPSite(web.BaseSite):
    """An aiohttp TCP site that holds at most ``max_connections`` connections; more get a cheap 503."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        max_connections: int,
        on_refused: Any = None,
        backlog: int = 1024,
    ) -> None:
        super().__init__(runner, backlog=backlog)
        self._host = host
        self._port = port
        self.max_connections = max_connections
        self._on_refused = on_refused
        self.refused = 0
        # Handlers made but not yet connected: asyncio accepts a burst of connections (up to the backlog) in
        # one loop iteration and calls connection_made later, so aiohttp's registry alone lags behind.
        self._pending: list[Any] = []

    @property
    def name(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    @property
    def open_connections(self) -> int:
        server = self._runner.server
        if server is None:
            return 0
        pending = self._pending
        if pending:
            pending[:] = [h for h in pending if h.transport is None and not getattr(h, "_force_close", False)]
        return _open_connections(server) + len(pending)

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None

        def protocol() -> asyncio.BaseProtocol:
            if self.open_connections >= self.max_connections:
                self.refused += 1
                if self._on_refused is not None:
                    self._on_refused()
                return _Refused()
            handler = server()
            self._pending.append(handler)
            return handler

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            protocol, self._host, self._port, backlog=self._backlog, reuse_address=True
        )
