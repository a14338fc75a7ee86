"""``@edge_handler``: Lambda@Edge invocations as server spans with CloudFront facts and the edge location.

Lambda@Edge has no environment variables of its own, so configuration is given in code:
``@edge_handler(service="cdn-auth", exporters=[...])``. The span reads ``Records[0].cf`` (event type,
distribution id, CloudFront request id, uri, method, status), continues an ``X-Amzn-Trace-Id``/``traceparent``
request header, and (``propagate=True``) adds them to a request it forwards to the origin.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, overload

from opentelemetry.trace import SpanKind, Status, StatusCode
from spanscope.tracer import conventions as c
from spanscope.tracer.api import annotate, span
from spanscope.tracer.health import HEALTH
from spanscope.tracer.integrations.aws_lambda import Invocations, process_start_ns
from spanscope.tracer.lifecycle import configure, force_flush
from spanscope.tracer.propagation import XRAY_HEADER, extract, inject
from spanscope.tracer.runtime import RUNTIME, env_disabled

H = TypeVar("H", bound=Callable[..., Any])


def cf_record(event: object) -> Mapping[str, Any]:
    """``Records[0].cf`` of a Lambda@Edge event ({} when absent)."""
    if isinstance(event, Mapping):
        records = event.get("Records")
        if isinstance(records, list) and records and isinstance(records[0], Mapping):
            cf = records[0].get("cf")
            if isinstance(cf, Mapping):
                return cf
    return {}


def _header(headers: object, name: str) -> str | None:
    if isinstance(headers, Mapping):
        values = headers.get(name.lower())
        if isinstance(values, list) and values and isinstance(values[0], Mapping):
            value = values[0].get("value")
            return value if isinstance(value, str) else None
    return None


def edge_location(cf: Mapping[str, Any], configured: str | None) -> str:
    """``edge:<POP>`` from ``x-amz-cf-pop`` when CloudFront tells it, else ``edge:<region>``."""
    if configured:
        return configured
    for part in ("response", "request"):
        pop = _header((cf.get(part) or {}).get("headers"), "x-amz-cf-pop")
        if pop:
            return f"edge:{pop}"
    region = os.environ.get("AWS_REGION", "")
    return f"edge:{region}" if region else "edge"


def edge_attributes(cf: Mapping[str, Any], context: object, location: str) -> dict[str, object]:
    """Span attributes of one Lambda@Edge invocation."""
    config = cf.get("config") or {}
    request = cf.get("request") or {}
    response = cf.get("response") or {}
    attrs: dict[str, object] = {c.ORIGIN: c.ORIGIN_LAMBDA_EDGE, c.LOCATION: location, c.FAAS_TRIGGER: "http"}
    if config.get("distributionId"):
        attrs[c.CF_DISTRIBUTION] = str(config["distributionId"])
    if config.get("eventType"):
        attrs[c.CF_EVENT_TYPE] = str(config["eventType"])
    if config.get("requestId"):
        attrs[c.CF_REQUEST_ID] = str(config["requestId"])
    if location.startswith("edge:") and len(location) > 5:
        attrs[c.CF_EDGE_LOCATION] = location[5:]
    if os.environ.get("AWS_REGION"):
        attrs[c.CLOUD_REGION] = os.environ["AWS_REGION"]
    if request.get("method"):
        attrs[c.HTTP_METHOD] = str(request["method"])
    if request.get("uri"):
        host = _header(request.get("headers"), "host") or str(config.get("distributionDomainName") or "")
        query = f"?{request['querystring']}" if request.get("querystring") else ""
        attrs["url.path"] = str(request["uri"])
        if host:
            attrs[c.HTTP_URL] = f"https://{host}{request['uri']}{query}"
    if request.get("clientIp"):
        attrs[c.HTTP_CLIENT_IP] = str(request["clientIp"])
    agent = _header(request.get("headers"), "user-agent")
    if agent:
        attrs[c.HTTP_USER_AGENT] = agent
    status = str(response.get("status", ""))
    if status.isdigit():
        attrs[c.HTTP_STATUS] = int(status)
    request_id = getattr(context, "aws_request_id", None)
    if isinstance(request_id, str):
        attrs[c.FAAS_INVOCATION_ID] = request_id
    return attrs


def _after(s: Any, result: object, propagate: bool) -> None:
    if not isinstance(result, Mapping):
        return
    status = result.get("status")
    if isinstance(status, str | int) and str(status).isdigit():
        code = int(status)
        s.set_attribute(c.HTTP_STATUS, code)
        if code >= 500:
            s.set_status(Status(StatusCode.ERROR, f"HTTP {code}"))
    elif propagate and "uri" in result and isinstance(result.get("headers"), dict):
        headers = result["headers"]
        for name, value in inject().items():
            key = name.lower()
            if key not in headers:
                headers[key] = [{"key": XRAY_HEADER if key == XRAY_HEADER.lower() else name, "value": value}]


@overload
def edge_handler(func: H, /) -> H: ...


@overload
def edge_handler(
    *,
    service: str | None = None,
    exporters: Sequence[Any] | None = None,
    sampling: float | str | None = None,
    location: str | None = None,
    propagate: bool = True,
    flush_timeout_millis: int = 1000,
) -> Callable[[H], H]: ...


def edge_handler(
    func: Any = None,
    /,
    *,
    service: str | None = None,
    exporters: Sequence[Any] | None = None,
    sampling: float | str | None = None,
    location: str | None = None,
    propagate: bool = True,
    flush_timeout_millis: int = 1000,
) -> Any:
    """Trace a Lambda@Edge handler; configuration comes from these arguments (no env vars at the edge)."""
    if service is not None or exporters is not None or sampling is not None:
        configure(service=service, exporters=exporters, sampling=sampling)

    def decorator(handler: H) -> H:
        if env_disabled():
            return handler
        invocations = Invocations()

        @functools.wraps(handler)
        def wrapper(event: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
            if RUNTIME.passthrough:
                return handler(event, context, *args, **kwargs)
            start_ns = time.time_ns()
            try:
                cf = cf_record(event)
                cold = invocations.claim_cold()
                attrs = edge_attributes(cf, context, edge_location(cf, location))
                attrs[c.FAAS_COLDSTART] = cold
                if cold:
                    attrs[c.FAAS_INIT_DURATION_NS] = max(0, start_ns - process_start_ns())
                headers = (cf.get("request") or {}).get("headers") or {}
                parent = extract(headers) if isinstance(headers, Mapping) else None
                event_type = str((cf.get("config") or {}).get("eventType") or "edge")
                function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
                span_name = function.split(".", 1)[-1] if function else event_type
                scope = span(span_name, kind=SpanKind.SERVER, attributes=attrs, parent=parent)
            except Exception as exc:
                HEALTH.fail("edge_setup", exc)
                return handler(event, context, *args, **kwargs)
            try:
                with scope as s:
                    annotate("ColdStart", cold)
                    result = handler(event, context, *args, **kwargs)
                    try:
                        _after(s, result, propagate)
                    except Exception as exc:
                        HEALTH.fail("edge_response", exc)
                    return result
            finally:
                force_flush(flush_timeout_millis)

        return wrapper  # type: ignore[return-value]

    if func is not None:
        return decorator(func)
    return decorator
