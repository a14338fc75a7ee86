"""Who a node on the service map is: node keys and kinds, X-Ray's AWS types, inferred downstream nodes, placements.

>>> remote_node(Span("t", "s", None, "api", "GetItem", namespace="aws", remote_service="DynamoDB"))
('aws', ('DynamoDB', 'AWS::DynamoDB::Table'))
"""

from __future__ import annotations

from typing import Any

from spanscope.collectors.conventions import (
    CLOUD_ACCOUNT,
    CLOUD_REGION,
    LOCATION,
    ORIGIN_CLIENT,
    ORIGIN_REMOTE,
    origin_from_resource,
    remote_from_attributes,
)
from spanscope.collectors.model import Span

NodeKey = tuple[str, str]
EdgeKey = tuple[NodeKey, NodeKey]

CLIENT_NODE: NodeKey = ("client", ORIGIN_CLIENT)
UNKNOWN_SERVICE = "unknown"

#: Node kinds (the ``kind`` node attribute).
KIND_SERVICE = "service"
KIND_INFERRED = "inferred"
KIND_CLIENT = "client"

# X-Ray's resource types for AWS services called through an SDK (namespace "aws"), by lowercased name.
_AWS_TYPES: dict[str, str] = {
    "dynamodb": "AWS::DynamoDB::Table",
    "s3": "AWS::S3::Bucket",
    "sqs": "AWS::SQS::Queue",
    "sns": "AWS::SNS::Topic",
    "lambda": "AWS::Lambda",
    "kinesis": "AWS::Kinesis::Stream",
    "sfn": "AWS::StepFunctions::StateMachine",
    "stepfunctions": "AWS::StepFunctions::StateMachine",
    "states": "AWS::StepFunctions::StateMachine",
    "eventbridge": "AWS::Events::EventBus",
    "events": "AWS::Events::EventBus",
    "apigateway": "AWS::ApiGateway::Stage",
    "batch": "AWS::Batch::JobQueue",
    "emr": "AWS::EMR::Cluster",
}
#: Calls whose span may be the target of a link (the producer side of asynchronous work), lowercased.
ASYNC_SERVICES = frozenset(
    {"sqs", "sns", "batch", "sfn", "stepfunctions", "states", "lambda", "kinesis", "eventbridge", "events"}
)


def aws_type(service: str) -> str:
    """X-Ray's node type for an AWS service called through an SDK.

    >>> aws_type("DynamoDB"), aws_type("Textract")
    ('AWS::DynamoDB::Table', 'AWS::Textract')
    """
    known = _AWS_TYPES.get(service.lower().replace(" ", ""))
    return known or "AWS::" + "".join(service.split())


def remote_node(span: Span) -> tuple[str, NodeKey]:
    """(namespace, inferred node key) of a downstream call recorded by ``span``."""
    namespace, name = span.namespace, span.remote_service
    if not namespace or not name:
        derived_ns, derived_name = remote_from_attributes(span.attributes)
        namespace = namespace or derived_ns
        name = name or derived_name
    if not name:
        name = span.name or UNKNOWN_SERVICE
    if namespace == "aws":
        return namespace, (name, aws_type(name))
    return namespace, (name, ORIGIN_REMOTE)


def resource_facts(resource: dict[str, Any]) -> tuple[str, str | None, str | None, str | None]:
    """(origin, spanscope.location, cloud.region, cloud.account.id) that a resource gives its spans."""
    where = resource.get(LOCATION)
    region = resource.get(CLOUD_REGION)
    account = resource.get(CLOUD_ACCOUNT)
    return (
        origin_from_resource(resource, {}),
        where if isinstance(where, str) and where else None,
        region if isinstance(region, str) and region else None,
        str(account) if isinstance(account, (str, int)) and not isinstance(account, bool) and account else None,
    )


def span_location(span: Span) -> str | None:
    """Placement of a span: ``spanscope.location``, else ``cloud.region``, from its attributes or resource."""
    for key in (LOCATION, CLOUD_REGION):
        for source in (span.attributes, span.resource):
            value = source.get(key)
            if isinstance(value, str) and value:
                return value
    return None
