"""What a collector runs: its configuration, receiver addresses, and the process tuning for long ingest.

``CollectorConfig`` is what ``spanscope collect`` builds from its options; ``parse_address`` reads
their ``HOST:PORT`` values; ``tune_gc_for_ingest`` is for the process that runs only a collector.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from pathlib import Path

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
