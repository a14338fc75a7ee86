"""`spanscope export`: writes the store out as a Parquet archive or as OTLP JSON files for other tools."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, BinaryIO

from spanscope.cli.common import UsageError, add_db_argument, add_window_arguments, open_store_for, window

TRACES_PER_OTLP_LINE = 100
TRACES_PER_ARCHIVE_CALL = 5_000


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "export", help="write the store out: a Parquet archive (local or s3://) or OTLP JSON lines"
    )
    parser.add_argument(
        "destination",
        metavar="DIR",
        help="directory (parquet also takes s3://bucket/prefix; otlp-json takes - for stdout)",
    )
    parser.add_argument("--format", choices=("parquet", "otlp-json"), required=True)
    add_db_argument(parser)
    add_window_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    since, until = window(args)
    to_stdout = args.destination == "-"
    if to_stdout and args.format != "otlp-json":
        raise UsageError("'-' (stdout) works only with --format otlp-json; parquet needs a directory or s3:// prefix")
    with open_store_for(args, readonly=True) as store:
        traces = store.iter_traces(since_ns=since, until_ns=until)
        if to_stdout:
            trace_count, span_count = _otlp_json_lines(traces, sys.stdout.buffer)
            sys.stdout.flush()
            print(f"exported {trace_count} traces ({span_count} spans) to stdout", file=sys.stderr)
            return 0
        if args.format == "parquet":
            files, trace_count, span_count = _parquet(traces, args.destination)
        else:
            files, trace_count, span_count = _otlp_json(traces, args.destination)
    print(f"exported {trace_count} traces ({span_count} spans) into {files} file(s) under {args.destination}")
    return 0


def _parquet(traces: Any, destination: str) -> tuple[int, int, int]:
    from itertools import islice

    from spanscope.collectors.archive import write_traces

    files = trace_count = span_count = 0
    pending = iter(traces)
    while batch := list(islice(pending, TRACES_PER_ARCHIVE_CALL)):
        result = write_traces(batch, destination)
        files += len(result.files)
        trace_count += result.traces
        span_count += result.spans
    return files, trace_count, span_count


def _otlp_json(traces: Any, destination: str) -> tuple[int, int, int]:
    if "://" in destination:
        raise UsageError("otlp-json export writes to a local directory (or - for stdout)")
    directory = Path(destination)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "traces.otlp.jsonl"
    temporary = directory / ".traces.otlp.jsonl.tmp"
    with temporary.open("wb") as handle:
        trace_count, span_count = _otlp_json_lines(traces, handle)
    temporary.replace(target)
    sys.stdout.flush()
    return 1, trace_count, span_count


def _otlp_json_lines(traces: Any, handle: BinaryIO) -> tuple[int, int]:
    """Write OTLP JSON export requests, one line per TRACES_PER_OTLP_LINE traces; (traces, spans) written."""
    import orjson
    from spanscope.collectors.formats.otlp_json_out import request_from_spans

    trace_count = span_count = 0
    batch = []
    for trace in traces:
        batch.extend(trace.canonical())
        trace_count += 1
        if trace_count % TRACES_PER_OTLP_LINE == 0:
            handle.write(orjson.dumps(request_from_spans(batch)) + b"\n")
            span_count += len(batch)
            batch = []
    if batch:
        handle.write(orjson.dumps(request_from_spans(batch)) + b"\n")
        span_count += len(batch)
    return trace_count, span_count
