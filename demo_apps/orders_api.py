"""The orders API Lambda (behind a function URL): prices an order from the S3 catalog, stores it in
DynamoDB and queues it on SQS for fulfilment. ``POST /batches/close`` queues the end-of-day marker."""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any

from spanscope.demo_apps.aws_calls import aws_call, client
from spanscope.tracer import annotate, trace
from spanscope.tracer.integrations import lambda_handler, send_sqs_message

# init: clients are created once per sandbox, as real functions do
S3 = client("s3")
DYNAMODB = client("dynamodb")
SQS = client("sqs")
TABLE = os.environ.get("ORDERS_TABLE", "orders")
BUCKET = os.environ.get("CATALOG_BUCKET", "catalog")
QUEUE_URL = os.environ.get("ORDERS_QUEUE_URL", "")


_INDEX: dict[str, str] = {}


@trace("load_catalog_index")
def catalog_index() -> dict[str, str]:
    """sku -> object key, loaded on the first request of a sandbox (kept out of init to keep init short)."""
    if not _INDEX:
        response = aws_call(S3, "get_object", Bucket=BUCKET, Key="index.json")
        entries = json.loads(response["Body"].read())
        for variant, entry in entries.items():
            _INDEX.setdefault(variant.split("/", 1)[0], entry["key"])
    return _INDEX


@trace("load_product")
def load_product(sku: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    if sku not in catalog_index():
        return None
    try:
        response = aws_call(S3, "get_object", Bucket=BUCKET, Key=f"products/{sku}.json")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    product: dict[str, Any] = json.loads(response["Body"].read())
    return product


@trace("price_order")
def price_order(request: dict[str, Any], product: dict[str, Any]) -> dict[str, Any]:
    quantity = max(1, int(request.get("quantity", 1)))
    subtotal = product["price_cents"] * quantity
    discount = subtotal // 10 if request.get("coupon") else 0
    return {
        "order_id": str(uuid.uuid4()),
        "sku": request["sku"],
        "quantity": quantity,
        "region": request.get("region", "us-east-1"),
        "total_cents": subtotal - discount,
        "customer": request.get("customer") or {},
        "created_ms": int(time.time() * 1000),
    }


@trace("save_order")
def save_order(order: dict[str, Any]) -> None:
    aws_call(
        DYNAMODB,
        "put_item",
        TableName=TABLE,
        Item={
            "order_id": {"S": order["order_id"]},
            "sku": {"S": order["sku"]},
            "total_cents": {"N": str(order["total_cents"])},
            "status": {"S": "NEW"},
        },
    )


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


@lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    path = event.get("rawPath", "/")
    if path == "/batches/close":
        send_sqs_message(SQS, QueueUrl=QUEUE_URL, MessageBody=json.dumps({"type": "close-batch"}))
        return _response(202, {"status": "closing"})
    request = json.loads(event.get("body") or "{}")
    annotate("tenant", str(event.get("headers", {}).get("x-tenant", "retail")))
    product = load_product(str(request.get("sku", "")))
    if product is None:
        return _response(404, {"error": f"unknown product {request.get('sku')!r}"})
    order = price_order(request, product)
    save_order(order)
    send_sqs_message(SQS, QueueUrl=QUEUE_URL, MessageBody=json.dumps({"type": "order", "order": order}))
    return _response(201, {"order_id": order["order_id"], "total_cents": order["total_cents"]})
