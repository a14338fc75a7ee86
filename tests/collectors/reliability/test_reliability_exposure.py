"""Exposure: loopback by default, tokens decided by a constant-time comparison, no path from span data written.

- ``CollectorConfig()`` and ``spanscope collect`` with no address options bind only loopback, and a
  non-loopback bind without a token is warned about.
- ``hmac.compare_digest`` is what decides a bearer token, on OTLP/HTTP and OTLP/gRPC: replacing it
  flips the outcome (so no ``==`` short-circuits it).
- Spans whose service, name, attributes, annotations and resource hold ``../`` paths, absolute paths
  and NULs go through every receiver (X-Ray UDP, OTLP/HTTP protobuf, gzip and JSON, OTLP/gRPC) with
  forwarding and the Parquet archive on; the only files created are the store, its SQLite sidecars,
  the forward queue, the archive cursor and time-partitioned archive files.
"""

from __future__ import annotations

import argparse
import gzip
import hmac
import os
import re
import socket
import time
from pathlib import Path

import grpc
import orjson
import pytest
import requests
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from spanscope.cli import cmd_collect
from spanscope.collectors.collector import BackgroundCollector, Collector, CollectorConfig
from spanscope.collectors.formats.otlp_json_out import request_from_spans
from spanscope.collectors.formats.otlp_proto import spans_to_request
from spanscope.collectors.formats.xray_out import document_from_span
from spanscope.collectors.model import Kind, Span, SpanEvent, SpanLink
from spanscope.collectors.receivers import auth
from spanscope.collectors.receivers.auth import is_loopback, token_matches
from spanscope.collectors.store import open_store

from tests.builders import LOOPBACK, all_receivers_config, collector_config

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
BASE_NS = 1_763_700_000_000_000_000


# --- loopback by default ---------------------------------------------------------------------------------


def test_collector_config_defaults_are_loopback() -> None:
    config = CollectorConfig()
    for address in (config.xray_udp, config.otlp_http, config.otlp_grpc):
        assert address is not None and is_loopback(address[0])


def test_cli_defaults_are_loopback(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    cmd_collect.register(parser.add_subparsers())
    args = parser.parse_args(["collect", "--db", str(tmp_path / "s.db")])
    config = cmd_collect._config(args)
    for address in (config.xray_udp, config.otlp_http, config.otlp_grpc):
        assert address is not None and address[0] == "127.0.0.1"
    # a bare port also means loopback
    args = parser.parse_args(["collect", "--db", str(tmp_path / "s.db"), "--otlp-http", "4318", "--xray-udp", ":0"])
    config = cmd_collect._config(args)
    assert config.otlp_http == ("127.0.0.1", 4318) and config.xray_udp == ("127.0.0.1", 0)


def test_non_loopback_without_token_is_warned(tmp_path: Path) -> None:
    # judged on the bound addresses; nothing is bound to a public interface in this test
    collector = Collector(CollectorConfig(db_path=tmp_path / "s.db"))
    collector.addresses = {"xray_udp": ("0.0.0.0", 2000), "otlp_http": ("::", 4318), "otlp_grpc": ("127.0.0.1", 4317)}
    collector._check_exposure()
    assert any("X-Ray UDP" in w and "0.0.0.0" in w for w in collector.warnings)
    assert any("otlp_http" in w and "--auth-token" in w for w in collector.warnings)
    assert not any("otlp_grpc" in w for w in collector.warnings)
    with_token = Collector(CollectorConfig(db_path=tmp_path / "s.db", auth_token="t"))
    with_token.addresses = {"otlp_http": ("0.0.0.0", 4318)}
    with_token._check_exposure()
    assert with_token.warnings == []


# --- constant-time token comparison ----------------------------------------------------------------------


def test_token_matches_is_decided_by_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    assert token_matches("s3cret", "Bearer s3cret")
    assert not token_matches("s3cret", "Bearer s3creX")
    assert not token_matches("s3cret", "Bearer s")  # a length difference also goes through it
    assert len(calls) == 3
    monkeypatch.setattr(auth.hmac, "compare_digest", lambda a, b: not real(a, b))
    assert not token_matches("s3cret", "Bearer s3cret")
    assert token_matches("s3cret", "Bearer wrong")


def test_receivers_use_the_constant_time_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = collector_config(tmp_path / "s.db", otlp_grpc=LOOPBACK, auth_token="s3cret")
    body = spans_to_request([_span("a", "svc", "op")]).SerializeToString()
    headers = {"Content-Type": "application/x-protobuf"}
    with BackgroundCollector(config) as collector:
        url = "http://{}:{}/v1/traces".format(*collector.addresses["otlp_http"])
        channel = grpc.insecure_channel("{}:{}".format(*collector.addresses["otlp_grpc"]))
        export = channel.unary_unary(EXPORT, response_deserializer=ExportTraceServiceResponse.FromString)

        def outcomes(token: str) -> tuple[int, bool]:
            status = requests.post(url, data=body, headers={**headers, "Authorization": f"Bearer {token}"}).status_code
            try:
                export(body, metadata=(("authorization", f"Bearer {token}"),), timeout=30)
                ok = True
            except grpc.RpcError as err:
                assert err.code() == grpc.StatusCode.UNAUTHENTICATED
                ok = False
            return status, ok

        assert outcomes("s3cret") == (200, True)
        assert outcomes("wrong") == (401, False)
        real = hmac.compare_digest
        monkeypatch.setattr(auth.hmac, "compare_digest", lambda a, b: not real(a, b))
        assert outcomes("wrong") == (200, True)  # the comparison, and only it, decides
        assert outcomes("s3cret") == (401, False)
        channel.close()


# --- no path from span data is written -------------------------------------------------------------------


def _hostile_texts(outside: Path) -> list[str]:
    return [
        "../../../../../../tmp/spanscope-pwned",
        "../" * 8 + str(outside / "rel").lstrip("/"),
        str(outside / "abs"),
        str(outside / "nul\x00after"),
        "spans.db/../../evil",
        "..\\..\\windows\\evil",
        "a/b/c",
        "~/.ssh/authorized_keys",
        "\x00",
    ]


def _span(tag: str, service: str, name: str, **extra: object) -> Span:
    digest = abs(hash((tag, service, name))) % (2**60) + 1
    return Span(
        trace_id=f"{BASE_NS // 10**9:08x}{digest:024x}",
        span_id=f"{digest:016x}",
        parent_id=None,
        service=service,
        name=name,
        kind=Kind.SERVER,
        start_ns=BASE_NS,
        end_ns=BASE_NS + 1000,
        **extra,  # type: ignore[arg-type]
    )


def _files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_span_data_never_names_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    outside = tmp_path / "outside"
    monkeypatch.chdir(work)  # relative paths from span data would land here
    texts = _hostile_texts(outside)
    spans = []
    for i, text in enumerate(texts):
        spans.append(
            _span(
                f"h{i}",
                text,
                text,
                attributes={"file.path": text, text: text, "url.full": f"file://{text}"},
                annotations={"path": text},
                resource={"service.name": text, "log.file.path": text, "spanscope.location": text},
                events=[SpanEvent(text, BASE_NS + 1, {"path": text})],
                links=[SpanLink(f"{BASE_NS // 10**9:08x}{'1' * 24}", "2" * 16, {"path": text})],
            )
        )
    db = work / "spans.db"
    config = all_receivers_config(
        db,
        forward_otlp="http://127.0.0.1:9/v1/traces",  # unreachable: the forward queue keeps the spans
        archive=str(work / "archive"),
        archive_quiet_s=0,
        archive_interval_s=3600,
    )
    before_tmp = set(os.listdir("/tmp"))
    with BackgroundCollector(config) as collector:
        url = "http://{}:{}/v1/traces".format(*collector.addresses["otlp_http"])
        proto = spans_to_request(spans).SerializeToString()
        for data, headers in (
            (proto, {"Content-Type": "application/x-protobuf"}),
            (gzip.compress(proto), {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}),
            (orjson.dumps(request_from_spans(spans)), {"Content-Type": "application/json"}),
        ):
            assert requests.post(url, data=data, headers=headers, timeout=30).status_code == 200
        with grpc.insecure_channel("{}:{}".format(*collector.addresses["otlp_grpc"])) as channel:
            export = channel.unary_unary(EXPORT, response_deserializer=ExportTraceServiceResponse.FromString)
            export(proto, timeout=30)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for span in spans:
                doc = document_from_span(span)
                doc["name"] = span.service  # the raw hostile text, not the sanitized one
                sock.sendto(b'{"format":"json","version":1}\n' + orjson.dumps(doc), collector.addresses["xray_udp"])
        deadline = time.monotonic() + 20
        while collector.counters.get("xray_udp.received") < len(spans) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert collector.counters.get("xray_udp.received") == len(spans)
        assert collector.counters.get("otlp_http.accepted") == 3
        assert collector.counters.get("otlp_grpc.accepted") == 1
        collector.service_map_json()  # the map sees the names too
        rolled = collector.archive_roller.roll_once(flush=True)  # and the Parquet archive
        assert rolled.traces == len(spans)
    with open_store(db, readonly=True) as store:
        assert {s.service for t in store.iter_traces() for s in t.spans} >= {t for t in texts if "\x00" not in t}
    known = {"spans.db", "spans.db-wal", "spans.db-shm"}
    queue = "spans.db.forward-otlp-queue.sqlite"
    known |= {queue, queue + "-wal", queue + "-shm", queue + "-journal", "spans.db.archive-cursor.json", "archive"}
    archived = {f for f in _files_under(work) if f.startswith("archive/")}
    part = re.compile(r"archive/date=\d{4}-\d\d-\d\d(/hour=\d\d(/part-\d{20}-[0-9a-f]{12}\.parquet)?)?")
    assert archived and all(part.fullmatch(f) for f in archived), archived
    assert _files_under(work) - archived <= known, _files_under(work) - archived - known
    assert "spans.db" in _files_under(work)
    assert not outside.exists()
    assert set(os.listdir(tmp_path)) == {"work"}
    new_in_tmp = {n for n in set(os.listdir("/tmp")) - before_tmp if "pwned" in n or "evil" in n}
    assert not new_in_tmp
