"""`spanscope tui [TRACEFILE…] [--collect]`: the terminal UI on a store (live while a collector writes it), on
trace files, or with the receivers running in the same process (``--collect``)."""

from __future__ import annotations

import argparse
import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spanscope.cli.common import UsageError, command_parser
from spanscope.cli.options import add_count_argument

if TYPE_CHECKING:
    from spanscope.tui.data import StoreSource

SCREENS = ("map", "traces", "hotspots", "chains", "compare")


def register(sub: Any) -> None:
    parser = command_parser(
        sub,
        "tui",
        help="the terminal UI (live while a collector writes the same store)",
        description="Explore a span store in the terminal. With TRACEFILEs, they are imported into a temporary "
        "store first (X-Ray, OTLP JSON, Jaeger, Zipkin; see `spanscope import`).",
    )
    parser.add_argument("files", nargs="*", metavar="TRACEFILE", help="trace files to open instead of a store")
    parser.add_argument("--screen", choices=SCREENS, default="traces", help="the first screen (default: traces)")
    add_count_argument(
        parser, "--sample", 2000, "newest traces the map, hotspots and failure chains look at (default: 2000)"
    )
    parser.add_argument("--no-live", action="store_true", help="do not poll the store for new traces")
    parser.add_argument("--poll", type=float, default=1.0, metavar="SECONDS", help="live poll interval (default: 1)")
    parser.add_argument(
        "--collect",
        action="store_true",
        help="also run the receivers (like `spanscope collect`) in this process and show traces as they arrive",
    )
    parser.add_argument("--xray-udp", metavar="H:P", default="127.0.0.1:2000", help="with --collect ('off': none)")
    parser.add_argument("--otlp-http", metavar="H:P", default="127.0.0.1:4318", help="with --collect ('off': none)")
    parser.add_argument("--otlp-grpc", metavar="H:P", default="127.0.0.1:4317", help="with --collect ('off': none)")
    parser.set_defaults(func=run)


def collector_config(args: argparse.Namespace, db: Path) -> Any:
    """The receivers ``tui --collect`` runs into ``db`` (the collector's defaults otherwise)."""
    from spanscope.collectors.collector import CollectorConfig, parse_address

    try:
        addresses = {name: parse_address(getattr(args, name)) for name in ("xray_udp", "otlp_http", "otlp_grpc")}
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if all(a is None for a in addresses.values()):
        raise UsageError("every receiver is off; nothing to collect")
    return CollectorConfig(
        db_path=db,
        xray_udp=addresses["xray_udp"],
        otlp_http=addresses["otlp_http"],
        otlp_grpc=addresses["otlp_grpc"],
        log_interval_s=0.0,
    )


@contextmanager
def collecting(args: argparse.Namespace, db: Path) -> Iterator[Any]:
    """The receivers running into ``db`` on a thread of this process for the duration (the Collector).

    Their log is kept off the terminal the UI draws on; leaving stops receiving and flushes the writer.
    """
    from spanscope.collectors.collector import BackgroundCollector

    quiet = logging.NullHandler()
    root = logging.getLogger()
    root.addHandler(quiet)
    background = BackgroundCollector(collector_config(args, db))
    try:
        try:
            collector = background.start()
        except OSError as exc:
            raise UsageError(f"cannot bind a receiver: {exc}") from None
        yield collector
    finally:
        background.stop()
        root.removeHandler(quiet)


def prepare(args: argparse.Namespace, scratch: Path) -> tuple[StoreSource, str, bool]:
    """The store the app will read (importing TRACEFILEs into ``scratch`` first), its caption, and liveness."""
    from spanscope.collectors.store import default_store_path, open_store
    from spanscope.tui.data import StoreSource

    if args.sample < 1:
        raise UsageError("--sample must be at least 1")
    if args.poll <= 0:
        raise UsageError("--poll must be positive")
    if args.files and args.db:
        raise UsageError("give either --db or trace files, not both")
    if args.files and args.collect:
        raise UsageError("--collect writes to a store: give --db (or nothing), not trace files")
    if args.files:
        from spanscope.collectors.importers import import_files

        path = scratch / "imported.db"
        with open_store(path) as store:
            report = import_files(args.files, store)
        if report.spans == 0:
            problems = "; ".join(str(p) for p in report.problems[:3])
            raise UsageError(f"no spans found in the given files{': ' + problems if problems else ''}")
        caption = f"{len(args.files)} file(s), {report.spans:,} spans (temporary store)"
        live = False
    else:
        path = Path(args.db) if args.db else default_store_path()
        if args.collect:
            path.parent.mkdir(parents=True, exist_ok=True)
            open_store(path).close()  # created if missing: the receivers write here
        else:
            open_store(path, readonly=True).close()  # a missing or foreign file fails here, in one line
        caption = str(path)
        live = args.collect or not args.no_live
    return StoreSource(path, sample_size=args.sample), caption, live


def run(args: argparse.Namespace) -> int:
    from spanscope.tui.app import SpanscopeApp

    with tempfile.TemporaryDirectory(prefix="spanscope-tui-") as scratch:
        source, caption, live = prepare(args, Path(scratch))
        try:
            if args.collect:
                with collecting(args, source.path) as collector:
                    caption = collect_caption(collector, caption)
                    SpanscopeApp(
                        source, live=True, poll_interval_s=args.poll, start=args.screen, subtitle=caption
                    ).run()
            else:
                app = SpanscopeApp(source, live=live, poll_interval_s=args.poll, start=args.screen, subtitle=caption)
                app.run()
        finally:
            source.close()
    return 0


def collect_caption(collector: Any, store: str) -> str:
    """``receiving otlp-http 127.0.0.1:4318, … into STORE``."""
    bound = ", ".join(f"{name.replace('_', '-')} {host}:{port}" for name, (host, port) in collector.addresses.items())
    return f"receiving {bound} into {store}"
