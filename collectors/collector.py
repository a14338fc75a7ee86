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
import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spanscope.collectors.forwarders.base import Forwarder
from spanscope.collectors.receivers.auth import is_loopback
from spanscope.collectors.receivers.connections import BoundedTCPSite, default_max_connections
from spanscope.collectors.receivers.counters import Counters
from spanscope.collectors.receivers.writer import BatchWriter

_log = logging.getLogger("spanscope.collector")

Address = tuple[str, int]


@dataclass(slots=True)
class CollectorConfig:
    """What ``spanscope collect`` runs. A receiver whose address is None is not started."""

    db_path: Path | None = None
    xray_udp: Address | None = ("127.0.0.1", 2000)
    otlp_http: Address | None = ("127.0.0.1", 4318)
    otlp_grpc: Address | None = ("127.0.0.1", 4317)
    fec_udp: Address | None = None  # erasure-coded spool records from edge devices (tracer.fec); off by default
    sampling_rules: Path | None = None  # X-Ray rules file served on the OTLP/HTTP port (GetSamplingRules/Targets)
    auth_token: str | None = None
    forward_otlp: str | None = None
    forward_otlp_headers: dict[str, str] = field(default_factory=dict)
    forward_xray: bool = False
    xray_endpoint_url: str | None = None
    max_pending_spans: int = 200_000
    max_batch_spans: int = 20_000
    max_body_bytes: int = 20 * 1024 * 1024
    max_inflight_body_bytes: int = 64 * 1024 * 1024  # OTLP/HTTP bodies read or decoded at once; more get 429
    udp_rcvbuf_bytes: int = 32 * 1024 * 1024  # receivers.xray_udp.DEFAULT_RCVBUF_BYTES
    forward_queue_bytes: int = 256 * 1024 * 1024
    forward_backoff_base_s: float = 0.5
    forward_backoff_cap_s: float = 60.0
    retry_after_s: int = 1
    log_interval_s: float = 10.0
    service_map: bool = True
    archive: str | None = None  # roll completed traces into this Parquet archive (directory or s3:// URL)
    archive_quiet_s: float = 60.0
    archive_interval_s: float = 30.0
    service_map_interval_s: float = 0.0  # 0: refresh only when the map is asked for (/v1/service-map)
    corrupt_store_move_interval_s: float = 60.0  # a store corrupt again sooner keeps failing (503) instead
    salvage_corrupt_store: bool = True  # copy what SQLite can read from a store moved aside while running
    # Connections (issue 15): idle and slow clients must not hold the collector's descriptors.
    max_connections: int | None = None  # per TCP receiver; None: shared out of the file-descriptor limit
    http_idle_timeout_s: float = 15.0  # keep-alive idle time, also the time allowed to send a request head
    http_body_timeout_s: float = 30.0  # to receive a whole request body; then 408 and the connection closes
    grpc_keepalive_time_s: float = 60.0  # server pings an idle connection this often...
    grpc_keepalive_timeout_s: float = 20.0  # ...and closes it when the ping is not answered in time
    grpc_max_connection_idle_s: float = 60.0  # a connection without calls this long gets GOAWAY
    grpc_max_connection_age_s: float = 900.0  # every connection is recycled after this (clients reconnect)
    grpc_max_connection_age_grace_s: float = 30.0  # calls in flight may finish this long after GOAWAY
    grpc_handshake_timeout_s: float = 10.0  # a TCP connection must finish the HTTP/2 handshake this soon


def parse_address(text: str, default_host: str = "127.0.0.1") -> Address | None:
    """``HOST:PORT``, ``:PORT``, ``PORT`` or ``[v6]:PORT`` as (host, port); ``off`` disables.

    >>> parse_address("0.0.0.0:2000"), parse_address(":0"), parse_address("[::1]:4317"), parse_address("off")
    (('0.0.0.0', 2000), ('127.0.0.1', 0), ('::1', 4317), None)
    """
    text = text.strip()
    if text.lower() in ("off", "none", "no", ""):
        return None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.lstrip(":")
    elif text.count(":") == 1 or ":" not in text:
        host, _, port_text = text.rpartition(":")
    else:
        raise ValueError(f"bad address {text!r}: write IPv6 addresses as [addr]:port")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"bad address {text!r}: expected HOST:PORT with a port from 0 to 65535")
    return (host or default_host, int(port_text))


GC_THRESHOLDS = (50_000, 20, 10)
_HTTP_LINGER_S = 2.0  # aiohttp's default of 10 s let a trickling client hold a connection after its 408


def tune_gc_for_ingest() -> None:
    """Tune the process's garbage collector for a long-running collector; call it once after start-up.

    Every request allocates hundreds of short-lived span objects, and spans waiting for their commit
    survive into the older generations, so CPython's default thresholds (700, 10, 10) run a full
    collection every few requests over everything alive. Freezing what start-up created (modules,
    receivers) and collecting the young generation every 50,000 net allocations instead of 700 cut
    the collector's CPU per span by about a quarter in ``bench_collector``; garbage cycles are still
    collected, only less often. This changes the whole process, so the ``collect`` command calls it,
    not the ``Collector`` a test or an application embeds.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _queue_path(db_path: Path, name: str) -> Path:
    return db_path.with_name(db_path.name + f".{name}-queue.sqlite")


class Collector:
    """The receivers, writer and forwarders of one collector, run on the current asyncio loop."""

    def __init__(self, config: CollectorConfig, *, store: Any = None) -> None:
        self.config = config
        self.counters = Counters()
        self._store = store
        self._own_store = store is None
        self.addresses: dict[str, Address] = {}
        self.warnings: list[str] = []
        self.writer: BatchWriter | None = None
        self.forwarders: list[Forwarder] = []
        self.service_map: Any = None
        self._map_lock = threading.Lock()
        self._map_cursor = 0  # the store's change position the map has folded in
        self._map_stale = threading.Event()  # set: rebuild from the whole store (a fresh store took over)
        self._map_stop = threading.Event()
        self._map_thread: threading.Thread | None = None
        self._udp: Any = None
        self._fec: Any = None
        self._grpc: Any = None
        self._http_runner: Any = None
        self._log_task: asyncio.Task[None] | None = None
        self._started = False
        self.archive_roller: Any = None
        self._archive_base = [0, 0]  # rolled traces and errors of rollers replaced with their store
        self.recovery: Any = None  # StoreRecovery, when the collector owns its store
        self.sampling: Any = None  # SamplingService answering on the OTLP/HTTP port (config.sampling_rules)

    @property
    def store(self) -> Any:
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
        writer.on_corrupt_store(lambda error: recovery.recover(self._store, error))

    def _use_store(self, store: Any) -> None:
        # Readers (service map, archive roller, HTTP handlers) take ``self._store`` per use; the map's
        # traces came from the old store, so it is rebuilt from the fresh one (again after salvage).
        self._store = store
        self._mark_map_stale()

    def _mark_map_stale(self) -> None:
        self._map_stale.set()  # no lock: the writer thread must never wait for a map refresh

    def _replace_archive_roller(self, move: Any, store: Any) -> None:
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
        """Keep a ServiceMapAccumulator current, off the acknowledgement path.

        The map remembers the store's change cursor. When it is asked for (or every
        ``service_map_interval_s`` if set) the traces written since are re-read from the store, so a
        trace is counted whole with spans from every batch, and handed to the accumulator, which
        replaces a trace's earlier contribution. Re-reading costs about as much as writing, so by
        default it is paid only when someone looks; and since the store keeps the list of changed
        traces, the collector holds nothing per trace while nobody looks.
        """
        if not self.config.service_map:
            return
        try:
            from spanscope.collectors.service_map import ServiceMapAccumulator
        except ImportError:
            return
        self.service_map = ServiceMapAccumulator()
        try:
            self._map_cursor = self._store.change_cursor() if self._store is not None else 0
        except Exception:  # a store that cannot say where it stands: the first refresh rebuilds the map
            self._map_stale.set()
        if self.config.service_map_interval_s > 0:
            self._map_thread = threading.Thread(target=self._update_map, name="spanscope-service-map", daemon=True)
            self._map_thread.start()

    def _update_map(self) -> None:
        while not self._map_stop.wait(self.config.service_map_interval_s):
            self.refresh_service_map()

    def refresh_service_map(self) -> int:
        """Fold the traces written since the last refresh into the service map; returns how many."""
        if self.service_map is None:
            return 0
        count = 0
        with self._map_lock:  # one refresh at a time: the cursor moves only after its traces are folded in
            stale = self._map_stale.is_set()
            if stale:
                self._map_stale.clear()  # before reading the store: a swap after this is seen next time
            store = self._store
            if store is None:
                return 0
            try:
                if stale:
                    cursor = store.change_cursor()  # taken first: writes during the rebuild come next time
                    self.service_map.rebuild_from_store(store)
                    count = self.service_map.trace_count
                    self._map_cursor = cursor
                    self.counters.add("service_map.rebuilds")
                cursor, changed = store.changes_since(self._map_cursor)
                if changed:
                    for trace in store.iter_traces(trace_ids=changed):
                        self.service_map.add_trace(trace)
                        count += 1
                self._map_cursor = cursor
            except Exception as exc:  # the map is a convenience: never let it disturb collecting
                _log.warning("service map update failed: %s", exc)
                self.counters.add("service_map.failed_updates")
                self._map_stale.set()  # the next refresh starts over from the whole store
        self.counters.add("service_map.trace_updates", count)
        return count

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
        from spanscope.collectors.service_map.render_json import service_graph_json

        self.refresh_service_map()
        graph = self.service_map.graph()
        return service_graph_json(graph)

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
        if self._map_thread is not None:
            self._map_stop.set()
            await asyncio.to_thread(self._map_thread.join, 10.0)
            self._map_thread = None
            await asyncio.to_thread(self.refresh_service_map)
        if self._store is not None and self._own_store:
            self._store.close()
        self._started = False


class BackgroundCollector:
    """A Collector on its own thread and event loop, for tests, benchmarks and the demo.

    ``with BackgroundCollector(config) as c:`` starts it and gives the Collector (``c.addresses``);
    leaving the block stops it the way SIGTERM does.
    """

    def __init__(self, config: CollectorConfig, *, store: Any = None) -> None:
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
