"""Async hand-offs between AWS services: SQS (AWSTraceHeader), Step Functions (traceHeader), Batch submit.

Producers put the X-Amzn-Trace-Id of a producer/client span into the hand-off; consumers start a span
whose *link* (``spanscope.link.kind``) points at the producer, as X-Ray does for SQS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final

from opentelemetry import trace as otel_trace
from opentelemetry.trace import Link, SpanKind
from spanscope.tracer import conventions as c
from spanscope.tracer.api import span
from spanscope.tracer.health import HEALTH
from spanscope.tracer.propagation import (
    context_from_xray,
    environ_for_context,
    parse_xray_header,
    xray_header_for,
)

AWS_TRACE_HEADER: Final = "AWSTraceHeader"
MAX_LINKS: Final = 128


def link_from_xray(header: str | None, kind: str) -> Link | None:
    """A span link to the producer named by an X-Amzn-Trace-Id value (None when it has no Parent)."""
    parsed = parse_xray_header(header)
    if parsed is None or parsed.parent is None:
        return None
    span_context = otel_trace.get_current_span(context_from_xray(parsed)).get_span_context()
    return Link(span_context, {c.LINK_KIND: kind})


def sqs_trace_header(message: Mapping[str, Any]) -> str | None:
    """The AWSTraceHeader of an SQS message: a Lambda event record or a ``receive_message`` message."""
    for key in ("attributes", "Attributes"):
        attributes = message.get(key)
        if isinstance(attributes, Mapping):
            value = attributes.get(AWS_TRACE_HEADER)
            if isinstance(value, str):
                return value
    system = message.get("MessageSystemAttributes")
    if isinstance(system, Mapping):
        entry = system.get(AWS_TRACE_HEADER)
        if isinstance(entry, Mapping) and isinstance(entry.get("StringValue"), str):
            return str(entry["StringValue"])
    return None


def sqs_links(messages: Iterable[Mapping[str, Any]]) -> list[Link]:
    """Links to the producers of SQS messages (at most ``MAX_LINKS``)."""
    links: list[Link] = []
    for message in messages:
        if len(links) >= MAX_LINKS:
            break
        try:
            link = link_from_xray(sqs_trace_header(message), "sqs")
        except Exception as exc:
            HEALTH.fail("sqs_link_error", exc)
            link = None
        if link is not None:
            links.append(link)
    return links


def _queue_name(message: Mapping[str, Any]) -> str:
    arn = message.get("eventSourceARN")
    if isinstance(arn, str) and arn:
        return arn.rsplit(":", 1)[-1]
    return "sqs"


def _record_attributes(message: Mapping[str, Any]) -> dict[str, object]:
    attrs: dict[str, object] = {"messaging.system": "aws_sqs", "messaging.operation.type": "process"}
    message_id = message.get("messageId") or message.get("MessageId")
    if isinstance(message_id, str):
        attrs["messaging.message.id"] = message_id
    arn = message.get("eventSourceARN")
    if isinstance(arn, str):
        attrs["messaging.destination.name"] = _queue_name(message)
    return attrs


def sqs_records(event_or_messages: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """Iterate SQS records (a Lambda event's ``Records`` or ``receive_message``'s ``Messages``), each inside
    its own consumer span linked to its producer: ``for record in sqs_records(event): handle(record)``."""
    if isinstance(event_or_messages, Mapping):
        key = "Records" if "Records" in event_or_messages else "Messages"
        records = event_or_messages.get(key) or []
    else:
        records = event_or_messages
    for record in records:
        if not isinstance(record, Mapping):
            yield record
            continue
        link = None
        try:
            link = link_from_xray(sqs_trace_header(record), "sqs")
        except Exception as exc:
            HEALTH.fail("sqs_link_error", exc)
        with span(
            f"{_queue_name(record)} process",
            kind=SpanKind.CONSUMER,
            attributes=_record_attributes(record),
            links=[link] if link else None,
        ):
            yield record


def process_sqs_batch(
    event: Mapping[str, Any], handle: Callable[[Mapping[str, Any]], object]
) -> dict[str, list[dict[str, str]]]:
    """Run ``handle`` on each record of an SQS Lambda event in its own linked consumer span; a failing
    record is recorded on its span and reported in the partial batch response (``batchItemFailures``)."""
    failures: list[dict[str, str]] = []
    for record in event.get("Records") or []:
        link = link_from_xray(sqs_trace_header(record), "sqs") if isinstance(record, Mapping) else None
        try:
            with span(
                f"{_queue_name(record)} process",
                kind=SpanKind.CONSUMER,
                attributes=_record_attributes(record),
                links=[link] if link else None,
            ):
                handle(record)
        except Exception:
            failures.append({"itemIdentifier": str(record.get("messageId", ""))})
    return {"batchItemFailures": failures}


def _aws_call(service: str, operation: str) -> dict[str, str]:
    """The attributes every AWS SDK call span carries: rpc.system, rpc.service, rpc.method, aws.operation."""
    return {c.RPC_SYSTEM: "aws-api", c.RPC_SERVICE: service, c.RPC_METHOD: operation, c.AWS_OPERATION: operation}


def _queue_from_url(url: object) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1] if isinstance(url, str) and url else "sqs"


def send_sqs_message(client: Any, **kwargs: Any) -> Any:
    """``client.send_message(**kwargs)`` inside a producer span whose X-Ray header rides as ``AWSTraceHeader``."""
    queue_url = kwargs.get("QueueUrl")
    attrs = {
        **_aws_call("SQS", "SendMessage"),
        c.AWS_QUEUE_URL: str(queue_url or ""),
        # what the service map names the queue node by (OTel messaging conventions)
        "messaging.system": "aws_sqs",
        "messaging.destination.name": _queue_from_url(queue_url),
        "messaging.operation.type": "send",
    }
    with span(f"{_queue_from_url(queue_url)} send", kind=SpanKind.PRODUCER, attributes=attrs):
        header = xray_header_for()
        if header:
            system = dict(kwargs.get("MessageSystemAttributes") or {})
            system[AWS_TRACE_HEADER] = {"DataType": "String", "StringValue": header}
            kwargs["MessageSystemAttributes"] = system
        return client.send_message(**kwargs)


def start_execution(client: Any, **kwargs: Any) -> Any:
    """``stepfunctions.start_execution(**kwargs)`` in a client span, passing its X-Ray header as ``traceHeader``."""
    attrs = _aws_call("StepFunctions", "StartExecution")
    with span("StepFunctions StartExecution", kind=SpanKind.CLIENT, attributes=attrs):
        header = xray_header_for()
        if header and "traceHeader" not in kwargs:
            kwargs["traceHeader"] = header
        return client.start_execution(**kwargs)


def batch_environment(overrides: Iterable[Mapping[str, str]] = ()) -> list[dict[str, str]]:
    """``containerOverrides.environment`` entries carrying the current context (merged with ``overrides``)."""
    carried = environ_for_context()
    merged = [dict(item) for item in overrides if item.get("name") not in carried]
    merged.extend({"name": name, "value": value} for name, value in carried.items())
    return merged


def submit_batch_job(client: Any, **kwargs: Any) -> Any:
    """``batch.submit_job(**kwargs)`` in a client span; the job (and every array child) continues it."""
    attrs = {
        **_aws_call("Batch", "SubmitJob"),
        c.BATCH_QUEUE: str(kwargs.get("jobQueue", "")),
    }
    with span(f"Batch SubmitJob {kwargs.get('jobName', '')}".strip(), kind=SpanKind.CLIENT, attributes=attrs) as s:
        overrides = dict(kwargs.get("containerOverrides") or {})
        overrides["environment"] = batch_environment(overrides.get("environment") or ())
        kwargs["containerOverrides"] = overrides
        response = client.submit_job(**kwargs)
        try:
            if isinstance(response, Mapping) and response.get("jobId"):
                s.set_attribute(c.BATCH_JOB_ID, str(response["jobId"]))
        except Exception as exc:
            HEALTH.fail("batch_submit_attribute", exc)
        return response
