"""Every engine gives the same report over one archive: local, duckdb and spark local[2]."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from spanscope.analysis.report import build_report
from spanscope.analysis.report_partial import ReportPartial, report_step
from spanscope.collectors.archive import write_traces
from spanscope.collectors.model import Kind, Status, Trace
from spanscope.engines import EngineError, run_engine
from spanscope.render.report_json import report_to_json

from tests.builders import build_spans


def _faulty_traces(n: int = 40) -> list[Trace]:
    traces = []
    for i in range(n):
        slow = 400 if i % 7 == 0 else 0
        rows = [
            (
                "root",
                None,
                0,
                1000 + slow,
                {
                    "service": "api",
                    "kind": Kind.SERVER,
                    "operation": "GET /orders",
                    "status": Status.FAULT if i % 5 == 0 else Status.OK,
                },
            ),
            (
                "db",
                "root",
                10,
                200 + slow,
                {
                    "service": "orders",
                    "kind": Kind.CLIENT,
                    "operation": "Query",
                    "namespace": "aws",
                    "remote_service": "DynamoDB",
                    "status": Status.THROTTLE if i % 5 == 0 else Status.OK,
                },
            ),
        ]
        rows += [
            (
                f"task{k}",
                "root",
                300,
                350 + (500 if (k == 3 and i % 4 == 0) else 10 * (k % 3)),
                {"service": "batch", "operation": "array-task", "attributes": {"spanscope.input.bytes": 1000}},
            )
            for k in range(8)
        ]
        if i % 3 == 0:
            rows.append(
                (
                    "lambda",
                    "root",
                    900,
                    990,
                    {"service": "fn", "operation": "handler", "attributes": {"faas.coldstart": i % 6 == 0}},
                )
            )
        spans = build_spans(rows, trace=f"trace{i}")
        offset = i * 60_000_000_000
        for s in spans:
            s.start_ns += offset
            s.end_ns += offset
        traces.append(Trace(spans[0].trace_id, spans))
    return traces


def _json(report: object) -> str:
    return json.dumps(report_to_json(report), sort_keys=True)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[Trace]]:
    root = tmp_path_factory.mktemp("archive")
    traces = _faulty_traces()
    write_traces(traces[:25], str(root))
    write_traces(traces[25:], str(root))
    # A trace archived again with a late span: the newest copy must win in every engine.
    write_traces([traces[3]], str(root))
    return str(root), traces


def test_partial_merge_is_associative() -> None:
    traces = _faulty_traces(9)
    parts = [report_step(t) for t in traces]
    left = ReportPartial()
    for p in [report_step(t) for t in traces]:
        left.merge(p)
    a = ReportPartial().merge(parts[0]).merge(parts[1]).merge(parts[2])
    b = ReportPartial().merge(parts[3]).merge(parts[4]).merge(parts[5])
    c = ReportPartial().merge(parts[6]).merge(parts[7]).merge(parts[8])
    right = a.merge(b.merge(c))
    assert _json(left.finish()) == _json(right.finish())


def test_local_engine_equals_in_process_report(archive: tuple[str, list[Trace]]) -> None:
    root, traces = archive
    engine = run_engine("local", root)
    direct = build_report(traces, service_map=False)
    assert engine.traces == direct.traces == len(traces)
    doc_engine = report_to_json(engine)
    doc_direct = report_to_json(direct)
    for key in ("hotspots", "failure_chains", "stragglers", "cold_starts"):
        assert doc_engine[key] == doc_direct[key], key


def test_duckdb_equals_local(archive: tuple[str, list[Trace]]) -> None:
    pytest.importorskip("duckdb")
    root, _ = archive
    assert _json(run_engine("duckdb", root)) == _json(run_engine("local", root))


def test_duckdb_takes_newest_copy_and_groups_interleaved_rows(tmp_path: Path) -> None:
    """A file whose traces' rows are interleaved is grouped whole; a trace archived again with a late span is
    reported from its newest copy only, whichever file holds the older one."""
    pytest.importorskip("duckdb")
    import random
    import time

    import pyarrow as pa
    import pyarrow.parquet as pq
    from spanscope.collectors.archive.schema import ARCHIVE_SCHEMA, span_to_row
    from spanscope.collectors.archive.writer import partition_of

    traces = _faulty_traces(12)
    root = tmp_path / "archive"
    write_traces(traces[:6], str(root))
    rows = [span_to_row(s, t.start_ns) for t in traces[6:] for s in t.canonical()]
    random.Random(3).shuffle(rows)
    folder = root / partition_of(traces[6].start_ns)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"part-{time.time_ns():020d}-interleaved.parquet"  # the writer's naming: write time first
    pq.write_table(pa.Table.from_pylist(rows, schema=ARCHIVE_SCHEMA), folder / name)
    late = traces[2]
    extra = build_spans([("late", None, 5000, 9000, {"service": "late-svc", "operation": "late-op"})], trace="late")
    for span in extra:
        span.trace_id, span.start_ns, span.end_ns = late.trace_id, late.start_ns + 5000, late.start_ns + 9000
    newer = Trace(late.trace_id, [*late.spans, *extra])
    write_traces([newer], str(root))
    expected = [newer if t.trace_id == late.trace_id else t for t in traces]

    via_duckdb = run_engine("duckdb", str(root))
    assert via_duckdb.traces == len(traces)
    assert _json(via_duckdb) == _json(run_engine("local", str(root)))
    hotspots = report_to_json(via_duckdb)["hotspots"]
    assert hotspots == report_to_json(build_report(expected, service_map=False))["hotspots"]
    assert any(h["service"] == "late-svc" for h in hotspots)


@pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs Java")
def test_spark_local_equals_local(archive: tuple[str, list[Trace]]) -> None:
    pytest.importorskip("pyspark")
    pytest.importorskip("pandas")
    root, _ = archive
    assert _json(run_engine("spark", root, spark_master="local[2]")) == _json(run_engine("local", root))


def test_unknown_engine_and_empty_source(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="no archive files"):
        run_engine("local", str(tmp_path))
    write_traces(_faulty_traces(1), str(tmp_path))
    with pytest.raises(EngineError, match="unknown engine"):
        run_engine("flink", str(tmp_path))


def test_two_collectors_with_disjoint_trace_ids_equal_one(tmp_path: Path) -> None:
    """The ingest topology: trace-id routing to N collectors writing one archive loses nothing."""
    from spanscope.collectors.archive.roller import ArchiveRoller
    from spanscope.collectors.store import open_store

    traces = _faulty_traces(30)
    shared = str(tmp_path / "shared-archive")
    single = str(tmp_path / "single-archive")
    for name, subset in (("a", traces[0::2]), ("b", traces[1::2])):
        with open_store(tmp_path / f"{name}.db") as store:
            store.write_spans([s for t in subset for s in t.spans])
            ArchiveRoller(store, shared).roll_once(flush=True)
    with open_store(tmp_path / "all.db") as store:
        store.write_spans([s for t in traces for s in t.spans])
        ArchiveRoller(store, single).roll_once(flush=True)
    assert _json(run_engine("local", shared)) == _json(run_engine("local", single))
    assert run_engine("duckdb", shared).traces == 30


def test_analyze_command_with_engines(archive: tuple[str, list[Trace]], capsys: pytest.CaptureFixture[str]) -> None:
    from spanscope.cli.main import main

    root, _ = archive
    assert main(["analyze", "--engine", "duckdb", "--source", root, "--format", "json"]) == 0
    via_duckdb = json.loads(capsys.readouterr().out)
    assert main(["analyze", "--engine", "local", "--source", root, "--format", "json"]) == 0
    via_local = json.loads(capsys.readouterr().out)
    assert via_duckdb["hotspots"] == via_local["hotspots"] and via_local["failure_chains"]
    assert main(["analyze", "--engine", "local", "--source", root]) == 0
    assert "#" in capsys.readouterr().out
    assert main(["analyze", "--engine", "local"]) == 2
    assert main(["analyze", "--engine", "local", "--source", root, "--filter", "fault"]) == 2


def test_two_real_collectors_routed_by_trace_id_equal_one(tmp_path: Path) -> None:
    """The same, end to end: collectors with --archive, fed over OTLP/HTTP, stopped (which rolls quiet traces)."""
    import urllib.request

    from spanscope.collectors.collector import BackgroundCollector, CollectorConfig
    from spanscope.collectors.formats.otlp_proto import spans_to_request

    traces = _faulty_traces(20)

    def run(name: str, archive: str, subset: list[Trace]) -> None:
        config = CollectorConfig(
            db_path=tmp_path / f"{name}.db",
            xray_udp=None,
            otlp_grpc=None,
            otlp_http=("127.0.0.1", 0),
            archive=archive,
            archive_quiet_s=0.0,
            archive_interval_s=3600.0,
            log_interval_s=0.0,
        )
        with BackgroundCollector(config) as collector:
            host, port = collector.addresses["otlp_http"]
            for trace in subset:
                body = spans_to_request(trace.spans).SerializeToString()
                request = urllib.request.Request(
                    f"http://{host}:{port}/v1/traces", data=body, headers={"Content-Type": "application/x-protobuf"}
                )
                with urllib.request.urlopen(request, timeout=30) as response:
                    assert response.status == 200

    shared = str(tmp_path / "shared")
    run("a", shared, [t for i, t in enumerate(traces) if int(t.trace_id, 16) % 2 == 0])
    run("b", shared, [t for i, t in enumerate(traces) if int(t.trace_id, 16) % 2 == 1])
    run("all", str(tmp_path / "single"), traces)
    assert run_engine("local", shared).traces == 20
    assert _json(run_engine("local", shared)) == _json(run_engine("local", str(tmp_path / "single")))


def test_sketched_percentiles_agree_across_engines_and_with_exact(archive: tuple[str, list[Trace]]) -> None:
    pytest.importorskip("duckdb")
    root, _ = archive
    sketched = run_engine("local", root, percentiles="sketch")
    assert _json(run_engine("duckdb", root, percentiles="sketch")) == _json(sketched)
    exact = {(h.service, h.operation): h for h in run_engine("local", root, percentiles="exact").hotspots}
    assert [(h.service, h.operation, h.count) for h in sketched.hotspots] == [
        (k[0], k[1], h.count) for k, h in exact.items()
    ]
    for h in sketched.hotspots:
        e = exact[(h.service, h.operation)]
        for got, want in ((h.p50_ns, e.p50_ns), (h.p95_ns, e.p95_ns), (h.p99_ns, e.p99_ns)):
            assert abs(got - want) <= 0.011 * want + 1, (h.operation, got, want)
    with pytest.raises(EngineError):
        run_engine("local", root, percentiles="median")  # type: ignore[arg-type]
