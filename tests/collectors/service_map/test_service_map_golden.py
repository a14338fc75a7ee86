"""`spanscope map` output pinned byte for byte on fixed stores (golden files from the code before the rules split).

Three stores: the TUI's sample shop (SQS, Batch, EMR, placements, failures), the public import fixtures
(X-Ray, Zipkin, Jaeger, OTLP files) and a messaging mix (producer kinds, SDK sends, links, consumers
parented to the send, in-progress spans). Regenerate after an intended change with
``SPANSCOPE_REGEN_GOLDEN=1 .venv/bin/pytest tests/collectors/test_service_map_golden.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from spanscope.cli.main import main
from spanscope.collectors.conventions import ORIGIN_LAMBDA
from spanscope.collectors.model import Kind, Status
from spanscope.collectors.service_map import build_service_map
from spanscope.collectors.store import open_store

from tests.builders import build_spans
from tests.fixtures.tui.sample_store import build_sample_store

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
GOLDEN = FIXTURES / "service_map_golden"
FORMATS = ("json", "text", "dot", "mermaid")
IMPORTS = (
    "xray_import/aws-cli-batch-get-traces.json",
    "xray_import/awsxrayreceiver-put-trace-segments.json",
    "zipkin/yelp.json",
    "zipkin/skew.json",
    "zipkin/simple-db-p6.json",
    "jaeger/jaeger-ui_01.json",
    "otlp_json/opentelemetry-proto-trace.json",
)
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/orders-queue"


def _messaging_spans() -> list:
    send = {"rpc.system": "aws-api", "rpc.service": "SQS", "rpc.method": "SendMessage", "aws.sqs.queue_url": QUEUE_URL}
    spans = []
    for i in range(6):
        status = Status.FAULT if i % 3 == 0 else Status.OK
        spans += build_spans(
            [
                ("root", None, 0, 100, {"service": "api", "origin": ORIGIN_LAMBDA, "kind": Kind.SERVER,
                                        "resource": {"cloud.region": "us-east-1", "cloud.account.id": "1234"}}),
                ("send", "root", 10, 20, {"service": "api", "kind": Kind.PRODUCER, "namespace": "aws",
                                          "remote_service": "SQS", "attributes": send}),
                ("consume", "send", 30 + i, 60, {"service": "worker", "origin": ORIGIN_LAMBDA,
                                                 "kind": Kind.CONSUMER, "status": status}),
                ("publish", "root", 20, 25, {"service": "api", "kind": Kind.PRODUCER,
                                             "attributes": {"messaging.system": "kafka",
                                                            "messaging.destination.name": "trips"}}),
                ("db", "root", 40, 70, {"service": "api", "kind": Kind.CLIENT, "namespace": "aws",
                                        "remote_service": "DynamoDB", "status": status}),
                ("http", "root", 70, 90, {"service": "api", "kind": Kind.CLIENT,
                                          "attributes": {"http.url": "https://pay.example.com/charge"}}),
                ("late", "root", 90, 95, {"service": "api", "kind": Kind.CLIENT, "in_progress": True,
                                          "namespace": "aws", "remote_service": "S3"}),
            ],
            trace=f"m{i}",
        )  # fmt: skip
        spans += build_spans(
            [
                ("job", None, 200, 400, {"service": "batch-job", "kind": Kind.SERVER, "links": [(f"m{i}", "send")],
                                         "resource": {"spanscope.location": "edge:IAD89-C1"}}),
                ("sub", "job", 210, 300, {"service": "batch-job", "kind": Kind.CLIENT,
                                          "links": [(f"m{i}", "publish"), ("nowhere", "x")]}),
                ("callee", "sub", 220, 290, {"service": "ledger", "kind": Kind.SERVER}),
            ],
            trace=f"c{i}",
        )  # fmt: skip
    return spans


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("golden")
    shop = build_sample_store(root / "shop.db")
    imports = root / "imports.db"
    for name in IMPORTS:
        assert main(["import", "--db", str(imports), str(FIXTURES / name)]) == 0
    messaging = root / "messaging.db"
    with open_store(messaging) as store:
        store.write_spans(_messaging_spans())
    return {"shop": shop, "imports": imports, "messaging": messaging}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("store", ["shop", "imports", "messaging"])
def test_map_output_is_unchanged(stores, store, fmt, capsys):
    capsys.readouterr()
    assert main(["map", "--db", str(stores[store]), "--format", fmt]) == 0
    out = capsys.readouterr().out
    golden = GOLDEN / f"{store}.{fmt}"
    if os.environ.get("SPANSCOPE_REGEN_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(out, encoding="utf-8")
    assert out == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("store", ["shop", "imports", "messaging"])
def test_graph_attributes_are_unchanged(stores, store):
    """Every node, edge and graph attribute of ``build_service_map``, as text (what the renderers may not show)."""
    with open_store(stores[store]) as opened:
        graph = build_service_map(opened.iter_traces())
    lines = [repr(sorted(graph.graph.items()))]
    lines += [f"{key!r} {sorted(data.items())!r}" for key, data in sorted(graph.nodes(data=True))]
    lines += [f"{a!r} {b!r} {sorted(data.items())!r}" for a, b, data in sorted(graph.edges(data=True))]
    out = "\n".join(lines) + "\n"
    golden = GOLDEN / f"{store}.graph"
    if os.environ.get("SPANSCOPE_REGEN_GOLDEN"):
        golden.write_text(out, encoding="utf-8")
    assert out == golden.read_text(encoding="utf-8")
