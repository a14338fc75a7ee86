"""The simulated AWS endpoint (moto behind a fault-injecting WSGI layer) and the edge device's uplink proxy.

Faults live here, in the infrastructure: DynamoDB answers ``ProvisionedThroughputExceededException`` the
way the real service does, S3 reads get slow, the device's network link drops connections. The
applications only see AWS misbehave; they are never told a fault is on.
"""

from __future__ import annotations

import io
import json
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from spanscope.demo_apps.faults import FaultPlan

REGION = "us-east-1"
ACCOUNT = "123456789012"
ORDERS_TABLE = "orders"
CATALOG_BUCKET = "catalog"
OUTPUT_BUCKET = "rollup-output"
ORDERS_QUEUE = "orders-queue"
ORDERS_DLQ = "orders-dlq"
STATE_MACHINE = "fulfilment-pipeline"
BATCH_SYNC = "arn:aws:states:::batch:submitJob.sync"
EMR_SYNC = "arn:aws:states:::elasticmapreduce:addStep.sync"

StartResponse = Callable[..., Any]


class FaultyAWS:
    """A WSGI layer in front of moto that injects the plan's infrastructure faults and sees StartExecution.

    It records the ``traceHeader`` of every Step Functions ``StartExecution`` (as the real service does
    to continue the caller's trace) so the orchestration can start with it.
    """

    def __init__(self, app: Any, plan: FaultPlan) -> None:
        self.app = app
        self.plan = plan
        self.rng = random.Random(plan.seed * 7919 + 1)
        self.lock = threading.Lock()
        self.executions: list[dict[str, str]] = []
        self.counts: dict[str, int] = {"dynamodb_throttled": 0, "s3_slowed": 0, "requests": 0}
        # throttling follows the plan's rate exactly (error diffusion from a seeded phase), so a short run
        # is not left with one or two throttles by chance
        self.put_items = 0
        self.phase = self.rng.random()

    def _draw(self) -> float:
        with self.lock:
            return self.rng.random()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        body = b""
        if target:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
        with self.lock:
            self.counts["requests"] += 1
        if target == "DynamoDB_20120810.PutItem" and self.plan.dynamodb_throttle_rate > 0:
            table = _json(body).get("TableName")
            throttle = False
            if table == ORDERS_TABLE:
                with self.lock:
                    k, rate = self.put_items, self.plan.dynamodb_throttle_rate
                    self.put_items += 1
                    throttle = int((k + 1) * rate + self.phase) > int(k * rate + self.phase)
                    if throttle:
                        self.counts["dynamodb_throttled"] += 1
            if throttle:
                payload = json.dumps(
                    {
                        "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                        "message": "The level of configured provisioned throughput for the table was exceeded.",
                    }
                ).encode()
                start_response(
                    "400 Bad Request",
                    [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(payload)))],
                )
                return [payload]
        if (
            self.plan.s3_extra_latency_s > 0
            and environ.get("REQUEST_METHOD") == "GET"
            and environ.get("PATH_INFO", "").startswith(f"/{CATALOG_BUCKET}/")
        ):
            with self.lock:
                self.counts["s3_slowed"] += 1
            time.sleep(self.plan.s3_extra_latency_s * (0.85 + 0.3 * self._draw()))
        if target == "AWSStepFunctions.StartExecution":
            doc = _json(body)
            with self.lock:
                self.executions.append(
                    {"name": str(doc.get("name", "")), "traceHeader": str(doc.get("traceHeader", ""))}
                )
        result: Iterable[bytes] = self.app(environ, start_response)
        return result


def _json(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body or b"{}")
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


class SimulatedAWS:
    """moto's server on 127.0.0.1 (ephemeral port) behind :class:`FaultyAWS`, with the demo's resources."""

    def __init__(self, plan: FaultPlan) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import WSGIRequestHandler, make_server

        class QuietHandler(WSGIRequestHandler):
            def log(self, type: str, message: str, *args: Any) -> None:
                return None

        self.faults = FaultyAWS(DomainDispatcherApplication(create_backend_app), plan)
        self.server = make_server("127.0.0.1", 0, self.faults, threaded=True, request_handler=QuietHandler)
        self.port = int(self.server.server_port)
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="simulated-aws", daemon=True)

    def start(self) -> SimulatedAWS:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def provision(self) -> dict[str, str]:
        """Create the table, buckets, queues and state machine; returns their names/URLs/ARNs."""
        import urllib.request

        # moto's state is per process: start every run from empty accounts
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"), timeout=10).read()
        ddb = self.client("dynamodb")
        ddb.create_table(
            TableName=ORDERS_TABLE,
            KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        s3 = self.client("s3")
        s3.create_bucket(Bucket=CATALOG_BUCKET)
        s3.create_bucket(Bucket=OUTPUT_BUCKET)
        catalog = {f"sku-{i:04d}": {"price_cents": 199 + 37 * i, "name": f"Product {i}"} for i in range(64)}
        for sku, item in catalog.items():
            s3.put_object(Bucket=CATALOG_BUCKET, Key=f"products/{sku}.json", Body=json.dumps(item).encode())
        # the search index the API loads lazily on its first request (one entry per listed variant)
        index = {
            f"{sku}/v{v}": {"key": f"products/{sku}.json", "rank": v, "tags": ["garden", "sensor", "kit"]}
            for sku in catalog
            for v in range(80)
        }
        s3.put_object(Bucket=CATALOG_BUCKET, Key="index.json", Body=json.dumps(index).encode())
        sqs = self.client("sqs")
        dlq = sqs.create_queue(QueueName=ORDERS_DLQ)["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queue = sqs.create_queue(
            QueueName=ORDERS_QUEUE,
            Attributes={
                "VisibilityTimeout": "1",
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}),
            },
        )["QueueUrl"]
        sfn = self.client("stepfunctions")
        definition = {
            "Comment": "Nightly fulfilment: render invoices on Batch, then roll sales up on EMR",
            "StartAt": "PrepareManifest",
            "States": {
                "PrepareManifest": {"Type": "Pass", "Next": "RenderInvoices"},
                "RenderInvoices": {"Type": "Task", "Resource": BATCH_SYNC, "Next": "Rollup"},
                "Rollup": {"Type": "Task", "Resource": EMR_SYNC, "Next": "Publish"},
                "Publish": {"Type": "Pass", "End": True},
            },
        }
        machine = sfn.create_state_machine(
            name=STATE_MACHINE,
            definition=json.dumps(definition),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/{STATE_MACHINE}",
        )["stateMachineArn"]
        return {"queue_url": queue, "dlq_url": dlq, "state_machine_arn": machine}


class Uplink:
    """A TCP proxy standing for a device's network link: forwards while online, drops everything while offline."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.online = True
        self.lock = threading.Lock()
        self.connections: set[socket.socket] = set()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = int(self.listener.getsockname()[1])
        self.stopping = False
        self.thread = threading.Thread(target=self._accept_loop, name=f"uplink-{self.port}", daemon=True)
        self.thread.start()

    def set_online(self, online: bool) -> None:
        with self.lock:
            self.online = online
            doomed = [] if online else list(self.connections)
            if not online:
                self.connections.clear()
        for sock in doomed:
            _close(sock)

    def _accept_loop(self) -> None:
        while not self.stopping:
            try:
                client, _addr = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self.lock:
                online = self.online
            if not online:
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            with self.lock:
                self.connections.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self.lock:
                self.connections.discard(src)
                self.connections.discard(dst)
            _close(src)
            _close(dst)

    def stop(self) -> None:
        self.stopping = True
        self.set_online(False)
        _close(self.listener)
        self.thread.join(2)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
