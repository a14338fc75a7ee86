"""`spanscope collect`: run the live collector (X-Ray UDP, OTLP/HTTP, OTLP/gRPC) until SIGTERM/SIGINT.

On start it prints one line per bound receiver (``listening xray-udp 127.0.0.1:2000``), so scripts
can use port 0 and read the real port. It first raises its file-descriptor limit to the hard limit;
each TCP receiver holds at most ``--max-connections`` (default: shared out of that limit), closes
idle and slow connections (``--http-idle-timeout``, ``--http-body-timeout``, gRPC idle/age), and
repeated log messages are written once per 10 s with a count.
SIGTERM or SIGINT stops receiving, flushes, closes the store
and exits 0. A corrupt store file is never silently replaced: it is renamed to
``<db>.corrupt-<UTC time>`` (with its -wal/-shm), a warning names both paths, and a fresh store starts.
A store SQLite finds corrupt while collecting is moved aside the same way and salvaged in the
background (``collectors.store.recovery``); the requests that hit it get a retryable 503/UNAVAILABLE.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from spanscope.cli.common import UsageError, command_parser

_LABELS = {"xray_udp": "xray-udp", "otlp_http": "otlp-http", "otlp_grpc": "otlp-grpc", "fec_udp": "fec-udp"}


def register(sub: Any) -> None:
    parser = command_parser(
        sub,
        "collect",
        help="run the collector: X-Ray daemon UDP, OTLP/HTTP and OTLP/gRPC receivers into the store",
        description=(
            "Receive spans from X-Ray SDKs (UDP, like the X-Ray daemon) and OpenTelemetry SDKs (OTLP/HTTP, "
            "OTLP/gRPC), store them, optionally forward them. Use 'off' to disable a receiver and port 0 for "
            "an ephemeral port. SIGTERM/SIGINT flush and exit 0."
        ),
    )
    parser.add_argument("--xray-udp", metavar="H:P", default="127.0.0.1:2000", help="X-Ray daemon UDP address")
    parser.add_argument("--otlp-http", metavar="H:P", default="127.0.0.1:4318", help="OTLP/HTTP address")
    parser.add_argument("--otlp-grpc", metavar="H:P", default="127.0.0.1:4317", help="OTLP/gRPC address")
    parser.add_argument(
        "--fec-udp",
        metavar="H:P",
        default="off",
        help="erasure-coded UDP from edge devices' spools (spanscope.tracer.fec; default: off)",
    )
    parser.add_argument(
        "--sampling-rules",
        metavar="FILE",
        help="serve this X-Ray rules file to tracers (POST /GetSamplingRules, /SamplingTargets on the OTLP/HTTP port)",
    )
    parser.add_argument(
        "--auth-token",
        metavar="T",
        default=None,
        help="bearer token required on OTLP/HTTP and gRPC (default: $SPANSCOPE_TOKEN)",
    )
    parser.add_argument("--forward-otlp", metavar="URL", help="also forward stored spans as OTLP/HTTP protobuf")
    parser.add_argument(
        "--forward-otlp-header",
        metavar="K=V",
        action="append",
        default=[],
        help="header sent with forwarded OTLP requests (repeatable), e.g. 'Authorization=Bearer T'",
    )
    parser.add_argument(
        "--forward-xray", action="store_true", help="also forward stored spans to AWS X-Ray (PutTraceSegments)"
    )
    parser.add_argument("--xray-endpoint-url", metavar="URL", help="X-Ray endpoint for --forward-xray (default: AWS's)")
    parser.add_argument(
        "--log-interval", metavar="S", type=float, default=10.0, help="seconds between status lines (0: none)"
    )
    parser.add_argument(
        "--max-queue-spans", metavar="N", type=int, default=200_000, help="write queue bound before 429/UNAVAILABLE"
    )
    parser.add_argument(
        "--archive", metavar="DIR_OR_S3_URL", help="also roll completed traces into a Parquet archive (date/hour)"
    )
    parser.add_argument(
        "--archive-quiet", metavar="S", type=float, default=60.0, help="seconds a trace must be quiet before rolling"
    )
    parser.add_argument(
        "--max-connections",
        metavar="N",
        type=int,
        default=None,
        help="connections each TCP receiver holds at once; more get 503 (default: from the file-descriptor limit)",
    )
    parser.add_argument(
        "--http-idle-timeout",
        metavar="S",
        type=float,
        default=15.0,
        help="OTLP/HTTP: close a connection idle (or still sending its request head) this long",
    )
    parser.add_argument(
        "--http-body-timeout", metavar="S", type=float, default=30.0, help="OTLP/HTTP: 408 a body not received in S"
    )
    parser.add_argument(
        "--grpc-max-connection-idle", metavar="S", type=float, default=60.0, help="OTLP/gRPC: GOAWAY after S idle"
    )
    parser.add_argument(
        "--grpc-max-connection-age", metavar="S", type=float, default=900.0, help="OTLP/gRPC: recycle connections"
    )
    parser.set_defaults(func=run)


def _config(args: argparse.Namespace) -> Any:
    from pathlib import Path

    from spanscope.collectors.collector import CollectorConfig, parse_address
    from spanscope.collectors.store import default_store_path

    try:
        addresses = {name: parse_address(getattr(args, name)) for name in _LABELS}
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if all(a is None for a in addresses.values()):
        raise UsageError("every receiver is off; nothing to collect")
    if args.sampling_rules and addresses["otlp_http"] is None:
        raise UsageError("--sampling-rules is served on the OTLP/HTTP port: give --otlp-http an address")
    if args.max_queue_spans < 1:
        raise UsageError("--max-queue-spans must be at least 1")
    if args.max_connections is not None and args.max_connections < 1:
        raise UsageError("--max-connections must be at least 1")
    for flag in ("http_idle_timeout", "http_body_timeout", "grpc_max_connection_idle", "grpc_max_connection_age"):
        if not getattr(args, flag) > 0:
            raise UsageError(f"--{flag.replace('_', '-')} must be a positive number of seconds")
    token = args.auth_token if args.auth_token is not None else os.environ.get("SPANSCOPE_TOKEN") or None
    headers: dict[str, str] = {}
    for item in args.forward_otlp_header:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise UsageError(f"bad --forward-otlp-header {item!r}: expected KEY=VALUE")
        headers[key.strip()] = value.strip()
    return CollectorConfig(
        db_path=Path(args.db) if args.db else default_store_path(),
        xray_udp=addresses["xray_udp"],
        otlp_http=addresses["otlp_http"],
        otlp_grpc=addresses["otlp_grpc"],
        fec_udp=addresses["fec_udp"],
        sampling_rules=Path(args.sampling_rules) if args.sampling_rules else None,
        auth_token=token,
        forward_otlp=args.forward_otlp,
        forward_otlp_headers=headers,
        forward_xray=args.forward_xray,
        xray_endpoint_url=args.xray_endpoint_url,
        log_interval_s=max(0.0, args.log_interval),
        max_pending_spans=args.max_queue_spans,
        archive=args.archive,
        archive_quiet_s=max(0.0, args.archive_quiet),
        max_connections=args.max_connections,
        http_idle_timeout_s=args.http_idle_timeout,
        http_body_timeout_s=args.http_body_timeout,
        grpc_max_connection_idle_s=args.grpc_max_connection_idle,
        grpc_max_connection_age_s=args.grpc_max_connection_age,
    )


def move_aside_if_corrupt(db: Any) -> str | None:
    """A corrupt store at ``db`` (and its -wal/-shm) renamed to ``<db>.corrupt-<UTC time>``; the warning.

    Never deletes and never touches a file that is another application's SQLite database, a newer
    schema or a locked store: those errors stand. Returns None when the store opens. The logic lives
    in ``collectors.store.aside``, shared with the live collector's recovery.
    """
    from spanscope.collectors.store.aside import move_aside_if_corrupt as move

    return move(db)


def run(args: argparse.Namespace) -> int:
    import asyncio
    import logging
    import signal

    from spanscope.collectors.collector import Collector, tune_gc_for_ingest
    from spanscope.collectors.receivers import log_limit
    from spanscope.collectors.receivers.connections import raise_fd_limit

    config = _config(args)
    raise_fd_limit()  # before the receivers size their connection bounds from it
    moved = move_aside_if_corrupt(config.db_path)
    if moved:
        print(f"warning: {moved}", file=sys.stderr, flush=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    for noisy in ("aiohttp.access", "botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    log_limit.install(interval_s=10.0)  # a message repeating (a flood of bad connections) is logged once per 10 s

    async def main() -> None:
        from spanscope.tracer.sampling import SamplingRulesError

        collector = Collector(config)
        try:
            await collector.start()
        except OSError as exc:
            raise UsageError(f"cannot bind a receiver: {exc}") from None
        except SamplingRulesError as exc:
            raise UsageError(f"--sampling-rules: {exc}") from None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print(f"store {config.db_path}", flush=True)
        for name, (host, port) in collector.addresses.items():
            shown = f"[{host}]" if ":" in host else host
            print(f"listening {_LABELS[name]} {shown}:{port}", flush=True)
        if collector.sampling is not None:
            rules = len(collector.sampling.rules)
            print(f"sampling rules {config.sampling_rules} ({rules} rules) on otlp-http", flush=True)
        for warning in collector.warnings:
            print(f"warning: {warning}", file=sys.stderr, flush=True)
        tune_gc_for_ingest()
        try:
            await stop.wait()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            await collector.stop()
        counters = collector.counters.snapshot()
        print(f"stopped: {counters.get('writer.spans', 0)} spans stored", flush=True)

    asyncio.run(main())
    return 0
