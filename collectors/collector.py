"""The live collector: runs the receivers, the durable batch writer, the forwarders and the counters.

    config = CollectorConfig(db_path=Path("spans.db"), otlp_http=("127.0.0.1", 0))
    with BackgroundCollector(config) as collector:      # or: await Collector(config).start()
        print(collector.addresses["otlp_http"])

Everything received goes through one ``BatchWriter``: a reply is sent only after the spans are
committed. ``stop()`` stops receiving, lets calls in flight finish, flushes the writer, stops the
forwarders (their unsent payloads stay on disk) and closes the store.

When SQLite reports the store corrupt on a write, the batch fails with a retryable error and the
collector moves the file aside, continues on a fresh store and salvages the old one in the
background (``collectors.store.recovery``; at most one move per ``corrupt_store_move_interval_s``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spanscope.collectors.collector_config import (
    GC_THRESHOLDS,
    Address,
    CollectorConfig,
    parse_address,
    tune_gc_for_ingest,
)
from spanscope.collectors.forwarders.base import Forwarder
from spanscope.collectors.live_map import LiveServiceMap
from spanscope.collectors.receivers.auth import is_loopback
from spanscope.collectors.receivers.connections import BoundedTCPSite, default_max_connections
from spanscope.collectors.receivers.counters import Counters
from spanscope.collectors.receivers.writer import BatchWriter, SpanSink

if TYPE_CHECKING:
    from aiohttp import web
    from spanscope.collectors.archive.roller import ArchiveRoller
    from spanscope.collectors.receivers.fec_udp import FecUDPReceiver
    from spanscope.collectors.receivers.otlp_grpc import OTLPGRPCReceiver
    from spanscope.collectors.receivers.xray_udp import XRayUDPReceiver
    from spanscope.collectors.sampling_service import SamplingService
    from spanscope.collectors.service_map import ServiceMapAccumulator
    from spanscope.collectors.store import Store
    from spanscope.collectors.store.recovery import MovedAside, StoreRecovery

__all__ = [
    "GC_THRESHOLDS",
    "Address",
    "BackgroundCollector",
    "Collector",
    "CollectorConfig",
    "parse_address",
    "tune_gc_for_ingest",
]

_log = logging.getLogger("spanscope.collector")
_HTTP_LINGER_S = 2.0  # aiohttp's default of 10 s let a trickling client hold a connection after its 408


def _queue_path(db_path: Path, name: str) -> Path:
    return db_path.with_name(db_path.name + f".{name}-queue.sqlite")


class Collector:
    """The receivers, writer and forwarders of one collector, run on the current asyncio loop."""

    def __init__(self, config: CollectorConfig, *, store: Store | None = None) -> None:
        self.config = config
        self.counters = Counters()
        self._store = store
        self._own_store = store is None
        self.addresses: dict[str, Address] = {}
        self.warnings: list[str] = []
        self.writer: BatchWriter | None = None
        self.forwarders: list[Forwarder] = []
        self.service_map: ServiceMapAccumulator | None = None
        self._live_map: LiveServiceMap | None = None
        self._udp: XRayUDPReceiver | None = None
        self._fec: FecUDPReceiver | None = None
        self._grpc: OTLPGRPCReceiver | None = None
        self._http_runner: web.AppRunner | None = None
        self._log_task: asyncio.Task[None] | None = None
        self._started = False
        self.archive_roller: ArchiveRoller | None = None
        self._archive_base = [0, 0]  # rolled traces and errors of rollers replaced with their store
        self.recovery: StoreRecovery | None = None  # when the collector owns its store
        self.sampling: SamplingService | None = None  # answering on the OTLP/HTTP port (config.sampling_rules)

    @property
    def store(self) -> Store | None:
        return self._store

    # start ----------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start everything; SamplingRulesError (a ValueError) for an unusable rules file, before anything runs."""
        cfg = self.config
        if cfg.sampling_rules is not None:
            from spanscope.collectors.sampling_service import SamplingService

            if cfg.otlp_http is None:
                raise ValueError("sampling rules are served on the OTLP/HTTP port, which is off")
            self.sampling = SamplingService.from_file(cfg.sampling_rules)
        if self._store is None:
            from spanscope.collectors.store import open_store

            self._store = open_store(cfg.db_path)
        db_path = Path(getattr(self._store, "path", None) or cfg.db_path or "spans.db")
        self.writer = writer = BatchWriter(
            self._store,
            self.counters,
            max_pending_spans=cfg.max_pending_spans,
            max_batch_spans=cfg.max_batch_spans,
        )
        self._start_service_map(writer)
        self._start_forwarders(writer, db_path)
        if self._own_store:
            self._start_recovery(writer)
        writer.start()
        if cfg.archive:
            from spanscope.collectors.archive.roller import ArchiveRoller

            self.archive_roller = ArchiveRoller(
                self._store, cfg.archive, quiet_s=cfg.archive_quiet_s, interval_s=cfg.archive_interval_s
            )
            self.counters.gauge("archive.rolled_traces", lambda: self._archive_figure(0))
            self.counters.gauge("archive.errors", lambda: self._archive_figure(1))
            self.archive_roller.start()
        try:
            await self._start_receivers(writer)
        except BaseException:
            await self.stop()
            raise
        self._check_exposure()
        self._started = True
        if cfg.log_interval_s > 0:
            self._log_task = asyncio.get_running_loop().create_task(self._log_periodically())

    def _archive_figure(self, index: int) -> int:
        roller = self.archive_roller
        now = (roller.rolled_traces, roller.errors)[index] if roller is not None else 0
        return self._archive_base[index] + now

    def _start_recovery(self, writer: BatchWriter) -> None:
        """Replace the store when SQLite calls it corrupt on a write (on the writer thread: no write races it)."""
        from spanscope.collectors.store.recovery import StoreRecovery

        cfg = self.config
        self.recovery = recovery = StoreRecovery(
            self.counters, min_interval_s=cfg.corrupt_store_move_interval_s, salvage=cfg.salvage_corrupt_store
        )
        recovery.on_swap.append(self._use_store)
        recovery.after_swap.append(self._replace_archive_roller)
        recovery.after_salvage.append(lambda _result: self._mark_map_stale())
        writer.on_corrupt_store(self._recover)

    def _recover(self, error: BaseException) -> SpanSink | None:
        """On the writer thread: the store that replaces the corrupt one (``StoreRecovery.recover``)."""
        assert self.recovery is not None and self._store is not None
        return self.recovery.recover(self._store, error)

    def _use_store(self, store: Store) -> None:
        # Readers (service map, archive roller, HTTP handlers) take ``self._store`` per use; the map's
        # traces came from the old store, so it is rebuilt from the fresh one (again after salvage).
        self._store = store
        self._mark_map_stale()

    def _mark_map_stale(self) -> None:
        if self._live_map is not None:
            self._live_map.mark_stale()  # no lock: the writer thread must never wait for a map refresh

    def _replace_archive_roller(self, move: MovedAside, store: Store) -> None:
        """A roller for the fresh store; the old store's cursor file goes aside with it (background thread)."""
        old = self.archive_roller
        if old is None:
            return
        from spanscope.collectors.archive.roller import ArchiveRoller

        old.stop(flush=False)  # its store is closed: nothing more to roll from it
        self._archive_base = [self._archive_base[0] + old.rolled_traces, self._archive_base[1] + old.errors]
        if old.cursor_path.exists():
            old.cursor_path.rename(move.aside.with_name(move.aside.name + ".archive-cursor.json"))
        cfg = self.config
        assert cfg.archive is not None
        roller = ArchiveRoller(store, cfg.archive, quiet_s=cfg.archive_quiet_s, interval_s=cfg.archive_interval_s)
        self.archive_roller = roller
        roller.start()

    def _start_service_map(self, writer: BatchWriter) -> None:
        """Keep a service map current from the store's change feed (``collectors.live_map``)."""
        if not self.config.service_map:
            return
        try:
            from spanscope.collectors.service_map import ServiceMapAccumulator
        except ImportError:
            return
        self.service_map = ServiceMapAccumulator()
        self._live_map = LiveServiceMap(
            self.service_map, lambda: self._store, self.counters, interval_s=self.config.service_map_interval_s
        )
        self._live_map.start()

    def refresh_service_map(self) -> int:
        """Fold the traces written since the last refresh into the service map; returns how many."""
        return self._live_map.refresh() if self._live_map is not None else 0

    def _start_forwarders(self, writer: BatchWriter, db_path: Path) -> None:
        cfg = self.config
        if cfg.forward_otlp:
            from spanscope.collectors.forwarders.otlp import OTLPForwarder

            self.forwarders.append(
                OTLPForwarder(
                    cfg.forward_otlp,
                    _queue_path(db_path, "forward-otlp"),
                    self.counters,
                    headers=cfg.forward_otlp_headers,
                    max_queue_bytes=cfg.forward_queue_bytes,
                    backoff_base_s=cfg.forward_backoff_base_s,
                    backoff_cap_s=cfg.forward_backoff_cap_s,
                )
            )
        if cfg.forward_xray:
            from spanscope.collectors.forwarders.xray import XRayForwarder

            self.forwarders.append(
                XRayForwarder(
                    _queue_path(db_path, "forward-xray"),
                    self.counters,
                    endpoint_url=cfg.xray_endpoint_url,
                    max_queue_bytes=cfg.forward_queue_bytes,
                    backoff_base_s=cfg.forward_backoff_base_s,
                    backoff_cap_s=cfg.forward_backoff_cap_s,
                )
            )
        for forwarder in self.forwarders:
            writer.add_hook(forwarder.enqueue)
            forwarder.start()

    def _max_connections(self) -> int:
        cfg = self.config
        if cfg.max_connections is not None:
            return max(1, cfg.max_connections)
        return default_max_connections(sum(a is not None for a in (cfg.otlp_http, cfg.otlp_grpc)))

    async def _start_receivers(self, writer: BatchWriter) -> None:
        cfg = self.config
        if cfg.xray_udp is not None:
            from spanscope.collectors.receivers.xray_udp import XRayUDPReceiver

            self._udp = XRayUDPReceiver(
                cfg.xray_udp[0], cfg.xray_udp[1], writer, self.counters, rcvbuf_bytes=cfg.udp_rcvbuf_bytes
            )
            if self._udp.rcvbuf_capped:
                self.warnings.append(
                    f"X-Ray UDP receive buffer capped by the kernel at {self._udp.rcvbuf_granted} bytes "
                    f"(asked {self._udp.rcvbuf_requested}); raise net.core.rmem_max to avoid drops"
                )
            self._udp.start()
            self.addresses["xray_udp"] = self._udp.address
        if cfg.fec_udp is not None:
            from spanscope.collectors.receivers.fec_udp import FecUDPReceiver

            self._fec = FecUDPReceiver(
                cfg.fec_udp[0], cfg.fec_udp[1], writer, self.counters, rcvbuf_bytes=cfg.udp_rcvbuf_bytes
            )
            self._fec.start()
            self.addresses["fec_udp"] = self._fec.address
        if cfg.otlp_http is not None:
            from aiohttp import web
            from spanscope.collectors.receivers.otlp_http import OTLPHTTPHandlers

            handlers = OTLPHTTPHandlers(
                writer,
                self.counters,
                auth_token=cfg.auth_token,
                max_body_bytes=cfg.max_body_bytes,
                max_inflight_bytes=cfg.max_inflight_body_bytes,
                retry_after_s=cfg.retry_after_s,
                body_timeout_s=cfg.http_body_timeout_s,
                health=self._health,
                service_map=self.service_map_json if self.service_map is not None else None,
                sampling=self.sampling,
            )
            runner = web.AppRunner(
                handlers.app(),
                auto_decompress=False,
                access_log=None,
                handle_signals=False,
                keepalive_timeout=cfg.http_idle_timeout_s,
                lingering_time=_HTTP_LINGER_S,  # an unread body (429, 408) is discarded this long, then closed
            )
            await runner.setup()
            self._http_runner = runner
            site = BoundedTCPSite(
                runner,
                cfg.otlp_http[0],
                cfg.otlp_http[1],
                max_connections=self._max_connections(),
                on_refused=lambda: self.counters.add("otlp_http.rejected:connections"),
            )
            self.counters.gauge("otlp_http.connections", lambda: site.open_connections)
            await site.start()
            bound = runner.addresses
            self.addresses["otlp_http"] = (str(bound[0][0]), int(bound[0][1])) if bound else cfg.otlp_http
        if cfg.otlp_grpc is not None:
            from spanscope.collectors.receivers.otlp_grpc import OTLPGRPCReceiver

            self._grpc = OTLPGRPCReceiver(
                cfg.otlp_grpc[0],
                cfg.otlp_grpc[1],
                writer,
                self.counters,
                auth_token=cfg.auth_token,
                max_message_bytes=cfg.max_body_bytes,
                retry_after_s=cfg.retry_after_s,
                max_connections=self._max_connections(),
                keepalive_time_s=cfg.grpc_keepalive_time_s,
                keepalive_timeout_s=cfg.grpc_keepalive_timeout_s,
                max_connection_idle_s=cfg.grpc_max_connection_idle_s,
                max_connection_age_s=cfg.grpc_max_connection_age_s,
                max_connection_age_grace_s=cfg.grpc_max_connection_age_grace_s,
                handshake_timeout_s=cfg.grpc_handshake_timeout_s,
            )
            await self._grpc.start()
            self.addresses["otlp_grpc"] = self._grpc.address

    def _check_exposure(self) -> None:
        for name, (host, _port) in self.addresses.items():
            if is_loopback(host):
                continue
            if name in ("xray_udp", "fec_udp"):
                self.warnings.append(
                    f"{'X-Ray' if name == 'xray_udp' else 'FEC'} UDP receiver bound to non-loopback {host}: "
                    "the protocol has no authentication, anyone who can reach it can write spans"
                )
            elif not self.config.auth_token:
                self.warnings.append(
                    f"{name} bound to non-loopback {host} without --auth-token: anyone who can reach it can write spans"
                )
        for warning in self.warnings:
            _log.warning("%s", warning)

    # observability --------------------------------------------------------------------------------
    def service_map_json(self) -> dict[str, Any]:
        """The current service map in the shape of X-Ray GetServiceGraph (refreshed first)."""
        assert self._live_map is not None, "the service map is off"
        return self._live_map.graph_json()

    def _health(self) -> dict[str, Any]:
        writer = self.writer
        health: dict[str, Any] = {
            "receivers": {name: f"{host}:{port}" for name, (host, port) in self.addresses.items()},
            "queue_spans": writer.pending_spans if writer else 0,
            "uptime_s": round(time.time() - self.counters.started_s, 3),
        }
        failing = writer.failing if writer else None
        if failing is not None:  # e.g. "disk full: <path>": writes fail (retryably) until one succeeds again
            health["status"] = "degraded"
            health["cause"] = str(failing)
        if self.recovery is not None:
            health["store"] = {"path": str(getattr(self._store, "path", "")), **self.recovery.health()}
        return health

    def rates_line(self, before: dict[str, int], after: dict[str, int], elapsed_s: float) -> str:
        """One log line: accepted spans/s, rejections, drops, queue depths since the last line."""

        def delta(prefix: str) -> int:
            return sum(v - before.get(k, 0) for k, v in after.items() if k.startswith(prefix))

        span_keys = ("writer.spans",)
        written = sum(after.get(k, 0) - before.get(k, 0) for k in span_keys)
        rejected = delta("xray_udp.rejected") + delta("otlp_http.rejected") + delta("otlp_grpc.rejected")
        dropped = delta("xray_udp.dropped")
        parts = [
            f"stored {written / max(elapsed_s, 1e-9):.0f} spans/s",
            f"rejected {rejected}",
            f"dropped {dropped}",
            f"queue {after.get('writer.queue_spans', 0)} spans",
        ]
        for forwarder in self.forwarders:
            parts.append(f"{forwarder.name} backlog {forwarder.queue.depth}")
        return "collector: " + ", ".join(parts)

    async def _log_periodically(self) -> None:
        before = self.counters.snapshot()
        last = time.monotonic()
        while True:
            await asyncio.sleep(self.config.log_interval_s)
            after = self.counters.snapshot()
            now = time.monotonic()
            _log.info("%s", self.rates_line(before, after, now - last))
            before, last = after, now

    # stop -----------------------------------------------------------------------------------------
    async def stop(self) -> None:
        """Stop receiving, let in-flight requests finish, flush the writer, close everything."""
        if self._log_task is not None:
            self._log_task.cancel()
            self._log_task = None
        if self._udp is not None:
            await asyncio.to_thread(self._udp.stop)
            self._udp = None
        if self._fec is not None:
            await asyncio.to_thread(self._fec.stop)
            self._fec = None
        if self._grpc is not None:
            await self._grpc.stop(5.0)
            self._grpc = None
        if self._http_runner is not None:
            await self._http_runner.cleanup()
            self._http_runner = None
        if self.writer is not None:
            await asyncio.to_thread(self.writer.close)
        if self.recovery is not None:  # stop salvaging; what was copied stays
            await asyncio.to_thread(self.recovery.stop)
        if self.archive_roller is not None:
            # Roll what is complete and quiet; traces still open are rolled by the next run.
            await asyncio.to_thread(self.archive_roller.stop, flush=False)
            await asyncio.to_thread(self.archive_roller.roll_once)
            self.archive_roller = None
        for forwarder in self.forwarders:
            await asyncio.to_thread(forwarder.stop)
        if self._live_map is not None:
            await asyncio.to_thread(self._live_map.stop, 10.0)
        if self._store is not None and self._own_store:
            self._store.close()
        self._started = False


class BackgroundCollector:
    """A Collector on its own thread and event loop, for tests, benchmarks and the demo.

    ``with BackgroundCollector(config) as c:`` starts it and gives the Collector (``c.addresses``);
    leaving the block stops it the way SIGTERM does.
    """

    def __init__(self, config: CollectorConfig, *, store: Store | None = None) -> None:
        self.collector = Collector(config, store=store)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="spanscope-collector", daemon=True)

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the collector's loop and return its result."""

        async def wrapper() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(wrapper(), self._loop).result()

    def start(self) -> Collector:
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.collector.start(), self._loop).result(30)
        except BaseException:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            raise
        return self.collector

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(self.collector.stop(), self._loop).result(60)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()

    def __enter__(self) -> Collector:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
