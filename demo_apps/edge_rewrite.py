"""Lambda@Edge origin-request function: rewrites the public API path to the origin's and tags the tenant."""

from __future__ import annotations

from typing import Any

from spanscope.demo_apps.bundle import edge_exporters
from spanscope.tracer.integrations import edge_handler

ROUTES = {"/api/v2/orders": "/orders", "/api/v2/batches/close": "/batches/close"}


@edge_handler(service="edge-rewrite", exporters=edge_exporters())
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = event["Records"][0]["cf"]["request"]
    uri = request["uri"]
    request["uri"] = ROUTES.get(uri, uri)
    customer = (request["headers"].get("x-customer-id") or [{"value": "anonymous"}])[0]["value"]
    tenant = "wholesale" if customer.startswith("b2b-") else "retail"
    request["headers"]["x-tenant"] = [{"key": "X-Tenant", "value": tenant}]
    return dict(request)
