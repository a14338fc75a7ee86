"""Lambda's SQS event source mapping for the demo's order-worker: it polls the queue, invokes in small batches,
deletes what succeeded (partial batch failures), lets failed records redrive to the DLQ, and deploys v2 mid-run."""

from __future__ import annotations

import threading
import time
from typing import Any

BATCH_SIZE = 3  # the event source mapping's batch size


class EventSourceMapping:
    """Lambda's SQS poller for order-worker: small batches, partial batch failures, redrive to the DLQ.

    Plays the release pipeline too: after ``deploy_after`` processed orders it deploys order-worker v2.
    """

    def __init__(self, aws: Any, queue_url: str, lambdas: Any, deploy_after: int) -> None:
        self.sqs = aws.client("sqs")
        self.queue_url = queue_url
        self.lambdas = lambdas
        self.deploy_after = deploy_after
        self.processed = 0
        self.deployed_at_ns: int | None = None
        self.stop = threading.Event()
        self.idle_polls = 0
        self.thread = threading.Thread(target=self._run, name="sqs-event-source", daemon=True)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:orders-queue",
            "awsRegion": "us-east-1",
        }

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                response = self.sqs.receive_message(
                    QueueUrl=self.queue_url, MaxNumberOfMessages=BATCH_SIZE, MessageSystemAttributeNames=["All"]
                )
            except Exception:
                time.sleep(0.1)
                continue
            messages = response.get("Messages", [])
            if not messages:
                self.idle_polls += 1
                time.sleep(0.05)
                continue
            self.idle_polls = 0
            records = [self._record(m) for m in messages]
            header = records[0]["attributes"].get("AWSTraceHeader")
            ok, result = self.lambdas.invoke("order-worker", {"Records": records}, trace_header=header)
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])} if ok else None
            done = [m for m in messages if failed is not None and m["MessageId"] not in failed]
            if done:
                self.sqs.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                )
            self.processed += len(records)
            if self.deploy_after >= 0 and self.deployed_at_ns is None and self.processed >= self.deploy_after:
                self.lambdas.deploy("order-worker", version="2", handler="spanscope.demo_apps.order_worker.handler_v2")
                self.deployed_at_ns = time.time_ns()
