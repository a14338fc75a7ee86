"""Trace files into the store: reading (JSON Lines streamed, gzip too), format detection, batched writes.

A file is read as JSON Lines when its first line is a complete JSON value (each line is then a
record, and the file is streamed line by line, whatever its size); otherwise it is one JSON document.
Every record that cannot be converted is skipped and reported with its file, its position (``line N``,
an index like ``[3]``, or a JSON path) and the reason; everything else is imported. Spans go to the
store in batches (one transaction each), so memory stays bounded for JSON Lines input.

Accepted shapes, per format:

- ``xray``: one segment document per line; a JSON array of documents; ``aws xray batch-get-traces``
  output (``Traces[].Segments[].Document`` strings); a PutTraceSegments request
  (``TraceSegmentDocuments`` strings); the daemon's ``{"format": "json", "version": 1}`` header lines;
- ``otlp-json``: an ExportTraceServiceRequest per document or per line (the collector's file exporter),
  also wrapped in ``{"result": ...}`` as Jaeger's ``/api/v3/traces`` answers;
- ``jaeger``: ``{"data": [trace, ...]}`` or a bare trace object, per document or per line;
- ``zipkin``: a JSON list of v2 spans, per document or per line;
- ``cloudfront`` / ``cloudfront-realtime``: CloudFront standard or real-time access logs (tab-separated
  lines, streamed), one edge span per request joined to the origin traces already in the store
  (``collectors.edge_logs``).

``-`` reads stdin (``aws xray batch-get-traces ... | spanscope import -``). A file that is one JSON
document (not JSON Lines) is parsed whole with orjson: its size is bounded by memory, not streamed.

Gzip input (recognised by its magic number) is inflated as a stream and never trusted: one document
or one line of it may inflate to at most ``MAX_INFLATED_RECORD_BYTES``, and once ``_RATIO_FREE_BYTES``
are out the inflated size may be at most ``MAX_INFLATE_RATIO`` times the compressed bytes read (real
trace files compress 5-30x; a bomb 1000x). Beyond either, the file is refused with one problem
naming the limit, before the bomb is held in memory.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import orjson
from spanscope.collectors.edge_logs import TraceSource, edge_chunks, looks_like_cloudfront
from spanscope.collectors.errors import ImportFormatError
from spanscope.collectors.formats import (
    RECORD_ERRORS,
    ParseResult,
    RecordError,
    jaeger,
    otlp_json,
    record_reason,
    xray,
    zipkin,
)
from spanscope.collectors.formats.detect import FORMATS, detect_format
from spanscope.collectors.import_reading import Replay, close_input, open_input
from spanscope.collectors.model import Span

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "FileReport",
    "ImportProblem",
    "ImportReport",
    "SpanSink",
    "import_files",
    "parse_value",
    "read_file",
]

DEFAULT_BATCH_SIZE = 20_000  # spans per store transaction: fewer commits (each an fsync), bounded memory
_HEAD_BYTES = 64 * 1024
LOG_FORMATS = ("cloudfront", "cloudfront-realtime")  # text logs, not JSON: read by collectors.edge_logs
ALL_FORMATS = (*FORMATS, *LOG_FORMATS)


class SpanSink(Protocol):
    """Where imported spans go (the Store, or anything with the same write_spans)."""

    def write_spans(self, spans: Iterable[Span]) -> Any: ...


@dataclass(slots=True, frozen=True)
class ImportProblem:
    """A record (or a whole file) that was not imported."""

    file: str
    position: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.position}" if self.position else self.file
        return f"{where}: {self.reason}"


@dataclass(slots=True)
class FileReport:
    """What happened to one file."""

    path: str
    format: str = ""
    spans: int = 0
    problems: int = 0


@dataclass(slots=True)
class ImportReport:
    """What an import did, over all its files."""

    files: list[FileReport] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)
    spans: int = 0
    inserted: int = 0
    replaced: int = 0
    unchanged: int = 0


# --- converting parsed JSON -----------------------------------------------------------------------


def _join(base: str, path: str) -> str:
    if not base:
        return path
    if not path:
        return base
    if base.startswith("line ") and ", " not in base:
        return f"{base}, {path}"
    return f"{base}{'' if path.startswith('[') else '.'}{path}"


def _prefixed(result: ParseResult, base: str) -> ParseResult:
    if base and result.errors:
        result.errors = [RecordError(_join(base, e.position), e.reason) for e in result.errors]
    return result


def _xray_doc(doc: object, position: str, result: ParseResult) -> None:
    if isinstance(doc, (str, bytes)):
        try:
            doc = orjson.loads(doc)
        except orjson.JSONDecodeError as exc:
            result.errors.append(RecordError(position, f"invalid JSON in segment document: {exc}"))
            return
    if not isinstance(doc, dict):
        result.errors.append(RecordError(position, "segment document is not a JSON object"))
        return
    try:
        result.spans.extend(xray.spans_from_document(doc))
    except RECORD_ERRORS as exc:
        result.errors.append(RecordError(position, record_reason(exc)))


def _xray_value(value: object, base: str) -> ParseResult:
    result = ParseResult()
    if isinstance(value, list):
        for i, doc in enumerate(value):
            _xray_doc(doc, _join(base, f"[{i}]"), result)
    elif isinstance(value, dict) and "Traces" in value:
        traces = value["Traces"]
        if not isinstance(traces, list):
            result.errors.append(RecordError(_join(base, "Traces"), "not a list"))
            return result
        for i, trace in enumerate(traces):
            segments = trace.get("Segments") if isinstance(trace, dict) else None
            if not isinstance(segments, list):
                result.errors.append(RecordError(_join(base, f"Traces[{i}].Segments"), "missing or not a list"))
                continue
            for j, segment in enumerate(segments):
                position = _join(base, f"Traces[{i}].Segments[{j}].Document")
                document = segment.get("Document") if isinstance(segment, dict) else None
                if document is None:
                    result.errors.append(RecordError(position, "missing"))
                else:
                    _xray_doc(document, position, result)
    elif isinstance(value, dict) and "TraceSegmentDocuments" in value:
        documents = value["TraceSegmentDocuments"]
        if not isinstance(documents, list):
            result.errors.append(RecordError(_join(base, "TraceSegmentDocuments"), "not a list"))
            return result
        for i, document in enumerate(documents):
            _xray_doc(document, _join(base, f"TraceSegmentDocuments[{i}]"), result)
    elif isinstance(value, dict) and value.get("format") == "json" and "id" not in value:
        pass  # the X-Ray daemon protocol header
    else:
        _xray_doc(value, base, result)
    return result


def _otlp_value(value: object, base: str) -> ParseResult:
    if isinstance(value, list):
        result = ParseResult()
        for i, request in enumerate(value):
            result.extend(_prefixed(otlp_json.parse_request(request), _join(base, f"[{i}]")))
        return result
    if not isinstance(value, dict):
        return ParseResult(errors=[RecordError(base, "not an OTLP ExportTraceServiceRequest object")])
    wrapped = value.get("result")
    if "resourceSpans" not in value and isinstance(wrapped, dict) and "resourceSpans" in wrapped:
        return _prefixed(otlp_json.parse_request(wrapped), _join(base, "result"))  # Jaeger's /api/v3 answer
    return _prefixed(otlp_json.parse_request(value), base)


def _jaeger_value(value: object, base: str) -> ParseResult:
    return _prefixed(jaeger.parse_document(value), base)


def _zipkin_value(value: object, base: str) -> ParseResult:
    if isinstance(value, dict):
        value = [value]
    return _prefixed(zipkin.parse_spans(value), base)


_CONVERTERS: dict[str, Callable[[object, str], ParseResult]] = {
    "xray": _xray_value,
    "otlp-json": _otlp_value,
    "jaeger": _jaeger_value,
    "zipkin": _zipkin_value,
}


def parse_value(value: object, fmt: str, position: str = "") -> ParseResult:
    """Convert one parsed JSON value (a whole document or one line) of a known format."""
    try:
        converter = _CONVERTERS[fmt]
    except KeyError:
        raise ImportFormatError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}") from None
    return converter(value, position)


# --- reading files --------------------------------------------------------------------------------


def _check_format(fmt: str) -> None:
    if fmt != "auto" and fmt not in ALL_FORMATS:
        raise ImportFormatError(f"unknown format {fmt!r}: expected auto or one of {', '.join(ALL_FORMATS)}")


def read_file(
    path: str | Path,
    fmt: str = "auto",
    *,
    fields: Sequence[str] | None = None,
    source: TraceSource | None = None,
) -> tuple[str, Iterator[ParseResult]]:
    """(format, chunks of converted spans) for one file (``-`` is stdin); chunks come while reading.

    ``fields`` and ``source`` are for CloudFront logs: the real-time log's column list, and the store
    whose origin traces edge spans join. Raises ImportFormatError when the format cannot be recognised,
    OSError when the file can't be read.
    """
    name = str(path)
    _check_format(fmt)
    handle = open_input(name)
    try:
        head = handle.read(_HEAD_BYTES)
        if fmt == "auto":
            fmt = looks_like_cloudfront(head) or detect_format(head)
    except BaseException:
        close_input(handle, name)
        raise
    reader = Replay(head, handle)
    if fmt in LOG_FORMATS:
        return fmt, _log_chunks(reader, fmt, fields, source, lambda: close_input(handle, name))
    return fmt, _chunks(reader, fmt, lambda: close_input(handle, name))


def _log_chunks(
    reader: Replay,
    fmt: str,
    fields: Sequence[str] | None,
    source: TraceSource | None,
    close: Callable[[], None],
) -> Iterator[ParseResult]:
    try:
        yield from edge_chunks(iter(reader.readline, b""), fmt, fields=fields, source=source)
    finally:
        close()


def _first_line_is_complete(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


def _chunks(reader: Replay, fmt: str, close: Callable[[], None]) -> Iterator[ParseResult]:
    converter = _CONVERTERS[fmt]
    try:
        first = reader.readline().removeprefix(b"\xef\xbb\xbf")
        lineno = 1
        while first and not first.strip():
            first = reader.readline()
            lineno += 1
        if not first:
            yield ParseResult(errors=[RecordError("", "the file is empty")])
            return
        if _first_line_is_complete(first):
            yield from _json_lines(first, lineno, reader, converter)
        else:
            text = first + reader.read()
            try:
                value = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                yield ParseResult(errors=[RecordError("", f"invalid JSON: {exc}")])
                return
            del text
            yield converter(value, "")
    finally:
        close()


def _json_lines(
    first: bytes, lineno: int, reader: Replay, converter: Callable[[object, str], ParseResult]
) -> Iterator[ParseResult]:
    line = first
    pending = ParseResult()
    while True:
        stripped = line.strip()
        if stripped:
            position = f"line {lineno}"
            try:
                value = orjson.loads(stripped)
            except orjson.JSONDecodeError as exc:
                pending.errors.append(RecordError(position, f"invalid JSON: {exc}"))
            else:
                pending.extend(converter(value, position))
            if len(pending.spans) >= DEFAULT_BATCH_SIZE or len(pending.errors) >= 1000:
                yield pending
                pending = ParseResult()
        line = reader.readline()
        if not line:
            break
        lineno += 1
    if pending.spans or pending.errors:
        yield pending


# --- importing ------------------------------------------------------------------------------------


def import_files(
    paths: Sequence[str | Path],
    sink: SpanSink,
    *,
    fmt: str = "auto",
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_problem: Callable[[ImportProblem], None] | None = None,
    fields: Sequence[str] | None = None,
) -> ImportReport:
    """Import trace files into ``sink`` (a Store) in batches; problems are collected and reported.

    ``on_problem`` is called for each problem as it is found (the CLI prints them as they come). CloudFront
    log lines join the origin traces already in ``sink`` when it can be read (``iter_traces``).
    """
    _check_format(fmt)
    source = cast("TraceSource", sink) if hasattr(sink, "iter_traces") else None
    report = ImportReport()
    buffer: list[Span] = []

    def problem(file: str, position: str, reason: str) -> None:
        item = ImportProblem(file, position, reason)
        report.problems.append(item)
        if on_problem is not None:
            on_problem(item)

    def flush() -> None:
        if not buffer:
            return
        written = sink.write_spans(buffer)
        for name in ("inserted", "replaced", "unchanged"):
            setattr(report, name, getattr(report, name) + int(getattr(written, name, 0)))
        buffer.clear()

    for raw_path in paths:
        name = str(raw_path)
        file_report = FileReport(name)
        report.files.append(file_report)
        try:
            file_report.format, chunks = read_file(raw_path, fmt, fields=fields, source=source)
            if file_report.format in LOG_FORMATS:
                flush()  # the join reads the store: the traces of earlier files must be in it
            for chunk in chunks:
                for error in chunk.errors:
                    problem(name, error.position, error.reason)
                file_report.problems += len(chunk.errors)
                file_report.spans += len(chunk.spans)
                buffer.extend(chunk.spans)
                if len(buffer) >= batch_size:
                    flush()
        except ImportFormatError as exc:
            problem(name, "", str(exc))
            file_report.problems += 1
        except (EOFError, gzip.BadGzipFile) as exc:
            problem(name, "", f"damaged gzip file: {exc}")
            file_report.problems += 1
        except OSError as exc:
            problem(name, "", f"cannot read: {exc.strerror or exc}")
            file_report.problems += 1
        report.spans += file_report.spans
    flush()
    return report
