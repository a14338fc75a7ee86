"""Store-and-forward span export for Greengrass / edge devices: a bounded on-disk spool drained over OTLP/HTTP.

:class:`StoreAndForwardExporter` wraps the exporter a device would normally use (``inner``, e.g. the
OTLP/HTTP exporter). While the inner exporter succeeds, spans go straight through. When it fails (the
collector is unreachable), each batch is appended to a :class:`DiskSpool`; a background thread forwards
the spool, oldest first, by POSTing those bytes to the OTLP/HTTP endpoint with exponential backoff and
jitter (:func:`backoff_delay_s`). On a lossy uplink, ``fec=FecUplink((host, port))`` forwards every batch
through the spool as erasure-coded UDP datagrams instead (:mod:`spanscope.tracer.fec`).

Split the way the OpenTelemetry SDK splits its batch processor over a shared engine:

- :mod:`.disk`: the disk log (records, cursor, recovery, eviction);
- :mod:`.sender`: the engine, one forwarding thread and its backoff/retry schedule;
- :mod:`.wire`: the OTLP/HTTP request, the device clock offset and its stamping;
- :mod:`.exporter`: the ``SpanExporter`` face.
"""

from __future__ import annotations

from spanscope.tracer.spool.disk import AppendResult, DiskSpool, SpoolRecord
from spanscope.tracer.spool.exporter import StoreAndForwardExporter
from spanscope.tracer.spool.sender import SpoolSender, SpoolStats, backoff_delay_s
from spanscope.tracer.spool.wire import CONTENT_TYPE, DEFAULT_ENDPOINT, DEVICE_CLOCK_OFFSET_NS

__all__ = [
    "CONTENT_TYPE",
    "DEFAULT_ENDPOINT",
    "DEVICE_CLOCK_OFFSET_NS",
    "AppendResult",
    "DiskSpool",
    "SpoolRecord",
    "SpoolSender",
    "SpoolStats",
    "StoreAndForwardExporter",
    "backoff_delay_s",
]
