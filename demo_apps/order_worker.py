"""The fulfilment worker Lambda (SQS trigger): enriches and records each order; the end-of-day marker
starts the Step Functions pipeline. ``handler_v2`` is the later deployment (it has a bug)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from spanscope.demo_apps.aws_calls import aws_call, client
from spanscope.tracer import trace
from spanscope.tracer.integrations import lambda_handler, process_sqs_batch, start_execution

DYNAMODB = client("dynamodb")
SFN = client("stepfunctions")
TABLE = os.environ.get("ORDERS_TABLE", "orders")
STATE_MACHINE_ARN = os.environ.get("STATE_MACHINE_ARN", "")
REGION_WAREHOUSES = {"us-east-1": "IAD-7", "us-west-2": "PDX-2", "eu-west-1": "DUB-4"}


@trace("enrich_order")
def enrich_order(order: dict[str, Any]) -> dict[str, Any]:
    customer = order.get("customer") or {}
    tier = customer.get("tier", "guest")
    return {**order, "warehouse": REGION_WAREHOUSES.get(order.get("region", ""), "IAD-7"), "tier": tier}


@trace("enrich_order")
def enrich_order_v2(order: dict[str, Any]) -> dict[str, Any]:
    # v2 added loyalty points, and assumed every customer has a tier (guests do not)
    customer = order.get("customer") or {}
    points = order["total_cents"] // 100 * {"gold": 3, "silver": 2}.get(customer["tier"], 1)
    return {**order, "warehouse": REGION_WAREHOUSES.get(order.get("region", ""), "IAD-7"), "points": points}


@trace("record_fulfilment")
def record_fulfilment(order: dict[str, Any]) -> None:
    aws_call(
        DYNAMODB,
        "update_item",
        TableName=TABLE,
        Key={"order_id": {"S": order["order_id"]}},
        UpdateExpression="SET #s = :s, warehouse = :w",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "FULFILLING"}, ":w": {"S": order["warehouse"]}},
    )


@trace("close_batch")
def close_batch() -> None:
    name = f"nightly-{time.strftime('%Y%m%d-%H%M%S')}"
    start_execution(
        SFN,
        stateMachineArn=STATE_MACHINE_ARN,
        name=name,
        input=json.dumps({"business_day": time.strftime("%Y-%m-%d")}),
    )


def _handle(enrich: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[Mapping[str, Any]], None]:
    def handle(record: Mapping[str, Any]) -> None:
        message = json.loads(record["body"])
        if message.get("type") == "close-batch":
            close_batch()
            return
        record_fulfilment(enrich(message["order"]))

    return handle


@lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_sqs_batch(event, _handle(enrich_order))


@lambda_handler
def handler_v2(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_sqs_batch(event, _handle(enrich_order_v2))
