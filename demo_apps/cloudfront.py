"""A CloudFront edge location (its own process): viewers' requests, Lambda@Edge, and the API origin.

For each viewer request the distribution runs the viewer-request function (``us-east-1.edge-auth``), then
the origin-request function (``us-east-1.edge-rewrite``), then fetches from the origin, the orders API's
function URL. Functions run in sandboxes of the :mod:`lambda_runtime` service with the events and the
environment AWS gives them. CloudFront's own work is traced as the root span of each request.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from spanscope.demo_apps.bundle import write_bundle
from spanscope.demo_apps.lambda_runtime import FunctionConfig, LambdaService
from spanscope.demo_apps.tokens import sign

DISTRIBUTION_ID = "E2QWRUHAPOMQZL"
DISTRIBUTION_DOMAIN = "d111111abcdef8.cloudfront.net"
POP = "IAD89-C1"
FUNCTION_URL_HOST = "abcdefghij.lambda-url.us-east-1.on.aws"
EDGE_REPLICA_REGION = "us-east-2"


def cf_headers(headers: dict[str, str]) -> dict[str, list[dict[str, str]]]:
    return {k.lower(): [{"key": k, "value": v}] for k, v in headers.items()}


def cf_event(event_type: str, request: dict[str, Any]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "cf": {
                    "config": {
                        "distributionDomainName": DISTRIBUTION_DOMAIN,
                        "distributionId": DISTRIBUTION_ID,
                        "eventType": event_type,
                        "requestId": uuid.uuid4().hex[:40],
                    },
                    "request": request,
                }
            }
        ]
    }


def function_url_event(request: dict[str, Any], trace_header: str) -> dict[str, Any]:
    headers = {k: v[0]["value"] for k, v in request["headers"].items()}
    headers["x-amzn-trace-id"] = trace_header
    headers["host"] = FUNCTION_URL_HOST
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request["uri"],
        "rawQueryString": request.get("querystring", ""),
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": FUNCTION_URL_HOST.split(".")[0],
            "domainName": FUNCTION_URL_HOST,
            "http": {
                "method": request["method"],
                "path": request["uri"],
                "protocol": "HTTP/1.1",
                "sourceIp": request["clientIp"],
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": request.get("body", {}).get("data", ""),
        "isBase64Encoded": False,
    }


def lambda_functions(settings: dict[str, Any]) -> list[FunctionConfig]:
    """The three functions this edge location calls, configured as deployed."""
    work = Path(settings["work_dir"])
    aws_env = settings["aws_env"]
    edge = []
    for short, module in (("edge-auth", "edge_auth"), ("edge-rewrite", "edge_rewrite")):
        root = work / "functions" / short
        write_bundle(root, settings["edge_bundle"])
        edge.append(
            FunctionConfig(
                name=f"us-east-1.{short}",
                handler=f"spanscope.demo_apps.{module}.handler",
                region=EDGE_REPLICA_REGION,
                memory_mb=128,
                timeout_s=5,
                env={"LAMBDA_TASK_ROOT": str(root)},
                init_delay_s=0.02,
            )
        )
    api = FunctionConfig(
        name="orders-api",
        handler="spanscope.demo_apps.orders_api.handler",
        version="14",
        memory_mb=1024,
        env={
            **aws_env,
            **settings["lambda_tracing_env"],
            "LAMBDA_TASK_ROOT": str(work / "functions" / "orders-api"),
            "ORDERS_TABLE": settings["resources"]["table"],
            "CATALOG_BUCKET": settings["resources"]["bucket"],
            "ORDERS_QUEUE_URL": settings["resources"]["queue_url"],
        },
        max_invocations_per_sandbox=int(settings["api_reuse"]),
        init_delay_s=float(settings["api_init_s"]),
    )
    return [*edge, api]


class Traffic:
    """Seeded viewer requests: customers, guests, coupons, a few expired tokens and unknown products."""

    def __init__(self, seed: int, requests: int, auth_reject_rate: float, unknown_sku_rate: float) -> None:
        self.rng = random.Random(seed)
        self.requests = requests
        self.auth_reject_rate = auth_reject_rate
        self.unknown_sku_rate = unknown_sku_rate

    def build(self, index: int, *, close: bool = False) -> dict[str, Any]:
        rng = self.rng
        customer = f"b2b-{rng.randrange(40)}" if rng.random() < 0.2 else f"c-{rng.randrange(5000)}"
        token = sign(customer)
        if not close and rng.random() < self.auth_reject_rate:
            token = f"{customer}.{token.split('.')[1][:8]}-expired"
        sku = f"sku-{rng.randrange(64):04d}" if rng.random() >= self.unknown_sku_rate else "sku-9999"
        guest = rng.random() < 0.6
        order = {
            "sku": sku,
            "quantity": rng.randint(1, 4),
            "region": rng.choice(("us-east-1", "us-east-1", "us-west-2", "eu-west-1")),
            "coupon": "SPRING10" if rng.random() < 0.2 else None,
            "customer": {"id": customer} if guest else {"id": customer, "tier": rng.choice(("gold", "silver"))},
        }
        uri = "/api/v2/batches/close" if close else "/api/v2/orders"
        body = "" if close else json.dumps(order)
        return {
            "clientIp": f"198.51.100.{rng.randrange(1, 254)}",
            "method": "POST",
            "uri": uri,
            "querystring": "",
            "headers": cf_headers(
                {
                    "Host": DISTRIBUTION_DOMAIN,
                    "User-Agent": rng.choice(("shop-ios/5.2.1", "shop-android/5.2.0", "Mozilla/5.0")),
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/json",
                }
            ),
            "body": {"inputTruncated": False, "action": "read-only", "encoding": "text", "data": body},
        }


class EdgeLocation:
    """Serves viewer requests through the distribution's functions and origin."""

    def __init__(self, lambdas: LambdaService) -> None:
        self.lambdas = lambdas

    def _edge(self, event_type: str, function: str, request: dict[str, Any]) -> tuple[int | None, dict[str, Any]]:
        from opentelemetry.trace import Status, StatusCode
        from spanscope.tracer import inject, span

        attrs = {"aws.cloudfront.event_type": event_type, "faas.invoked_name": function, "faas.invoked_provider": "aws"}
        with span(f"{event_type} {function.split('.', 1)[-1]}", kind="client", attributes=attrs) as s:
            request["headers"].update(cf_headers(inject()))
            ok, result = self.lambdas.invoke(function, cf_event(event_type, request))
            if not ok:
                s.set_status(Status(StatusCode.ERROR, f"LambdaExecutionError: {result.get('errorType')}"))
                return 502, request
            if isinstance(result, dict) and "status" in result:
                return int(result["status"]), request
            return None, result

    def serve(self, request: dict[str, Any]) -> int:
        from opentelemetry.trace import Status, StatusCode
        from spanscope.tracer import inject, span

        status, request = self._edge("viewer-request", "us-east-1.edge-auth", request)
        if status is not None:
            return status
        status, request = self._edge("origin-request", "us-east-1.edge-rewrite", request)
        if status is not None:
            return status
        attrs = {
            "http.request.method": request["method"],
            "url.full": f"https://{FUNCTION_URL_HOST}{request['uri']}",
            "server.address": FUNCTION_URL_HOST,
            "faas.invoked_name": "orders-api",
        }
        with span(f"origin {request['method']} {request['uri']}", kind="client", attributes=attrs) as s:
            header = inject().get("X-Amzn-Trace-Id", "")
            ok, result = self.lambdas.invoke("orders-api", function_url_event(request, header), trace_header=header)
            code = int(result.get("statusCode", 200)) if ok and isinstance(result, dict) else 502
            s.set_attribute("http.response.status_code", code)
            if code >= 500:
                reason = "" if ok else f": {result.get('errorType')}"
                s.set_status(Status(StatusCode.ERROR, f"HTTP {code}{reason}"))
            return code

    def handle(self, request: dict[str, Any]) -> int:
        from opentelemetry.trace import Status, StatusCode
        from spanscope.tracer import span

        attrs = {
            "http.request.method": request["method"],
            "url.full": f"https://{DISTRIBUTION_DOMAIN}{request['uri']}",
            "client.address": request["clientIp"],
            "user_agent.original": request["headers"]["user-agent"][0]["value"],
            "aws.cloudfront.distribution_id": DISTRIBUTION_ID,
            "aws.cloudfront.edge_location": POP,
        }
        with span(f"{request['method']} {request['uri']}", kind="server", attributes=attrs) as root:
            code = self.serve(request)
            root.set_attribute("http.response.status_code", code)
            if code >= 500:
                root.set_status(Status(StatusCode.ERROR, f"HTTP {code}"))
            return code


def edge_location_main(settings: dict[str, Any], progress: Any) -> None:
    """The edge location process: serve the seeded traffic, then the end-of-day close request."""
    os.environ.update(settings["pop_env"])
    from spanscope.tracer import configure, force_flush, shutdown

    configure(
        service="cloudfront",
        exporters=["otlp-http"],
        resource_attributes={
            "spanscope.origin": "AWS::CloudFront::Distribution",
            "spanscope.location": f"edge:{POP}",
            "aws.cloudfront.distribution_id": DISTRIBUTION_ID,
        },
    )
    lambdas = LambdaService(lambda_functions(settings))
    edge = EdgeLocation(lambdas)
    traffic = Traffic(
        settings["traffic_seed"], settings["requests"], settings["auth_reject_rate"], settings["unknown_sku_rate"]
    )
    requests = [traffic.build(i) for i in range(settings["requests"])]
    done = 0
    statuses: dict[str, int] = {}
    lock = threading.Lock()

    def one(request: dict[str, Any]) -> None:
        nonlocal done
        code = edge.handle(request)
        with lock:
            done += 1
            statuses[str(code)] = statuses.get(str(code), 0) + 1
            progress.put(("requests", done))

    try:
        with ThreadPoolExecutor(settings["client_concurrency"]) as pool:
            list(pool.map(one, requests))
        edge.handle(traffic.build(-1, close=True))
        force_flush(5000)
        progress.put(("edge_done", {"statuses": statuses, "lambda": lambdas.stats()}))
    finally:
        lambdas.shutdown()
        shutdown()
