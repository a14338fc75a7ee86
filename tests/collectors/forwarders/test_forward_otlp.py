"""Forwarding as OTLP/HTTP to a second spanscope collector; the on-disk queue survives restarts; evictions counted."""

from __future__ import annotations

from pathlib import Path

from spanscope.collectors.collector import BackgroundCollector, Collector, CollectorConfig
from spanscope.collectors.forwarders.disk_queue import DiskQueue
from spanscope.collectors.forwarders.otlp import OTLPForwarder
from spanscope.collectors.model import Kind, Status
from spanscope.collectors.receivers.counters import Counters

from tests.builders import collector_config, make_span, post_otlp, trace_id_for
from tests.waiting import wait_for


def http_only(db: Path, port: int = 0, **extra) -> CollectorConfig:
    return collector_config(db, otlp_http=("127.0.0.1", port), **extra)


def post(collector: Collector, spans) -> None:
    assert post_otlp(collector.addresses["otlp_http"], spans).status_code == 200


def sample_spans(label: str):
    return [
        make_span(
            "root",
            None,
            0,
            50,
            trace=label,
            service="web",
            kind=Kind.SERVER,
            attributes={"http.request.method": "GET", "n": 3},
        ),
        make_span(
            "ddb",
            "root",
            5,
            20,
            trace=label,
            service="web",
            kind=Kind.CLIENT,
            status=Status.FAULT,
            attributes={"rpc.system": "aws-api", "rpc.service": "DynamoDB"},
            links=[("other", "producer")],
        ),
    ]


def test_spans_are_forwarded_to_a_second_collector(tmp_path: Path) -> None:
    with BackgroundCollector(http_only(tmp_path / "b.db")) as downstream:
        host, port = downstream.addresses["otlp_http"]
        config = http_only(tmp_path / "a.db", forward_otlp=f"http://{host}:{port}")
        with BackgroundCollector(config) as upstream:
            sent = sample_spans("fwd")
            post(upstream, sent)
            wait_for(
                lambda: (
                    downstream.store.find_trace(trace_id_for("fwd")) is not None
                    and len(downstream.store.get_trace(trace_id_for("fwd")).spans) == 2
                ),
                timeout_s=20,
            )
            wait_for(lambda: upstream.counters.get("forward_otlp.sent") >= 1, timeout_s=20)
        got = {s.span_id: s for s in downstream.store.get_trace(trace_id_for("fwd")).spans}
        for original in sent:
            copy = got[original.span_id]
            assert (copy.parent_id, copy.name, copy.service, copy.kind, copy.status) == (
                original.parent_id,
                original.name,
                original.service,
                original.kind,
                original.status,
            )
            assert (copy.start_ns, copy.end_ns) == (original.start_ns, original.end_ns)
            assert copy.attributes == original.attributes
            assert [(k.trace_id, k.span_id) for k in copy.links] == [(k.trace_id, k.span_id) for k in original.links]


def test_queue_survives_a_restart_while_the_destination_is_down(tmp_path: Path) -> None:
    downstream_db = tmp_path / "b.db"
    with BackgroundCollector(http_only(downstream_db)) as downstream:
        port = downstream.addresses["otlp_http"][1]
    # downstream is now down: the upstream collector must keep what it cannot send
    config = http_only(
        tmp_path / "a.db",
        forward_otlp=f"http://127.0.0.1:{port}/v1/traces",
        forward_backoff_base_s=0.05,
        forward_backoff_cap_s=0.5,
    )
    with BackgroundCollector(config) as upstream:
        post(upstream, sample_spans("later"))
        wait_for(lambda: upstream.counters.get("forward_otlp.retries") >= 1, timeout_s=20)
        assert upstream.forwarders[0].queue.depth == 1
    queue_files = list(tmp_path.glob("a.db.forward-otlp-queue.sqlite"))
    assert queue_files, list(tmp_path.iterdir())
    with BackgroundCollector(http_only(downstream_db, port=port)) as downstream:
        with BackgroundCollector(config) as upstream:
            wait_for(lambda: downstream.store.find_trace(trace_id_for("later")) is not None, timeout_s=20)
            wait_for(lambda: upstream.forwarders[0].queue.depth == 0, timeout_s=20)
        assert len(downstream.store.get_trace(trace_id_for("later")).spans) == 2


def test_refused_payloads_are_dropped_and_counted_not_retried(tmp_path: Path) -> None:
    with BackgroundCollector(http_only(tmp_path / "b.db", auth_token="needed")) as downstream:
        host, port = downstream.addresses["otlp_http"]
        with BackgroundCollector(http_only(tmp_path / "a.db", forward_otlp=f"http://{host}:{port}")) as upstream:
            post(upstream, sample_spans("refused"))
            wait_for(lambda: upstream.counters.get("forward_otlp.dropped:401") == 1, timeout_s=20)
            assert upstream.forwarders[0].queue.depth == 0


def test_disk_queue_is_bounded_and_counts_evictions(tmp_path: Path) -> None:
    queue = DiskQueue(tmp_path / "q.sqlite", max_bytes=1000)
    assert queue.put([b"x" * 400, b"y" * 400]) == 0
    assert queue.put([b"z" * 400]) == 1  # the oldest goes
    row = queue.next_due()
    assert row is not None and row[1] == b"y" * 400
    queue.close()
    reopened = DiskQueue(tmp_path / "q.sqlite", max_bytes=1000)
    assert (reopened.depth, reopened.size_bytes) == (2, 800)
    reopened.close()

    counters = Counters()
    forwarder = OTLPForwarder("http://127.0.0.1:9/v1/traces", tmp_path / "f.sqlite", counters, max_queue_bytes=1)
    forwarder.enqueue(sample_spans("a"))
    forwarder.enqueue(sample_spans("b"))
    assert counters.get("forward_otlp.evicted") == 1
    assert forwarder.queue.depth == 1
    forwarder.stop()


def test_backoff_grows_with_jitter_and_is_capped(tmp_path: Path) -> None:
    forwarder = OTLPForwarder(
        "http://127.0.0.1:9", tmp_path / "f.sqlite", Counters(), backoff_base_s=1.0, backoff_cap_s=8.0
    )
    delays = [forwarder.backoff_s(n) for n in range(8)]
    assert 0.5 <= delays[0] < 1.5
    assert all(d < 12.0 for d in delays)
    assert 4.0 <= delays[7] < 12.0
    forwarder.stop()
