"""AWS SDK calls as client spans (``S3.GetObject``, ``DynamoDB.PutItem``) with the attributes X-Ray uses.

The applications call boto3 through :func:`aws_call`, so every call is a client span named
``<Service>.<Operation>`` with ``rpc.system=aws-api`` (the collector infers the downstream AWS node from
it) and the HTTP status and request id of the answer, failed or not.
"""

from __future__ import annotations

import os
from typing import Any

from spanscope.tracer import span

_SERVICE_NAMES = {"IoT Data Plane": "IoTCore", "SFN": "StepFunctions"}


def client(service: str, **kwargs: Any) -> Any:
    """A boto3 client configured the way the platform configures it (region, endpoint, credentials from env)."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=kwargs.pop("connect_timeout", 2),
        read_timeout=kwargs.pop("read_timeout", 10),
    )
    endpoint = kwargs.pop("endpoint_url", None) or os.environ.get("AWS_ENDPOINT_URL")
    region = kwargs.pop("region_name", None) or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return boto3.client(service, endpoint_url=endpoint, region_name=region, config=config, **kwargs)


def service_name(client: Any) -> str:
    service_id = str(client.meta.service_model.service_id)
    return _SERVICE_NAMES.get(service_id, service_id.replace(" ", ""))


def aws_call(client: Any, operation: str, **kwargs: Any) -> Any:
    """``client.<operation>(**kwargs)`` inside a client span; the botocore exception propagates unchanged."""
    from botocore.exceptions import ClientError

    service = service_name(client)
    method = client.meta.method_to_api_mapping
    api_name = method.get(operation, operation)
    attrs: dict[str, object] = {
        "rpc.system": "aws-api",
        "rpc.service": service,
        "rpc.method": api_name,
        "aws.operation": api_name,
        "cloud.region": client.meta.region_name or "",
    }
    for key in ("TableName", "Bucket", "Key", "QueueUrl"):
        if isinstance(kwargs.get(key), str):
            attrs[f"aws.{key.lower()}"] = kwargs[key]
    with span(f"{service}.{api_name}", kind="client", attributes=attrs) as s:
        try:
            response = getattr(client, operation)(**kwargs)
        except ClientError as exc:
            meta = exc.response.get("ResponseMetadata", {})
            if meta.get("HTTPStatusCode"):
                s.set_attribute("http.response.status_code", int(meta["HTTPStatusCode"]))
            if meta.get("RequestId"):
                s.set_attribute("aws.request_id", str(meta["RequestId"]))
            raise
        meta = response.get("ResponseMetadata", {}) if isinstance(response, dict) else {}
        if meta.get("HTTPStatusCode"):
            s.set_attribute("http.response.status_code", int(meta["HTTPStatusCode"]))
        if meta.get("RequestId"):
            s.set_attribute("aws.request_id", str(meta["RequestId"]))
        return response
