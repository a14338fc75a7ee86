"""Poison spans found by ``bench_fuzz``: out-of-range times are rejected records, never a failed batch or a hang.

Before the fix a span whose time did not fit SQLite's signed 64-bit integers (OTLP fixed64 times at
or above 2^63, OTLP JSON strings of any size, X-Ray seconds like 1e30) made ``store.write_spans``
raise: the whole writer batch failed, every request in it got 503 and the poison request was
retried forever; an X-Ray time written as the string "1e99999999" built a hundred-million-digit
integer. Now each is a rejected record (partial success / ``invalid_segment``) and its neighbours
are stored.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import grpc
import orjson
import requests
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from spanscope.collectors.collector import BackgroundCollector
from spanscope.collectors.formats.otlp_json_out import request_from_spans
from spanscope.collectors.formats.otlp_proto import spans_to_request
from spanscope.collectors.store import open_store

from tests.builders import all_receivers_config, make_span, trace_id_for

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
HEADER = b'{"format":"json","version":1}\n'


def _pair(label: str):
    good = make_span(f"{label}-good", None, 0, 5, trace=label, service="api")
    bad = make_span(f"{label}-bad", None, 0, 5, trace=label, service="api")
    return good, bad


def test_out_of_range_times_are_rejected_records_and_neighbours_are_stored(tmp_path: Path) -> None:
    db = tmp_path / "spans.db"
    with BackgroundCollector(all_receivers_config(db)) as collector:
        url = "http://{}:{}/v1/traces".format(*collector.addresses["otlp_http"])
        # OTLP protobuf (HTTP and gRPC): fixed64 times at or above 2^63
        for label, end in (("proto", 2**63), ("grpc", 2**64 - 1)):
            good, bad = _pair(label)
            req = spans_to_request([good, bad])
            req.resource_spans[0].scope_spans[0].spans[1].end_time_unix_nano = end
            if label == "proto":
                reply = requests.post(
                    url, data=req.SerializeToString(), headers={"Content-Type": "application/x-protobuf"}, timeout=30
                )
                assert reply.status_code == 200
                assert ExportTraceServiceResponse.FromString(reply.content).partial_success.rejected_spans == 1
            else:
                with grpc.insecure_channel("{}:{}".format(*collector.addresses["otlp_grpc"])) as channel:
                    export = channel.unary_unary(EXPORT, response_deserializer=ExportTraceServiceResponse.FromString)
                    assert export(req.SerializeToString(), timeout=30).partial_success.rejected_spans == 1
        # OTLP JSON: a time string far beyond 64 bits
        good, bad = _pair("json")
        doc = request_from_spans([good, bad])
        doc["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["startTimeUnixNano"] = "9" * 40
        reply = requests.post(url, data=orjson.dumps(doc), headers={"Content-Type": "application/json"}, timeout=30)
        assert reply.status_code == 200
        assert reply.json()["partialSuccess"]["rejectedSpans"] == "1"
        # X-Ray: times of 1e30 s and the string "1e99999999" (must not build a huge integer)
        good, _bad = _pair("xray")
        datagrams = [
            HEADER + orjson.dumps({"trace_id": "1-5759e988-bd862e3fe1be46a994272793", "id": "a" * 16, "name": "x",
                                   "start_time": 1e30, "end_time": 1e30}),
            HEADER + orjson.dumps({"trace_id": "1-5759e988-bd862e3fe1be46a994272793", "id": "b" * 16, "name": "x",
                                   "start_time": "1e99999999", "end_time": 2}),
            HEADER + orjson.dumps({"trace_id": "1-" + good.trace_id[:8] + "-" + good.trace_id[8:], "id": good.span_id,
                                   "name": "api", "start_time": 1763700000.0, "end_time": 1763700001.0}),
        ]  # fmt: skip
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for data in datagrams:
                sock.sendto(data, collector.addresses["xray_udp"])
        deadline = time.monotonic() + 30
        while collector.counters.get("xray_udp.received") < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        counters = collector.counters.snapshot()
    assert counters.get("xray_udp.rejected:invalid_segment") == 2
    assert counters.get("xray_udp.accepted") == 1
    assert counters.get("writer.failed_batches", 0) == 0
    assert not any(k.endswith(":store_error") for k in counters)
    with open_store(db, readonly=True) as store:
        for label in ("proto", "grpc", "json", "xray"):
            assert [s.name for s in store.get_trace(trace_id_for(label)).spans] in (
                [f"{label}-good"],
                ["api"],
            ), label


class RefusingStore:
    """A real store that raises on any batch holding a span named "poison" (a store failure we cannot foresee)."""

    def __init__(self, path: Path) -> None:
        self.inner = open_store(path)

    def write_spans(self, spans):
        if any(s.name == "poison" for s in spans):
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        return self.inner.write_spans(spans)


def test_a_submission_the_store_refuses_fails_only_itself(tmp_path: Path) -> None:
    from spanscope.collectors.receivers.counters import Counters
    from spanscope.collectors.receivers.writer import BatchWriter

    store = RefusingStore(tmp_path / "spans.db")
    counters = Counters()
    writer = BatchWriter(store, counters)
    outcomes: dict[str, BaseException | None] = {}
    committed: list[str] = []
    writer.add_hook(lambda spans: committed.extend(s.name for s in spans))
    submissions = {
        "first": [make_span("a", None, 0, 1, trace="first")],
        "bad": [make_span("p", None, 0, 1, trace="bad", operation="poison"), make_span("q", "p", 0, 1, trace="bad")],
        "udp": [make_span("u", None, 0, 1, trace="udp")],  # no callback, like the UDP receiver
        "last": [make_span("z", None, 0, 1, trace="last")],
    }
    for label, spans in submissions.items():  # queued before the writer starts: one batch
        done = None if label == "udp" else (lambda exc, label=label: outcomes.__setitem__(label, exc))
        assert writer.submit(spans, done)
    writer.start()
    writer.close(30)
    assert outcomes["first"] is None and outcomes["last"] is None
    assert isinstance(outcomes["bad"], OverflowError)
    assert sorted(committed) == ["a", "u", "z"]
    assert counters.get("writer.spans") == 3 and counters.get("writer.failed_spans") == 2
    with open_store(tmp_path / "spans.db", readonly=True) as reader:
        assert reader.span_count() == 3
    store.inner.close()
