"""The Parquet archive: lossless round trip, partitions, no half-written files, newest copy wins, s3:// on moto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from spanscope.cli.main import main
from spanscope.collectors.archive import iter_archive_traces, list_archive_files, write_traces
from spanscope.collectors.archive.writer import ArchiveError
from spanscope.collectors.model import Kind, SpanEvent, SpanException, Status, Trace
from spanscope.collectors.store import open_store

from tests.builders import build_spans, trace_id_for


def _rich_trace(label: str = "t", start_ms: float = 0) -> Trace:
    spans = build_spans(
        [
            (
                "root",
                None,
                start_ms,
                start_ms + 100,
                {
                    "service": "api",
                    "kind": Kind.SERVER,
                    "annotations": {"customer": "c1", "n": 3},
                    "resource": {"cloud.region": "eu-west-1"},
                },
            ),
            (
                "db",
                "root",
                start_ms + 10,
                start_ms + 40,
                {
                    "service": "api",
                    "kind": Kind.CLIENT,
                    "status": Status.THROTTLE,
                    "namespace": "aws",
                    "remote_service": "DynamoDB",
                    "attributes": {"big": 2**70 + 1, "neg": -(2**64), "f": 0.5, "l": [1, 2], "b": False},
                },
            ),
            (
                "w",
                "root",
                start_ms + 50,
                start_ms + 90,
                {"service": "worker", "links": [("other", "p")], "in_progress": True},
            ),
        ],
        trace=label,
    )
    spans[1].events.append(SpanEvent("retry", spans[1].start_ns + 1, {"attempt": 1}))
    spans[1].exceptions.append(SpanException("ThrottlingException", "slow down", "tb", True, spans[1].end_ns))
    return Trace(spans[0].trace_id, spans)


def test_round_trip_is_lossless(tmp_path: Path) -> None:
    trace = _rich_trace()
    result = write_traces([trace], str(tmp_path / "arch"))
    assert result.traces == 1 and result.spans == 3 and len(result.files) == 1
    assert "/date=2025-11-21/hour=04/" in result.files[0]
    (back,) = list(iter_archive_traces(str(tmp_path / "arch")))
    assert sorted(back.spans, key=lambda s: s.span_id) == sorted(trace.spans, key=lambda s: s.span_id)


def test_partition_follows_trace_start(tmp_path: Path) -> None:
    late = _rich_trace("late", start_ms=3_600_000 * 2)
    result = write_traces([_rich_trace("early"), late], str(tmp_path))
    assert sorted(f.split("/date=")[1].split("/part-")[0] for f in result.files) == [
        "2025-11-21/hour=04",
        "2025-11-21/hour=06",
    ]


def test_temporary_and_hidden_files_are_invisible(tmp_path: Path) -> None:
    write_traces([_rich_trace()], str(tmp_path))
    part = next(tmp_path.rglob("*.parquet")).parent
    (part / ".part-999.parquet.tmp").write_bytes(b"half written")
    (part / "_SUCCESS").write_bytes(b"")
    assert len(list_archive_files(str(tmp_path))) == 1
    assert len(list(iter_archive_traces(str(tmp_path)))) == 1


def test_newest_copy_of_a_trace_wins(tmp_path: Path) -> None:
    first = Trace(trace_id_for("t"), build_spans([("root", None, 0, 10)]))
    write_traces([first], str(tmp_path))
    again = Trace(trace_id_for("t"), build_spans([("root", None, 0, 10), ("late", "root", 2, 3)]))
    write_traces([again], str(tmp_path))
    (back,) = list(iter_archive_traces(str(tmp_path)))
    assert len(back.spans) == 2


def test_unreadable_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ArchiveError, match="cannot write archive file"):
        write_traces([_rich_trace()], str(blocker))


def test_export_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "s.db"
    with open_store(db) as store:
        store.write_spans(_rich_trace("a").spans + _rich_trace("b", 5000).spans)
    assert main(["export", "--db", str(db), "--format", "parquet", str(tmp_path / "pq")]) == 0
    assert "exported 2 traces (6 spans)" in capsys.readouterr().out
    assert {t.trace_id for t in iter_archive_traces(str(tmp_path / "pq"))} == {trace_id_for("a"), trace_id_for("b")}
    assert main(["export", "--db", str(db), "--format", "otlp-json", str(tmp_path / "otlp")]) == 0
    lines = (tmp_path / "otlp" / "traces.otlp.jsonl").read_text().splitlines()
    doc = json.loads(lines[0])
    spans = [s for rs in doc["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
    assert len(spans) == 6 and all(len(s["traceId"]) == 32 for s in spans)


def test_otlp_json_export_imports_back(tmp_path: Path) -> None:
    from spanscope.collectors.formats.otlp_json import parse_request
    from spanscope.collectors.formats.otlp_json_out import request_from_spans

    trace = _rich_trace()
    parsed = parse_request(json.loads(json.dumps(request_from_spans(trace.spans))))
    assert not parsed.errors
    by_id = {s.span_id: s for s in parsed.spans}
    for original in trace.spans:
        back = by_id[original.span_id]
        assert (back.parent_id, back.name, back.kind, back.start_ns, back.service) == (
            original.parent_id,
            original.name,
            original.kind,
            original.start_ns,
            original.service,
        )
        assert back.annotations == original.annotations
        assert back.in_progress == original.in_progress
        assert [x.type for x in back.exceptions] == [x.type for x in original.exceptions]


def test_s3_archive_on_moto_server(tmp_path: Path) -> None:
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        s3 = boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
        )
        s3.create_bucket(Bucket="spans")
        url = f"s3://test:test@spans/archive?scheme=http&endpoint_override={host}:{port}&region=us-east-1"
        write_traces([_rich_trace("a"), make_trace_b()], url)
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="spans")["Contents"]]
        assert all(k.startswith("archive/date=") and k.endswith(".parquet") for k in keys)
        assert {t.trace_id for t in iter_archive_traces(url)} == {trace_id_for("a"), trace_id_for("b")}
    finally:
        server.stop()


def make_trace_b() -> Trace:
    return _rich_trace("b", 10)


def test_roller_archives_complete_quiet_traces_once(tmp_path: Path) -> None:
    from spanscope.collectors.archive.roller import ArchiveRoller

    db = tmp_path / "s.db"
    root = str(tmp_path / "arch")
    done = build_spans([("a", None, 0, 10)], trace="done")
    pending = build_spans([("b", None, 0, 10, {"in_progress": True})], trace="pending")
    with open_store(db) as store:
        store.write_spans(done + pending)
        roller = ArchiveRoller(store, root, quiet_s=60)
        end = done[0].end_ns
        assert roller.roll_once(now_ns=end + 1).traces == 0  # not quiet yet
        assert roller.roll_once(now_ns=end + 61 * 10**9).traces == 1  # done; pending blocks the cursor
        assert roller.roll_once(now_ns=end + 62 * 10**9).traces == 0  # not rolled twice
        store.write_spans(build_spans([("b", None, 0, 20)], trace="pending"))
        restarted = ArchiveRoller(store, root, quiet_s=60)  # the cursor survives a restart
        assert restarted.roll_once(now_ns=end + 100 * 10**9).traces == 1
    assert {t.trace_id for t in iter_archive_traces(root)} == {trace_id_for("done"), trace_id_for("pending")}


def test_column_reader_reads_back_what_was_written(tmp_path: Path) -> None:
    """spans_from_batch (columns at a time, resources parsed once) reads back every span exactly, NaN included."""
    import pyarrow.parquet as pq
    from spanscope.collectors.archive.schema import COLUMNS, spans_from_batch

    traces = [_rich_trace("a"), _rich_trace("b", 500)]
    traces[1].spans[0].attributes["nan"] = float("nan")
    write_traces(traces, str(tmp_path))
    (path,) = list_archive_files(str(tmp_path))
    table = pq.read_table(path)
    by_columns = spans_from_batch(table)
    assert sorted(repr(s) for s in by_columns) == sorted(repr(s) for t in traces for s in t.spans)
    with pytest.raises(ValueError, match=r"lacks column.*links"):
        spans_from_batch(table.select([c for c in COLUMNS if c != "links"]))
