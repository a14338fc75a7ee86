"""Lambda@Edge viewer-request function: checks the bearer token before CloudFront serves the request."""

from __future__ import annotations

from typing import Any

from spanscope.demo_apps.bundle import edge_exporters
from spanscope.demo_apps.tokens import customer_of
from spanscope.tracer import annotate, trace
from spanscope.tracer.integrations import edge_handler


@trace("verify_token")
def verify_token(token: str) -> str | None:
    return customer_of(token)


@edge_handler(service="edge-auth", exporters=edge_exporters())
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = event["Records"][0]["cf"]["request"]
    headers = request["headers"]
    value = (headers.get("authorization") or [{"value": ""}])[0]["value"]
    customer = verify_token(value.removeprefix("Bearer ").strip())
    if customer is None:
        annotate("auth_rejected", True)
        return {
            "status": "403",
            "statusDescription": "Forbidden",
            "headers": {"content-type": [{"key": "Content-Type", "value": "text/plain"}]},
            "body": "token expired or invalid",
        }
    headers["x-customer-id"] = [{"key": "X-Customer-Id", "value": customer}]
    return dict(request)
