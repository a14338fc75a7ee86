"""Legacy mode (backend="xray-sdk"): the API drives aws-xray-sdk's recorder, which sends real UDP datagrams."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from spanscope.tracer import add_metadata, annotate, configure, inject, reset_stats, span, stats, trace
from spanscope.tracer.propagation import parse_xray_header


@pytest.fixture
def daemon(clean_env: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(10)
    clean_env.setenv("AWS_XRAY_DAEMON_ADDRESS", f"127.0.0.1:{receiver.getsockname()[1]}")
    configure(backend="xray-sdk", service="legacy-svc", sampling=1.0)
    yield receiver
    receiver.close()
    configure(exporters=["memory"])


def receive(receiver: socket.socket) -> dict[str, Any]:
    header, _, body = receiver.recv(65536).decode().partition("\n")
    assert json.loads(header) == {"format": "json", "version": 1}
    doc: dict[str, Any] = json.loads(body)
    return doc


def test_segments_subsegments_annotations_metadata(daemon: socket.socket) -> None:
    seen: dict[str, str] = {}
    reset_stats()  # the counters are process-wide: count only this test's invalid annotation

    @trace("checkout")
    def checkout() -> str:
        annotate("order_id", "o-1")
        annotate("bad key", 1)
        add_metadata("cart", {"items": 2})
        with span("DynamoDB.PutItem", kind="client", attributes={"rpc.system": "aws-api", "rpc.service": "DynamoDB"}):
            seen.update(inject())
        with span("validate") as s:
            s.set_attribute("rules", 3)
        return "done"

    assert checkout() == "done"
    doc = receive(daemon)
    assert doc["name"] == "legacy-svc"
    assert doc["annotations"] == {"order_id": "o-1"}
    assert doc["metadata"]["default"]["otel.span.name"] == "checkout"
    assert doc["metadata"]["default"]["cart"] == {"items": 2}
    subs = {s["name"]: s for s in doc["subsegments"]}
    assert subs["DynamoDB"]["namespace"] == "aws"
    assert subs["validate"]["metadata"]["default"]["rules"] == 3
    header = parse_xray_header(seen["X-Amzn-Trace-Id"])
    assert header is not None and header.root == doc["trace_id"] and header.parent == subs["DynamoDB"]["id"]
    assert stats()["annotation_invalid"] == 1


def test_error_is_recorded_and_reraised(daemon: socket.socket) -> None:
    error = ValueError("no stock")

    @trace
    def reserve() -> None:
        raise error

    with pytest.raises(ValueError) as caught:
        reserve()
    assert caught.value is error
    doc = receive(daemon)
    assert doc["fault"] is True
    assert doc["cause"]["exceptions"][0]["type"] == "ValueError"


def test_continues_an_extracted_context(daemon: socket.socket) -> None:
    from spanscope.tracer import extract

    ctx = extract({"X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"})
    with span("handler", kind="server", parent=ctx):
        pass
    doc = receive(daemon)
    assert doc["trace_id"] == "1-5759e988-bd862e3fe1be46a994272793" and doc["parent_id"] == "53995c3f42cd8ad8"


LAMBDA_SCRIPT = """
from spanscope.tracer import annotate, configure, trace
from spanscope.tracer.integrations import lambda_handler

configure(backend="xray-sdk")

@trace("query")
def query():
    pass

@lambda_handler
def handler(event, context):
    annotate("tenant", "acme")
    query()
    return "ok"

class Context:
    aws_request_id = "req-1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:orders-fn"
    def get_remaining_time_in_millis(self):
        return 3000

assert handler({}, Context()) == "ok"
"""


def test_legacy_lambda_runs_under_the_sdk_facade(clean_env: pytest.MonkeyPatch) -> None:
    import os
    import subprocess
    import sys

    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(20)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AWS_", "_X_AMZN"))}
    env.update(
        {
            "LAMBDA_TASK_ROOT": "/var/task",
            "AWS_LAMBDA_FUNCTION_NAME": "orders-fn",
            "AWS_REGION": "us-east-1",
            "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{receiver.getsockname()[1]}",
        }
    )
    try:
        out = subprocess.run([sys.executable, "-c", LAMBDA_SCRIPT], env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        docs = {d["name"]: d for d in (receive(receiver), receive(receiver))}
    finally:
        receiver.close()
    # Under Lambda's facade the SDK sends each subsegment on its own: the handler's is the facade's child.
    handler, query = docs["orders-fn"], docs["query"]
    assert handler["type"] == query["type"] == "subsegment"
    assert handler["trace_id"] == query["trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    assert handler["parent_id"] == "53995c3f42cd8ad8" and query["parent_id"] == handler["id"]
    assert handler["annotations"]["tenant"] == "acme" and handler["annotations"]["ColdStart"] is True
