"""Importing trace files into a real store: every format, bad records reported with positions, streaming,
gzip, idempotence, and the `spanscope import` command's output and exit status."""

from __future__ import annotations

import gzip
import random
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import orjson
import pytest
from spanscope.cli.main import main
from spanscope.collectors.importers import import_files, read_file
from spanscope.collectors.model import Kind, Status
from spanscope.collectors.store import open_store

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REAL = [
    "otlp_json/opentelemetry-proto-trace.json",
    "xray_import/aws-cli-batch-get-traces.json",
    "xray_import/awsxrayreceiver-put-trace-segments.json",
    "jaeger/jaeger-ui_01.json",
    "zipkin/skew.json",
    "zipkin/simple-db-p6.json",
]
MALFORMED = FIXTURES / "malformed"
XRAY_TRACE = "5f06099fa006649127e371903a2de979"


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path / "spans.db") as s:
        yield s


def test_all_real_samples_import_and_read_back(store):
    report = import_files([FIXTURES / name for name in REAL], store)
    assert report.problems == []
    assert [f.format for f in report.files] == ["otlp-json", "xray", "xray", "jaeger", "zipkin", "zipkin"]
    assert [f.spans for f in report.files] == [1, 2, 3, 5, 4, 5]
    assert report.spans == 20
    # jaeger ui_01 repeats span id 2: stored once (the store collapses it within the batch)
    assert (report.inserted, report.replaced) == (19, 0)
    assert store.span_count() == 19

    scorekeep = store.get_trace("1-5d82881a-0a9126e92a73e971eed891b9")
    names = [(s.service, s.name, s.kind, s.remote_service) for s in scorekeep.spans]
    assert sorted(names) == [
        ("Scorekeep", "DynamoDB", Kind.CLIENT, "DynamoDB"),
        ("Scorekeep", "Scorekeep", Kind.SERVER, ""),
    ]
    skew = store.get_trace("0000000000000000" + "1e223ff1f80f1c69")
    assert len(skew) == 4 and not skew.missing_parent


def test_importing_twice_is_idempotent(store):
    paths = [FIXTURES / name for name in REAL]
    import_files(paths, store)
    again = import_files(paths, store)
    assert again.inserted == 0 and again.replaced == 0 and again.unchanged == 19
    assert store.span_count() == 19


def test_bad_records_are_reported_with_file_position_and_reason(store):
    files = sorted(MALFORMED.iterdir())
    seen = []
    report = import_files(files, store, on_problem=seen.append)
    assert seen == report.problems
    by_file = {}
    for problem in report.problems:
        by_file.setdefault(Path(problem.file).name, []).append((problem.position, problem.reason))

    xray = by_file["xray-mixed.jsonl"]
    assert [p for p, _ in xray] == ["line 3", "line 4", "line 6"]
    assert "invalid JSON" in xray[0][1]
    assert "id is missing" in xray[1][1]
    assert "not-a-trace-id" in xray[2][1]

    otlp = by_file["otlp-mixed.jsonl"]
    assert otlp[0][0] == "line 1, resourceSpans[0].scopeSpans[0].spans[1]" and "spanId" in otlp[0][1]
    assert otlp[1] == ("line 2, resourceSpans", "missing or not a list")
    assert by_file["jaeger-bad-span.json"] == [
        ("data[0].spans[1]", "processID 'missing' names no process of this trace")
    ]
    assert [p for p, _ in by_file["zipkin-bad.json"]] == ["[1]"]
    assert "timestamp" in by_file["zipkin-bad.json"][0][1]
    assert by_file["truncated.json"][0][0] == "" and "invalid JSON" in by_file["truncated.json"][0][1]
    assert "no known trace format" in by_file["not-traces.json"][0][1]

    counts = {Path(f.path).name: f.spans for f in report.files}
    assert counts == {
        "jaeger-bad-span.json": 1,
        "not-traces.json": 0,
        "otlp-mixed.jsonl": 2,
        "truncated.json": 0,
        "xray-mixed.jsonl": 3,
        "zipkin-bad.json": 1,
    }
    # the good records made it, with their content
    trace = store.get_trace(XRAY_TRACE)
    by_id = {s.span_id: s for s in trace.spans}
    assert by_id["1000000000000001"].status is Status.FAULT
    ddb = by_id["1000000000000002"]
    assert (ddb.kind, ddb.namespace, ddb.remote_service, ddb.status) == (Kind.CLIENT, "aws", "DynamoDB", Status.FAULT)
    assert ddb.exceptions[0].type == "ProvisionedThroughputExceededException"
    work = by_id["1000000000000005"]
    assert work.in_progress and work.service == "orders"  # the store fills a detached subsegment's service
    assert by_id["2000000000000002"].remote_service == "thing-7"
    assert by_id["3000000000000001"].service == "batch-worker"
    assert by_id["4000000000000001"].service == "greengrass"


def test_forced_format_and_unreadable_files(store, tmp_path):
    report = import_files([FIXTURES / REAL[0], tmp_path / "missing.json"], store, fmt="zipkin")
    assert report.spans == 0
    assert report.problems[0].position == "[0]"  # a JSON object is taken as one Zipkin span
    assert report.problems[0].reason == "traceId is missing or not a string: None"
    assert "cannot read" in report.problems[1].reason
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    assert "empty" in import_files([empty], store).problems[0].reason


def _xray_lines(n_docs, trace_id=XRAY_TRACE):
    for i in range(n_docs):
        yield (
            orjson.dumps(
                {
                    "name": "svc",
                    "id": f"{i + 1:016x}",
                    "trace_id": f"1-{trace_id[:8]}-{trace_id[8:]}",
                    "start_time": 1594231199.5 + i / 1000,
                    "end_time": 1594231199.6 + i / 1000,
                    "subsegments": [
                        {
                            "name": "S3",
                            "id": f"{i + 1:08x}{0xABCDEF01:08x}",
                            "namespace": "aws",
                            "start_time": 1594231199.51 + i / 1000,
                            "end_time": 1594231199.52 + i / 1000,
                        },
                    ],
                }
            )
            + b"\n"
        )


class CountingSink:
    def __init__(self, store):
        self.store = store
        self.batches = []

    def write_spans(self, spans):
        self.batches.append(len(spans))
        return self.store.write_spans(spans)


def test_json_lines_stream_in_batches_and_gzip_is_read(store, tmp_path):
    from spanscope.collectors.importers import DEFAULT_BATCH_SIZE

    docs = DEFAULT_BATCH_SIZE  # two spans each: the file holds two default batches
    total = 2 * docs
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"".join(_xray_lines(docs)))
    fmt, chunks = read_file(path)
    first = next(chunks)  # chunks are produced while reading, not after
    assert fmt == "xray" and DEFAULT_BATCH_SIZE <= len(first.spans) < total
    chunks.close()

    sink = CountingSink(store)
    report = import_files([path], sink, batch_size=2000)
    assert report.spans == total and report.inserted == total
    assert all(size < total for size in sink.batches) and len(sink.batches) >= 2

    packed = tmp_path / "big.jsonl.gz"
    with path.open("rb") as src, gzip.open(packed, "wb") as dst:
        shutil.copyfileobj(src, dst)
    renamed = tmp_path / "trace-data"  # detection reads content, not the name
    packed.rename(renamed)
    again = import_files([renamed], store)
    assert again.files[0].format == "xray" and again.unchanged == total and again.problems == []


def test_cli_prints_summary_and_problems(tmp_path, capsys):
    db = tmp_path / "cli.db"
    rc = main(["import", "--db", str(db), str(FIXTURES / REAL[1]), str(MALFORMED / "xray-mixed.jsonl")])
    out, err = capsys.readouterr()
    assert rc == 0
    assert "aws-cli-batch-get-traces.json (xray): 2 spans" in out
    assert "xray-mixed.jsonl (xray): 3 spans, 3 skipped" in out
    assert "imported 5 spans from 2 file(s): 5 new, 0 replaced, 0 already stored; 3 problem(s)" in out
    lines = err.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(str(MALFORMED / "xray-mixed.jsonl") + ": line 3: invalid JSON")


def test_cli_exit_status_when_nothing_imported(tmp_path, capsys):
    db = tmp_path / "cli.db"
    rc = main(["import", "--db", str(db), str(MALFORMED / "not-traces.json"), str(MALFORMED / "truncated.json")])
    out, err = capsys.readouterr()
    assert rc == 1
    assert "imported 0 spans" in out
    assert len(err.strip().splitlines()) == 2
    rc = main(["import", "--db", str(db), "--format", "jaeger", str(FIXTURES / "jaeger/jaeger-ui_01.json")])
    assert rc == 0


def test_cli_problem_lines_are_cleaned_of_terminal_controls(tmp_path, capsys):
    hostile = tmp_path / "evil\x1b[31m.jsonl"
    hostile.write_bytes(b'{"name": "x\\u001b]0;pwned\\u0007", "trace_id": "\\u001b[2J", "id": "1", "start_time": 1}\n')
    rc = main(["import", "--db", str(tmp_path / "h.db"), str(hostile)])
    out, err = capsys.readouterr()
    assert rc == 1
    assert "\x1b" not in out and "\x1b" not in err and "\x07" not in err


def test_in_progress_segment_is_replaced_by_its_completed_version(store, tmp_path):
    base = {
        "name": "batch-job",
        "id": "5000000000000001",
        "trace_id": f"1-{XRAY_TRACE[:8]}-{XRAY_TRACE[8:]}",
        "start_time": 1594231199.25,
    }
    path = tmp_path / "progress.jsonl"
    path.write_bytes(orjson.dumps({**base, "in_progress": True}) + b"\n")
    first = import_files([path], store)
    assert first.inserted == 1
    path.write_bytes(orjson.dumps({**base, "end_time": 1594231260.5, "fault": True}) + b"\n")
    second = import_files([path], store)
    assert (second.inserted, second.replaced) == (0, 1)
    (span,) = store.get_trace(XRAY_TRACE).spans
    assert not span.in_progress and span.end_ns == 1_594_231_260_500_000_000 and span.status is Status.FAULT
    path.write_bytes(orjson.dumps({**base, "in_progress": True}) + b"\n")
    assert import_files([path], store).unchanged == 1  # never the reverse


def test_cli_reads_stdin_gzip_or_not(tmp_path, capsys, monkeypatch):
    import io
    import sys

    data = (FIXTURES / REAL[1]).read_bytes()
    for payload in (data, gzip.compress(data)):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(payload))))
        rc = main(["import", "--db", str(tmp_path / "stdin.db"), "-"])
        out, _ = capsys.readouterr()
        assert rc == 0
        assert "- (xray): 2 spans" in out


def test_otlp_wrapped_in_result_as_jaeger_v3_answers(store, tmp_path):
    doc = orjson.loads((FIXTURES / REAL[0]).read_bytes())
    path = tmp_path / "v3.json"
    path.write_bytes(orjson.dumps({"result": doc}, option=orjson.OPT_INDENT_2))
    broken = tmp_path / "v3-bad.json"
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"] = "x"
    broken.write_bytes(orjson.dumps({"result": doc}))
    report = import_files([path, broken], store)
    assert [f.format for f in report.files] == ["otlp-json", "otlp-json"]
    assert report.spans == 1
    assert [p.position for p in report.problems] == ["line 1, result.resourceSpans[0].scopeSpans[0].spans[0]"]


def _gzip_bomb(path: Path, head: bytes, block: bytes, inflated_bytes: int, tail: bytes) -> None:
    """A gzip file of ``head``, then ``block`` repeated up to ``inflated_bytes``, then ``tail`` (streamed out)."""
    packer = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    with path.open("wb") as out:
        out.write(packer.compress(head))
        for _ in range(inflated_bytes // len(block)):
            out.write(packer.compress(block))
        out.write(packer.compress(tail))
        out.write(packer.flush())


def _varied_block() -> bytes:
    """1 MiB of JSON-ish text that compresses only about 3x, so a bomb made of it is under any ratio bound."""
    rng = random.Random(7)
    items = [b'{"a": "%08x"}, ' % rng.getrandbits(32) for _ in range(1024 * 1024 // 16)]
    return b"".join(items)[: 1024 * 1024]


def _import_in_subprocess(tmp_path: Path, bomb: Path) -> tuple[int, str, str, int]:
    """(exit status, stdout, stderr, peak RSS in bytes) of `spanscope import` run in its own process."""
    # VmHWM, not ru_maxrss: Linux carries the parent's high-water mark across fork and exec into ru_maxrss.
    script = (
        "import re, sys\n"
        "from spanscope.cli.main import main\n"
        "rc = main(sys.argv[1:])\n"
        "sys.stdout.flush()\n"
        "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)\n"
        "print('PEAK_RSS_KB', hwm, file=sys.stderr)\n"
        "sys.exit(rc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "import", "--db", str(tmp_path / "bomb.db"), str(bomb)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = done.stderr.splitlines()
    peak = [int(line.split()[1]) * 1024 for line in lines if line.startswith("PEAK_RSS_KB")]
    assert peak, done.stderr
    errors = "\n".join(line for line in lines if not line.startswith("PEAK_RSS_KB"))
    return done.returncode, done.stdout, errors, peak[0]


@pytest.mark.parametrize(
    ("head", "varied", "inflated_mib", "tail", "limit"),
    [
        # one JSON document of whitespace, 300 MiB from 0.3 MB: refused by the ratio bound
        (b'{"resourceSpans": [', False, 300, b"]}", "100x"),
        # JSON Lines whose second line is 96 MiB of text compressing 3x: refused by the one-line bound
        (b'{"resourceSpans": []}\n{"resourceSpans": [', True, 96, b"]}\n", "64 MiB"),
    ],
    ids=["ratio", "line"],
)
def test_a_gzip_bomb_is_refused_with_one_line_naming_file_and_limit_in_bounded_memory(
    tmp_path: Path, head: bytes, varied: bool, inflated_mib: int, tail: bytes, limit: str
) -> None:
    bomb = tmp_path / "bomb.json.gz"
    block = _varied_block() if varied else b" " * (1024 * 1024)
    _gzip_bomb(bomb, head, block, inflated_mib * 1024 * 1024, tail)
    rc, out, err, peak = _import_in_subprocess(tmp_path, bomb)
    assert rc == 1
    assert peak < 300 * 1024 * 1024, f"peak RSS {peak / 2**20:.0f} MiB"
    problems = [line for line in err.splitlines() if line.strip()]
    assert len(problems) == 1, err
    assert problems[0].startswith(f"{bomb}: refused: ") and limit in problems[0], problems[0]
    assert "1 problem(s)" in out
