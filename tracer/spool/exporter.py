"""The spool's exporter face: :class:`StoreAndForwardExporter`, live through an inner exporter, else spooled.

While the inner exporter succeeds, spans go straight through. When it fails (the collector is unreachable),
each batch is serialized as an OTLP ``ExportTraceServiceRequest`` (protobuf) and appended to the
:class:`~spanscope.tracer.spool.disk.DiskSpool`; the :class:`~spanscope.tracer.spool.sender.SpoolSender`
forwards it later. While anything is spooled, new batches are appended behind it so spans arrive in the
order they were exported. Nothing here raises into the host program: failures are logged once per kind and
counted in :attr:`StoreAndForwardExporter.stats`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from spanscope.tracer.spool import wire
from spanscope.tracer.spool.disk import DiskSpool
from spanscope.tracer.spool.sender import SpoolSender, SpoolStats

if TYPE_CHECKING:
    from spanscope.tracer.fec import FecUplink


class _NoExporter(SpanExporter):
    """The live exporter of a spool that forwards everything over its FEC uplink."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class StoreAndForwardExporter(SpanExporter):
    """Exports through ``inner`` when it works, spools to ``directory`` when it does not, forwards later.

    ``endpoint`` is the OTLP/HTTP traces URL the spool is drained to; default: the inner exporter's
    endpoint when it has one, else ``$OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, else
    ``$OTEL_EXPORTER_OTLP_ENDPOINT`` + ``/v1/traces``, else ``http://127.0.0.1:4318/v1/traces``.
    ``headers`` are sent with each drain request (default: ``$OTEL_EXPORTER_OTLP_TRACES_HEADERS``, else
    ``$OTEL_EXPORTER_OTLP_HEADERS``, e.g. the collector's bearer token). ``clock_offset_ns`` fixes the
    device clock offset; otherwise it is estimated from the collector's
    ``Date`` header (a probe with an empty request is sent at start when ``probe_clock``).
    """

    def __init__(
        self,
        inner: SpanExporter | None,
        directory: str | os.PathLike[str],
        *,
        max_bytes: int = 64 * 1024 * 1024,
        segment_bytes: int = 1024 * 1024,
        endpoint: str | None = None,
        headers: Mapping[str, str] | None = None,
        clock_offset_ns: int | None = None,
        probe_clock: bool = True,
        initial_backoff_s: float = 1.0,
        max_backoff_s: float = 300.0,
        request_timeout_s: float = 10.0,
        drain_batch_bytes: int = 1024 * 1024,
        shutdown_timeout_s: float = 5.0,
        fsync: bool = True,
        fec: FecUplink | None = None,
    ) -> None:
        self._inner: SpanExporter = inner if inner is not None else _NoExporter()
        self._fec = fec
        self._shutdown_timeout_s = shutdown_timeout_s
        self._shut = False
        spool: DiskSpool | None = None
        problem: Exception | None = None
        try:
            spool = DiskSpool(directory, max_bytes=max_bytes, segment_bytes=segment_bytes, fsync=fsync)
        except Exception as error:
            problem = error
        self._spool = spool
        self._sender = SpoolSender(
            spool,
            endpoint=endpoint or wire.endpoint_of(self._inner),
            headers=dict(headers) if headers is not None else wire.headers_from_environ(),
            clock_offset_ns=clock_offset_ns,
            probe=probe_clock and clock_offset_ns is None and fec is None,  # FEC: acks carry the clock
            initial_backoff_s=initial_backoff_s,
            max_backoff_s=max_backoff_s,
            request_timeout_s=request_timeout_s,
            drain_batch_bytes=drain_batch_bytes,
            fec=fec,
        )
        if spool is not None:
            self._sender.stats.corrupt_records = spool.corrupt_records
        else:
            self._sender.warn_once("spool-open", "span spool unusable, spans are not kept while offline: %r", problem)
        self._sender.start()

    # -- SpanExporter --

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            return self._export(spans)
        except Exception as error:
            with self._sender.lock:
                self._sender.stats.export_failures += 1
            self._sender.warn_once(f"export:{type(error).__name__}", "span export failed: %r", error)
            return SpanExportResult.FAILURE

    def _export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shut or not spans:
            return SpanExportResult.FAILURE if self._shut else SpanExportResult.SUCCESS
        spool = self._spool
        sender = self._sender
        with sender.lock:
            online = sender.online
            offset = sender.offset_ns
        if online and self._fec is None and (spool is None or len(spool) == 0):
            stamped = wire.stamped(spans, offset) if offset is not None else spans
            if self._inner.export(stamped) is SpanExportResult.SUCCESS:
                with sender.lock:
                    sender.stats.exported_live += len(spans)
                return SpanExportResult.SUCCESS
            with sender.lock:
                sender.online = False
        if spool is None:
            return SpanExportResult.FAILURE
        payload = encode_spans(spans).SerializeToString()
        result = spool.append(payload)
        with sender.lock:
            stats = sender.stats
            stats.evicted_batches += result.evicted_records
            stats.evicted_bytes += result.evicted_bytes
            if result.stored:
                stats.spooled_batches += 1
                stats.spooled_spans += len(spans)
            sender.wake.notify_all()
        if result.evicted_records:
            sender.warn_once("evict", "span spool full: oldest batches evicted (counted in stats)")
        return SpanExportResult.SUCCESS if result.stored else SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Try to forward the spool within ``timeout_millis``; True when nothing is left unsent."""
        deadline = time.monotonic() + max(0, timeout_millis) / 1000
        try:
            empty = self._sender.flush(deadline)
            remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
            return self._inner.force_flush(remaining_ms) and empty
        except Exception as error:
            self._sender.warn_once(f"flush:{type(error).__name__}", "span spool flush failed: %r", error)
            return False

    def shutdown(self) -> None:
        """Stop the forwarding thread (bounded by ``shutdown_timeout_s``); spooled spans stay on disk."""
        try:
            with self._sender.lock:
                if self._shut:
                    return
                self._shut = True
            self._sender.stop(self._shutdown_timeout_s)
            self._inner.shutdown()
        except Exception as error:
            self._sender.warn_once(f"shutdown:{type(error).__name__}", "span spool shutdown failed: %r", error)

    # -- introspection --

    @property
    def stats(self) -> SpoolStats:
        """A snapshot of the counters, with the spool's current backlog."""
        sender = self._sender
        with sender.lock:
            snapshot = replace(sender.stats, online=sender.online, clock_offset_ns=sender.offset_ns)
        if self._spool is not None:
            snapshot.pending_batches, snapshot.pending_bytes = self._spool.pending()
        return snapshot

    @property
    def endpoint(self) -> str:
        """The OTLP/HTTP URL the spool drains to."""
        return self._sender.endpoint
