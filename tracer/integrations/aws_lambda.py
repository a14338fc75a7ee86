"""``@lambda_handler``: one server span per invocation, continuing Lambda's facade segment.

The span's parent is the facade (the ``Parent`` of ``_X_AMZN_TRACE_ID``), so the collector sees the same
shape as X-Ray: ``AWS::Lambda`` facade -> ``AWS::Lambda::Function`` (via resource ``cloud.platform``).
Cold start is known by a per-handler ``Invocations`` object (no module-level flag); the error is recorded
and re-raised unchanged; spans are flushed before returning, bounded by the time the invocation has left.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, overload

from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode
from spanscope.tracer import conventions as c
from spanscope.tracer.api import annotate, span
from spanscope.tracer.health import HEALTH
from spanscope.tracer.integrations.messaging import sqs_links
from spanscope.tracer.lifecycle import force_flush
from spanscope.tracer.propagation import XRAY_ENV, context_from_environ, extract
from spanscope.tracer.runtime import RUNTIME, env_disabled

H = TypeVar("H", bound=Callable[..., Any])
_IMPORTED_NS = time.time_ns()


def process_start_ns() -> int:
    """When this process started (Unix ns) from /proc; the tracer's import time when /proc is unavailable."""
    try:
        with open("/proc/self/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])
        with open("/proc/stat", encoding="ascii") as handle:
            boot_s = next(int(line.split()[1]) for line in handle if line.startswith("btime"))
        return int((boot_s + start_ticks / os.sysconf("SC_CLK_TCK")) * 1e9)
    except Exception:
        return _IMPORTED_NS


class Invocations:
    """Per-handler, per-process invocation state: knows which call is this process's first (cold)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None

    def claim_cold(self) -> bool:
        """True exactly once per process (a forked child starts cold again)."""
        pid = os.getpid()
        if self._pid == pid:
            return False
        with self._lock:
            if self._pid == pid:
                return False
            self._pid = pid
            return True


def trigger_of(event: object) -> str:
    """The ``faas.trigger`` of an event: http, pubsub, datasource, timer or other."""
    if not isinstance(event, Mapping):
        return "other"
    if "requestContext" in event or "httpMethod" in event or "routeKey" in event:
        return "http"
    if event.get("source") == "aws.events" or event.get("detail-type") == "Scheduled Event":
        return "timer"
    records = event.get("Records")
    if isinstance(records, list) and records and isinstance(records[0], Mapping):
        source = records[0].get("eventSource") or records[0].get("EventSource") or ""
        if source in ("aws:sqs", "aws:sns", "aws:kinesis"):
            return "pubsub"
        if source in ("aws:s3", "aws:dynamodb"):
            return "datasource"
    return "other"


def _is_sqs(event: object) -> bool:
    if not isinstance(event, Mapping):
        return False
    records = event.get("Records")
    return (
        isinstance(records, list)
        and bool(records)
        and isinstance(records[0], Mapping)
        and records[0].get("eventSource") == "aws:sqs"
    )


INIT_TYPE_ENV = "AWS_LAMBDA_INITIALIZATION_TYPE"
PROVISIONED = "provisioned-concurrency"
SNAP_START = "snap-start"
_RESTORED_NS: list[int] = []  # when the SnapStart runtime resumed this process (its after-restore hook)


def _register_restore_hook() -> None:
    """Note the time SnapStart resumes the process (the runtime's ``snapshot_restore_py`` hooks), if present."""
    if os.environ.get(INIT_TYPE_ENV) != SNAP_START:
        return
    try:
        from snapshot_restore_py import register_after_restore

        register_after_restore(lambda: _RESTORED_NS.append(time.time_ns()))
    except Exception:  # not in a SnapStart runtime: restore time unknown
        return


_register_restore_hook()


def initialization_type() -> str:
    """``AWS_LAMBDA_INITIALIZATION_TYPE``: on-demand (the default), provisioned-concurrency or snap-start."""
    return os.environ.get(INIT_TYPE_ENV) or "on-demand"


def _header(event: object, name: str) -> str:
    """An HTTP header of an API Gateway / function URL / ALB event (names compared case-insensitively)."""
    headers = event.get("headers") if isinstance(event, Mapping) else None
    if not isinstance(headers, Mapping):
        return ""
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == name and isinstance(value, str):
            return value
    return ""


def invocation_attributes(event: object, context: object, cold: bool, start_ns: int) -> dict[str, object]:
    """faas.* / cloud.* attributes of one invocation.

    ``cold`` is whether this is the sandbox's first invocation. As Powertools does, only an on-demand or
    SnapStart first invocation is a cold start: a provisioned-concurrency sandbox was initialised before
    any request arrived, so its init delays nothing. The init duration is recorded only where it delayed
    the request (on-demand); SnapStart records the restore instead (resume to first request) when the
    runtime's restore hook ran.
    """
    init_type = initialization_type()
    first = cold
    cold = first and init_type != PROVISIONED
    attrs: dict[str, object] = {c.FAAS_TRIGGER: trigger_of(event), c.FAAS_COLDSTART: cold}
    if init_type != "on-demand":
        attrs[c.FAAS_INIT_TYPE] = init_type
    request_id = getattr(context, "aws_request_id", None)
    if isinstance(request_id, str):
        attrs[c.FAAS_INVOCATION_ID] = request_id
    cf_id = _header(event, "x-amz-cf-id")
    if cf_id:
        attrs[c.CF_REQUEST_ID] = cf_id  # the x-edge-request-id of CloudFront's access log: joins its edge span
    arn = getattr(context, "invoked_function_arn", None)
    if isinstance(arn, str):
        attrs[c.LAMBDA_ARN] = arn
        parts = arn.split(":")
        if len(parts) > 4 and parts[4]:
            attrs[c.CLOUD_ACCOUNT] = parts[4]
    memory_mb = getattr(context, "memory_limit_in_mb", None)
    if isinstance(memory_mb, str | int) and str(memory_mb).isdigit():
        attrs["faas.max_memory"] = int(memory_mb) * 1024 * 1024  # OTel semconv: bytes
    function = getattr(context, "function_name", None) or os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
    if isinstance(function, str):
        attrs[c.FAAS_NAME] = function
    if cold and init_type == SNAP_START:
        if _RESTORED_NS:
            attrs[c.FAAS_RESTORE_DURATION_NS] = max(0, start_ns - _RESTORED_NS[-1])
    elif cold:
        attrs[c.FAAS_INIT_DURATION_NS] = max(0, start_ns - process_start_ns())
    return attrs


def parent_context(event: object) -> Context:
    """The invocation's parent: the facade from ``_X_AMZN_TRACE_ID``, else the event's HTTP headers."""
    if os.environ.get(XRAY_ENV):
        return context_from_environ({XRAY_ENV: os.environ[XRAY_ENV]})
    if isinstance(event, Mapping) and isinstance(event.get("headers"), Mapping):
        return extract(event["headers"])
    return Context()


def _remaining_millis(context: object) -> int | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining):
        try:
            return int(remaining())
        except Exception:
            return None
    return None


def _record_response(s: Any, result: object) -> None:
    if isinstance(result, Mapping):
        status = result.get("statusCode")
        if isinstance(status, int) and not isinstance(status, bool):
            s.set_attribute(c.HTTP_STATUS, status)
            if status >= 500:
                s.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))


@overload
def lambda_handler(func: H, /) -> H: ...


@overload
def lambda_handler(
    *, name: str | None = None, flush_timeout_millis: int = 2000, flush_margin_millis: int = 200
) -> Callable[[H], H]: ...


def lambda_handler(
    func: Any = None,
    /,
    *,
    name: str | None = None,
    flush_timeout_millis: int = 2000,
    flush_margin_millis: int = 200,
) -> Any:
    """Trace a Lambda handler ``(event, context)``: bare ``@lambda_handler`` or ``@lambda_handler(name=...)``."""

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
                cold = invocations.claim_cold()
                attrs = invocation_attributes(event, context, cold, start_ns)
                links = sqs_links(event["Records"]) if _is_sqs(event) else None
                parent = parent_context(event)
                span_name = name or str(attrs.get(c.FAAS_NAME) or getattr(handler, "__name__", "handler"))
                scope = span(span_name, kind=SpanKind.SERVER, attributes=attrs, links=links, parent=parent)
            except Exception as exc:
                HEALTH.fail("lambda_setup", exc)
                return handler(event, context, *args, **kwargs)
            try:
                with scope as s:
                    annotate("ColdStart", attrs[c.FAAS_COLDSTART] is True)
                    result = handler(event, context, *args, **kwargs)
                    try:
                        _record_response(s, result)
                    except Exception as exc:
                        HEALTH.fail("lambda_response", exc)
                    return result
            finally:
                try:
                    remaining = _remaining_millis(context)
                    budget = flush_timeout_millis
                    if remaining is not None:
                        budget = max(0, min(budget, remaining - flush_margin_millis))
                    force_flush(budget)
                except Exception as exc:  # never replace the handler's own outcome
                    HEALTH.fail("lambda_flush", exc)

        return wrapper  # type: ignore[return-value]

    if func is not None:
        return decorator(func)
    return decorator
