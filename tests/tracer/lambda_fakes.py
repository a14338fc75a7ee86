"""What the Lambda runtime hands a handler: a context object and event payloads as AWS sends them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FACADE_ROOT = "1-5759e988-bd862e3fe1be46a994272793"
FACADE_PARENT = "53995c3f42cd8ad8"
FACADE_HEADER = f"Root={FACADE_ROOT};Parent={FACADE_PARENT};Sampled=1;Lineage=a87bd80c:0"


@dataclass
class LambdaContext:
    function_name: str = "orders-fn"
    function_version: str = "$LATEST"
    aws_request_id: str = "8f507cfc-example-4697-b07a-ac58fc914c95"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:orders-fn"
    memory_limit_in_mb: str = "128"
    remaining_ms: int = 3000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def lambda_env(monkeypatch: Any, header: str = FACADE_HEADER) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "orders-fn")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("_X_AMZN_TRACE_ID", header)


def sqs_event(headers: list[str | None]) -> dict[str, Any]:
    records = []
    for i, header in enumerate(headers):
        attributes: dict[str, str] = {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1545082649183",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1545082649185",
        }
        if header:
            attributes["AWSTraceHeader"] = header
        records.append(
            {
                "messageId": f"059f36b4-87a3-44ab-83d2-66197559341{i}",
                "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
                "body": f"order {i}",
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:orders",
                "awsRegion": "us-east-1",
            }
        )
    return {"Records": records}
