"""The X-Ray document blocks built from attributes: ``http``, ``aws``, ``cause``, the fault/error/throttle flags,
and which attributes become annotations and which metadata (the rules of OpenTelemetry's ``awsxrayexporter``).

>>> http_block({"http.request.method": "GET", "http.response.status_code": 429}, server=False)
{'request': {'method': 'GET'}, 'response': {'status': 429}}
>>> status_flags(status_of(429, error_status=False))
{'error': True, 'throttle': True}
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Final

from spanscope.tracer.xray import names as n
from spanscope.tracer.xray.core.text import (
    MAX_HTTP_FIELD_CHARS,
    MAX_STACK_FRAMES,
    annotation_value,
    fix_annotation_key,
    metadata_value,
)

_PY_FRAME_RE: Final = re.compile(r'^  File "(?P<path>.*)", line (?P<line>\d+)(?:, in (?P<label>.*))?$')
_CHAIN_LINES: Final = (
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
)

# Keys that the http / aws blocks consume (they do not reappear in the metadata).
HTTP_KEYS: Final = frozenset(
    {
        n.HTTP_METHOD,
        n.HTTP_METHOD_OLD,
        n.HTTP_URL,
        n.HTTP_URL_OLD,
        n.HTTP_STATUS,
        n.HTTP_STATUS_OLD,
        n.HTTP_USER_AGENT,
        n.HTTP_USER_AGENT_OLD,
        n.HTTP_CLIENT_IP,
        n.HTTP_CLIENT_IP_OLD,
        n.HTTP_RESPONSE_SIZE,
        n.HTTP_RESPONSE_SIZE_OLD,
    }
)
AWS_KEYS: Final = frozenset(
    {
        n.AWS_OPERATION,
        n.AWS_REQUEST_ID,
        n.AWS_REQUEST_ID_2,
        n.AWS_REGION,
        n.AWS_ACCOUNT,
        n.AWS_TABLE,
        n.AWS_TABLE_2,
        n.AWS_QUEUE_URL,
        n.AWS_QUEUE_URL_2,
    }
)


def text_of(value: object) -> str:
    """The value when it is a string, else ""."""
    return value if isinstance(value, str) else ""


def first(attributes: Mapping[str, Any], *keys: str) -> Any:
    """The value of the first of ``keys`` that is set and not empty, else None."""
    for key in keys:
        value = attributes.get(key)
        if value is not None and value != "":
            return value
    return None


# --- fault / error / throttle --------------------------------------------------------------------------


def http_status(attributes: Mapping[str, Any]) -> int | None:
    """The HTTP status code under the current or the older attribute name."""
    for key in (n.HTTP_STATUS, n.HTTP_STATUS_OLD):
        value = attributes.get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.isdigit():
            return int(value)
    return None


def status_of(http_code: int | None, *, error_status: bool) -> str:
    """X-Ray's outcome: 429 ``throttle``, other 4xx ``error``, 5xx or an error span status ``fault``, else ``ok``."""
    if http_code is not None and 400 <= http_code <= 499:
        return "throttle" if http_code == 429 else "error"
    if (http_code is not None and 500 <= http_code <= 599) or error_status:
        return "fault"
    return "ok"


def status_flags(status: str) -> dict[str, bool]:
    """The document's flags for an outcome (``ok``, ``error``, ``throttle`` (an error too) or ``fault``)."""
    if status == "fault":
        return {"fault": True}
    if status == "throttle":
        return {"error": True, "throttle": True}
    if status == "error":
        return {"error": True}
    return {}


# --- http ----------------------------------------------------------------------------------------------


def http_block(attributes: Mapping[str, Any], *, server: bool) -> dict[str, Any]:
    """``{"request": ..., "response": ...}`` from the HTTP attributes ({} without any); a ``server`` span with
    a method but no URL gets one rebuilt from scheme, host, port, path and query."""
    request: dict[str, Any] = {}
    response: dict[str, Any] = {}
    method = first(attributes, n.HTTP_METHOD, n.HTTP_METHOD_OLD)
    if method is not None:
        request["method"] = str(method)[:MAX_HTTP_FIELD_CHARS]
    url = text_of(first(attributes, n.HTTP_URL, n.HTTP_URL_OLD))
    if not url and request and server:
        url = _server_url(attributes)
    if url:
        request["url"] = url[:MAX_HTTP_FIELD_CHARS]
    agent = first(attributes, n.HTTP_USER_AGENT, n.HTTP_USER_AGENT_OLD)
    if agent is not None:
        request["user_agent"] = str(agent)[:MAX_HTTP_FIELD_CHARS]
    forwarded = attributes.get(n.HTTP_CLIENT_IP_OLD)
    client_ip = forwarded if forwarded is not None else attributes.get(n.HTTP_CLIENT_IP)
    if client_ip is not None:
        request["client_ip"] = str(client_ip)[:MAX_HTTP_FIELD_CHARS]
        if forwarded is not None:
            request["x_forwarded_for"] = True
    status = http_status(attributes)
    if status is not None:
        response["status"] = status
    size = first(attributes, n.HTTP_RESPONSE_SIZE, n.HTTP_RESPONSE_SIZE_OLD)
    if isinstance(size, int) and not isinstance(size, bool):
        response["content_length"] = size
    http: dict[str, Any] = {}
    if request:
        http["request"] = request
    if response:
        http["response"] = response
    return http


def _server_url(attributes: Mapping[str, Any]) -> str:
    scheme = text_of(first(attributes, n.URL_SCHEME, n.HTTP_SCHEME_OLD)) or "http"
    host = text_of(first(attributes, n.HTTP_HOST_OLD, n.SERVER_ADDRESS))
    if not host:
        return text_of(first(attributes, n.URL_PATH, n.HTTP_TARGET_OLD))
    port = attributes.get(n.SERVER_PORT)
    if port is not None and ":" not in host and (scheme, str(port)) not in (("http", "80"), ("https", "443")):
        host = f"{host}:{port}"
    target = text_of(attributes.get(n.HTTP_TARGET_OLD))
    if not target:
        target = text_of(attributes.get(n.URL_PATH)) or "/"
        query = text_of(attributes.get(n.URL_QUERY))
        if query:
            target = f"{target}?{query}"
    return f"{scheme}://{host}{target}"


# --- aws -----------------------------------------------------------------------------------------------


def aws_block(attributes: Mapping[str, Any], resource: Mapping[str, Any], *, segment: bool) -> dict[str, Any]:
    """The ``aws`` block: the call (operation, region, request id, queue, tables, account) and, for a
    segment, where it ran (account, EC2 instance and zone, ECS container) from the resource."""
    aws: dict[str, Any] = {}
    operation = first(attributes, n.AWS_OPERATION)
    if operation is None and attributes.get(n.RPC_SYSTEM) == "aws-api":
        operation = attributes.get(n.RPC_METHOD)
    if operation is not None:
        aws["operation"] = str(operation)
    region = first(attributes, n.AWS_REGION)
    if region is not None:
        aws["region"] = str(region)
    request_id = first(attributes, n.AWS_REQUEST_ID, n.AWS_REQUEST_ID_2)
    if request_id is not None:
        aws["request_id"] = str(request_id)
    queue_url = first(attributes, n.AWS_QUEUE_URL, n.AWS_QUEUE_URL_2)
    if queue_url is not None:
        aws["queue_url"] = str(queue_url)
    aws.update(_tables(attributes))
    account = first(attributes, n.AWS_ACCOUNT)
    if account is None and segment:
        account = first(resource, n.CLOUD_ACCOUNT)
    if account is not None:
        aws["account_id"] = str(account)
    if segment:
        aws.update(_where_it_ran(resource))
    return aws


def _tables(attributes: Mapping[str, Any]) -> dict[str, Any]:
    tables = attributes.get(n.AWS_TABLE)
    if isinstance(tables, str) and tables:
        return {"table_name": tables}
    if isinstance(tables, Sequence) and tables:
        names = [str(t) for t in tables]
        return {"table_name": names[0]} if len(names) == 1 else {"table_names": names}
    if attributes.get(n.AWS_TABLE_2):
        return {"table_name": str(attributes[n.AWS_TABLE_2])}
    return {}


def _where_it_ran(resource: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    platform = text_of(resource.get(n.CLOUD_PLATFORM))
    host_id = text_of(resource.get(n.HOST_ID))
    if platform == "aws_ec2" or host_id:
        ec2: dict[str, Any] = {}
        if host_id:
            ec2["instance_id"] = host_id
        zone = text_of(resource.get(n.CLOUD_AZ))
        if zone:
            ec2["availability_zone"] = zone
        out["ec2"] = ec2
    if platform == "aws_ecs":
        container = text_of(resource.get(n.CONTAINER_NAME))
        out["ecs"] = {"container": container} if container else {}
    return out


# --- cause ---------------------------------------------------------------------------------------------


def exception_entry(
    base_id: str, index: int, *, type_name: str, message: str, remote: bool, stacktrace: str
) -> dict[str, Any]:
    """One ``cause.exceptions`` entry; its id is derived from ``base_id`` (the span id) and ``index``, so
    sending a span again yields the same document; Python tracebacks become stack frames."""
    exception: dict[str, Any] = {
        "id": exception_id(base_id, index),
        "type": type_name,
        "message": message,
        "remote": remote,
    }
    stack, skipped = python_stack(stacktrace)
    if stack:
        exception["stack"] = stack
    if skipped:
        exception["truncated"] = skipped
    return exception


def exception_id(base_id: str, index: int) -> str:
    """Deterministic 16-hex id, so re-sending a span yields the same document."""
    return hashlib.blake2b(f"{base_id}:{index}".encode(), digest_size=8).hexdigest()


def python_stack(stacktrace: str) -> tuple[list[dict[str, Any]], int]:
    """Frames of the last exception in a Python traceback, innermost first; (frames, frames left out)."""
    if not stacktrace:
        return [], 0
    lines = stacktrace.split("\n")
    start = 0
    for index, line in enumerate(lines):
        if line.strip() in _CHAIN_LINES:
            start = index + 1
    frames: list[dict[str, Any]] = []
    for line in lines[start:]:
        match = _PY_FRAME_RE.match(line)
        if match:
            frame: dict[str, Any] = {"path": match["path"], "line": int(match["line"])}
            if match["label"]:
                frame["label"] = match["label"]
            frames.append(frame)
    frames.reverse()
    skipped = max(0, len(frames) - MAX_STACK_FRAMES)
    return frames[:MAX_STACK_FRAMES], skipped


# --- annotations and metadata --------------------------------------------------------------------------


def indexed_keys(attributes: Mapping[str, Any], configured: Iterable[str] = ()) -> set[str]:
    """The keys to index: ``configured`` plus those listed in ``aws.xray.annotations`` (a string or a list)."""
    indexed = set(configured)
    listed = attributes.get(n.XRAY_ANNOTATIONS_KEY)
    if isinstance(listed, str):
        indexed.add(listed)
    elif isinstance(listed, Sequence):
        indexed.update(k for k in listed if isinstance(k, str))
    return indexed


def split_annotations(
    attributes: Mapping[str, Any], *, consumed: Collection[str], indexed: Collection[str], index_all: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(annotations, metadata): indexed attributes with a legal key and value become annotations, every other
    attribute not ``consumed`` by a block is kept as JSON-safe metadata."""
    annotations: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    for key, value in attributes.items():
        if key in consumed:
            continue
        if index_all or key in indexed:
            fixed = fix_annotation_key(key)
            legal = annotation_value(value)
            if fixed and legal is not None:
                annotations[fixed] = legal
                continue
        metadata[key] = metadata_value(value)
    return annotations, metadata
