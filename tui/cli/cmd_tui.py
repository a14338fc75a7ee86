"""`spanscope tui [TRACEFILE…]`: the terminal UI on a store (live while a collector writes it) or on trace files."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spanscope.tui.cli.common import UsageError, add_db_argument

if TYPE_CHECKING:
    from spanscope.tui.data import StoreSource

SCREENS = ("map", "traces", "hotspots", "chains", "compare")


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "tui",
        help="the terminal UI (live while a collector writes the same store)",
        description="Explore a span store in the terminal. With TRACEFILEs, they are imported into a temporary "
        "store first (X-Ray, OTLP JSON, Jaeger, Zipkin; see `spanscope import`).",
    )
    add_db_argument(parser)
    parser.add_argument("files", nargs="*", metavar="TRACEFILE", help="trace files to open instead of a store")
    parser.add_argument("--screen", choices=SCREENS, default="traces", help="the first screen (default: traces)")
    parser.add_argument(
        "--sample",
        type=int,
        default=2000,
        metavar="N",
        help="newest traces the map, hotspots and failure chains look at (default: 2000)",
    )
    parser.add_argument("--no-live", action="store_true", help="do not poll the store for new traces")
    parser.add_argument("--poll", type=float, default=1.0, metavar="SECONDS", help="live poll interval (default: 1)")
    parser.set_defaults(func=run)


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
        open_store(path, readonly=True).close()  # a missing or foreign file fails here, in one line
        caption = str(path)
        live = not args.no_live
    return StoreSource(path, sample_size=args.sample), caption, live


def run(args: argparse.Namespace) -> int:
    from spanscope.tui.app import SpanscopeApp

    with tempfile.TemporaryDirectory(prefix="spanscope-tui-") as scratch:
        source, caption, live = prepare(args, Path(scratch))
        try:
            app = SpanscopeApp(source, live=live, poll_interval_s=args.poll, start=args.screen, subtitle=caption)
            app.run()
        finally:
            source.close()
    return 0
