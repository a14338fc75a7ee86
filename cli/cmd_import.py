"""`spanscope import`: load trace files (X-Ray, OTLP JSON, Jaeger, Zipkin v2) and CloudFront logs into the store.

Each problem (a record skipped, a file that cannot be read or recognised) is one line on stderr as it
is found; a summary per file and a total go to stdout. The exit status is 1 only when nothing at all
could be imported (every file bad, or no span in any of them).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from spanscope.cli.common import command_parser, open_store_for

if TYPE_CHECKING:
    from spanscope.collectors.importers import ImportProblem

FORMAT_CHOICES = ("auto", "xray", "otlp-json", "jaeger", "zipkin", "cloudfront", "cloudfront-realtime")
MAX_PROBLEM_LINES = 1000


def register(sub: Any) -> None:
    parser = command_parser(
        sub,
        "import",
        help=(
            "load trace files: X-Ray documents or batch-get-traces output, OTLP JSON, Jaeger JSON, Zipkin v2;"
            " CloudFront standard and real-time access logs"
        ),
        description=(
            "Load trace files into the store. The format is recognised from the content unless --format is"
            " given; JSON Lines files are streamed, gzip files are read as is. Bad records are skipped and"
            " reported on stderr with file, position and reason; the exit status is non-zero only if nothing"
            " could be imported. A CloudFront access log line becomes an edge span joined, by its"
            " x-edge-request-id, to the origin trace already in the store that received it (X-Amz-Cf-Id)."
        ),
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="trace files to import (- reads stdin)")
    parser.add_argument(
        "--format", choices=FORMAT_CHOICES, default="auto", help="file format (default: recognised from content)"
    )
    parser.add_argument(
        "--fields",
        metavar="LIST",
        help=(
            "CloudFront real-time logs: the log configuration's fields, comma-separated, in order"
            " (default: a '#Fields:' line in the file, else every documented field)"
        ),
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spanscope.collectors.importers import import_files
    from spanscope.render.safe_text import clean

    shown = 0

    def show_problem(problem: ImportProblem) -> None:
        nonlocal shown
        shown += 1
        if shown <= MAX_PROBLEM_LINES:
            print(clean(str(problem), max_length=500), file=sys.stderr)
        elif shown == MAX_PROBLEM_LINES + 1:
            print(f"(more problems not shown; only the first {MAX_PROBLEM_LINES} are listed)", file=sys.stderr)

    with open_store_for(args) as store:
        fields = [f.strip() for f in args.fields.split(",") if f.strip()] if args.fields else None
        report = import_files(args.files, store, fmt=args.format, on_problem=show_problem, fields=fields)

    for file in report.files:
        label = clean(file.path, max_length=300)
        fmt = f" ({file.format})" if file.format else ""
        skipped = f", {file.problems} skipped" if file.problems else ""
        print(f"{label}{fmt}: {file.spans} spans{skipped}")
    # The store keeps one record per (trace id, span id): a span repeated in the input is counted once above.
    repeated = report.spans - report.inserted - report.replaced - report.unchanged
    also = f", {repeated} repeated in the input (kept once)" if repeated > 0 else ""
    print(
        f"imported {report.spans} spans from {len(report.files)} file(s): {report.inserted} new,"
        f" {report.replaced} replaced, {report.unchanged} already stored{also}; {len(report.problems)} problem(s)"
    )
    return 0 if report.spans > 0 else 1
