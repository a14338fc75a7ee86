"""Attribute names and origin types that the tracer writes and the collectors and analyzers read.

OpenTelemetry semantic conventions are used where they exist; ``spanscope.*`` names fill the gaps.
The tracer keeps its own copy of these strings (it imports nothing of ours); a test checks both agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from spanscope.collectors.model import Kind, Status, status_from_http

# --- origins (X-Ray segment ``origin`` / node type) -------------------------------------------------
ORIGIN_LAMBDA: Final = "AWS::Lambda::Function"
ORIGIN_LAMBDA_FACADE: Final = "AWS::Lambda"
ORIGIN_EC2: Final = "AWS::EC2::Instance"
ORIGIN_ECS: Final = "AWS::ECS::Container"
ORIGIN_EKS: Final = "AWS::EKS::Container"
ORIGIN_BEANSTALK: Final = "AWS::ElasticBeanstalk::Environment"
ORIGIN_STEPFUNCTIONS: Final = "AWS::StepFunctions::StateMachine"
ORIGIN_CLIENT: Final = "client"
# Custom types (X-Ray has none for these workloads): clearly ours, never mistaken for AWS's.
ORIGIN_LAMBDA_EDGE: Final = "spanscope::Lambda@Edge::Function"
ORIGIN_BATCH: Final = "spanscope::Batch::Job"
ORIGIN_EMR: Final = "spanscope::EMR::Job"
ORIGIN_EDGE_DEVICE: Final = "spanscope::Greengrass::Device"
ORIGIN_HPC: Final = "spanscope::HPC::Rank"
# Inferred downstream nodes.
ORIGIN_REMOTE: Final = "remote"

# OTel ``cloud.platform`` values -> origin; ``spanscope.origin`` (resource or span) overrides.
PLATFORM_ORIGINS: Final[Mapping[str, str]] = {
    "aws_lambda": ORIGIN_LAMBDA,
    "aws_ec2": ORIGIN_EC2,
    "aws_ecs": ORIGIN_ECS,
    "aws_eks": ORIGIN_EKS,
    "aws_elastic_beanstalk": ORIGIN_BEANSTALK,
}

# --- resource / placement -----------------------------------------------------------------------------
SERVICE_NAME: Final = "service.name"
ORIGIN: Final = "spanscope.origin"
CLOUD_PROVIDER: Final = "cloud.provider"
CLOUD_PLATFORM: Final = "cloud.platform"
CLOUD_REGION: Final = "cloud.region"
CLOUD_AZ: Final = "cloud.availability_zone"
CLOUD_ACCOUNT: Final = "cloud.account.id"
LOCATION: Final = "spanscope.location"  # "us-east-1", "edge:IAD89-C1", "outpost:op-0abc", "device:thing-7"

# --- HTTP (X-Ray http block) ------------------------------------------------------------------------
HTTP_METHOD: Final = "http.request.method"
HTTP_URL: Final = "url.full"
HTTP_STATUS: Final = "http.response.status_code"
HTTP_USER_AGENT: Final = "user_agent.original"
HTTP_CLIENT_IP: Final = "client.address"
USER: Final = "enduser.id"
# Older OTel names still found in real data (read only).
HTTP_METHOD_OLD: Final = "http.method"
HTTP_URL_OLD: Final = "http.url"
HTTP_STATUS_OLD: Final = "http.status_code"
HTTP_USER_AGENT_OLD: Final = "http.user_agent"
HTTP_CLIENT_IP_OLD: Final = "http.client_ip"

# --- downstream calls ---------------------------------------------------------------------------------
RPC_SYSTEM: Final = "rpc.system"  # "aws-api" for AWS SDK calls
RPC_SERVICE: Final = "rpc.service"  # "DynamoDB", "S3", "SQS"
RPC_METHOD: Final = "rpc.method"
PEER_SERVICE: Final = "peer.service"
SERVER_ADDRESS: Final = "server.address"
NET_PEER_NAME_OLD: Final = "net.peer.name"
AWS_OPERATION: Final = "aws.operation"
AWS_REQUEST_ID: Final = "aws.request_id"
AWS_TABLE: Final = "aws.dynamodb.table_names"
AWS_QUEUE_URL: Final = "aws.sqs.queue_url"

# --- messaging (producer -> destination -> consumer) ---------------------------------------------------
MESSAGING_SYSTEM: Final = "messaging.system"  # "aws_sqs", "aws_sns", "aws_eventbridge", "aws_kinesis", "kafka"
MESSAGING_DESTINATION: Final = "messaging.destination.name"
MESSAGING_OPERATION_TYPE: Final = "messaging.operation.type"  # "send" | "publish" | "receive" | "process"
MESSAGING_DESTINATION_OLD: Final = "messaging.destination"
MESSAGING_URL_OLD: Final = "messaging.url"
MESSAGING_OPERATION_OLD: Final = "messaging.operation"

# --- Lambda / Lambda@Edge -----------------------------------------------------------------------------
FAAS_COLDSTART: Final = "faas.coldstart"
FAAS_NAME: Final = "faas.name"
FAAS_VERSION: Final = "faas.version"
FAAS_INVOCATION_ID: Final = "faas.invocation_id"
FAAS_TRIGGER: Final = "faas.trigger"
FAAS_INIT_DURATION_NS: Final = "spanscope.faas.init_duration_ns"
FAAS_INIT_TYPE: Final = "spanscope.faas.initialization_type"  # on-demand | provisioned-concurrency | snap-start
FAAS_RESTORE_DURATION_NS: Final = "spanscope.faas.restore_duration_ns"  # SnapStart: resume to first request
LAMBDA_ARN: Final = "aws.lambda.invoked_arn"
CF_DISTRIBUTION: Final = "aws.cloudfront.distribution_id"
CF_EVENT_TYPE: Final = "aws.cloudfront.event_type"
CF_EDGE_LOCATION: Final = "aws.cloudfront.edge_location"
CF_REQUEST_ID: Final = "aws.cloudfront.request_id"  # x-edge-request-id = X-Amz-Cf-Id = cf.config.requestId

# --- Batch --------------------------------------------------------------------------------------------
BATCH_JOB_ID: Final = "aws.batch.job.id"
BATCH_ATTEMPT: Final = "aws.batch.job.attempt"
BATCH_ARRAY_INDEX: Final = "aws.batch.job.array_index"
BATCH_QUEUE: Final = "aws.batch.job_queue"
BATCH_COMPUTE_ENV: Final = "aws.batch.compute_environment"
BATCH_INTERRUPTED: Final = "spanscope.batch.interrupted"  # SIGTERM seen (Spot interruption)

# --- MapReduce / EMR ----------------------------------------------------------------------------------
MR_JOB_ID: Final = "mapreduce.job.id"
MR_PHASE: Final = "mapreduce.phase"  # "map" | "shuffle" | "reduce"
MR_TASK_ID: Final = "mapreduce.task.id"
MR_INPUT_FILE: Final = "mapreduce.input.file"
MR_RECORDS_IN: Final = "mapreduce.records.in"
MR_RECORDS_OUT: Final = "mapreduce.records.out"

# --- generic work size (stragglers: does input size explain the slow task?) ---------------------------
INPUT_BYTES: Final = "spanscope.input.bytes"
INPUT_RECORDS: Final = "spanscope.input.records"

# --- tightly coupled (HPC) jobs -----------------------------------------------------------------------
HPC_RANK: Final = "spanscope.hpc.rank"
HPC_STEP: Final = "spanscope.hpc.step"
HPC_COMPUTE_NS: Final = "spanscope.hpc.compute_ns"
HPC_BARRIER_WAIT_NS: Final = "spanscope.hpc.barrier_wait_ns"
HPC_PLACEMENT_GROUP: Final = "aws.ec2.placement_group"
HPC_EFA: Final = "spanscope.hpc.efa"

# --- edge devices -------------------------------------------------------------------------------------
DEVICE_ID: Final = "spanscope.device.id"
DEVICE_CLOCK_OFFSET_NS: Final = "spanscope.device.clock_offset_ns"

# --- links --------------------------------------------------------------------------------------------
LINK_KIND: Final = "spanscope.link.kind"  # "sqs" | "batch" | "stepfunctions" | "lambda" | ...

# --- X-Ray specifics kept on the model ----------------------------------------------------------------
XRAY_ANNOTATIONS_KEY: Final = "aws.xray.annotations"  # what the OTel X-Ray exporter uses to mark indexed keys


def origin_from_resource(resource: Mapping[str, object], span_attributes: Mapping[str, object]) -> str:
    """The X-Ray origin for a span, from ``spanscope.origin`` or ``cloud.platform``; "" when unknown.

    >>> origin_from_resource({"cloud.platform": "aws_lambda"}, {})
    'AWS::Lambda::Function'
    """
    for source in (span_attributes, resource):
        explicit = source.get(ORIGIN)
        if isinstance(explicit, str) and explicit:
            return explicit
    platform = resource.get(CLOUD_PLATFORM)
    if isinstance(platform, str):
        return PLATFORM_ORIGINS.get(platform, "")
    return ""


def remote_from_attributes(attributes: Mapping[str, object]) -> tuple[str, str]:
    """(namespace, downstream name) of a client span, following the awsxrayexporter's rules.

    AWS SDK calls (``rpc.system == "aws-api"``) are namespace ``aws`` named by ``rpc.service``;
    other calls are ``remote`` named by ``peer.service``, then the server address, then the URL host.

    >>> remote_from_attributes({"rpc.system": "aws-api", "rpc.service": "DynamoDB"})
    ('aws', 'DynamoDB')
    >>> remote_from_attributes({"url.full": "https://api.example.com/x"})
    ('remote', 'api.example.com')
    """
    if attributes.get(RPC_SYSTEM) == "aws-api":
        service = attributes.get(RPC_SERVICE)
        return "aws", str(service) if service else "AWS"
    for key in (PEER_SERVICE, SERVER_ADDRESS, NET_PEER_NAME_OLD):
        value = attributes.get(key)
        if isinstance(value, str) and value:
            return "remote", value
    for key in (HTTP_URL, HTTP_URL_OLD):
        url = attributes.get(key)
        if isinstance(url, str) and "://" in url:
            host = url.split("://", 1)[1].split("/", 1)[0].split("@")[-1]
            if host:
                return "remote", host
    return "remote", ""


def http_status(attributes: Mapping[str, object]) -> int | None:
    """The HTTP status code recorded on a span, under the current or the older attribute name."""
    value = attributes.get(HTTP_STATUS)
    if type(value) is int:  # the common case, without the loop (every decoded span asks)
        return value
    if value is None and HTTP_STATUS_OLD not in attributes:
        return None
    for key in (HTTP_STATUS, HTTP_STATUS_OLD):
        value = attributes.get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.isdigit():
            return int(value)
    return None


def downstream(kind: Kind, attributes: Mapping[str, object]) -> tuple[str, str]:
    """(namespace, remote service) of a client or producer span; ("", "") for other kinds or no target.

    >>> downstream(Kind.CLIENT, {"rpc.system": "aws-api", "rpc.service": "S3"}), downstream(Kind.SERVER, {})
    (('aws', 'S3'), ('', ''))
    """
    if kind is not Kind.CLIENT and kind is not Kind.PRODUCER:
        return "", ""
    namespace, remote = remote_from_attributes(attributes)
    return (namespace, remote) if remote else ("", "")


def span_status(attributes: Mapping[str, object], *, failed: bool) -> Status:
    """X-Ray's status for an OpenTelemetry-style span: an HTTP status >= 400 decides which failure it
    was (4xx error, 429 throttle, 5xx fault); otherwise a span marked failed is a fault.

    >>> span_status({"http.response.status_code": 429}, failed=True).value, span_status({}, failed=True).value
    ('throttle', 'fault')
    """
    code = http_status(attributes)
    if code is not None and code >= 400:
        return status_from_http(code)
    return Status.FAULT if failed else Status.OK


# --- messaging destinations -------------------------------------------------------------------------------
#: X-Ray's node type per AWS messaging system (``messaging.system`` normalised: lower case, ``.``/``-`` -> ``_``).
MESSAGING_TYPES: Final[Mapping[str, str]] = {
    "aws_sqs": "AWS::SQS::Queue",
    "aws_sns": "AWS::SNS::Topic",
    "aws_eventbridge": "AWS::Events::EventBus",
    "aws_events": "AWS::Events::EventBus",
    "aws_kinesis": "AWS::Kinesis::Stream",
}
# AWS SDK service (lower case, as rpc.service / an X-Ray subsegment name / an ARN's service) -> messaging system.
_SDK_SYSTEMS: Final[Mapping[str, str]] = {
    "sqs": "aws_sqs",
    "amazonsqs": "aws_sqs",
    "sns": "aws_sns",
    "amazonsns": "aws_sns",
    "eventbridge": "aws_eventbridge",
    "events": "aws_eventbridge",
    "cloudwatchevents": "aws_eventbridge",
    "kinesis": "aws_kinesis",
    "amazonkinesis": "aws_kinesis",
}
#: AWS SDK operations that send messages, per messaging system.
SEND_OPERATIONS: Final[Mapping[str, frozenset[str]]] = {
    "aws_sqs": frozenset({"SendMessage", "SendMessageBatch"}),
    "aws_sns": frozenset({"Publish", "PublishBatch"}),
    "aws_eventbridge": frozenset({"PutEvents"}),
    "aws_kinesis": frozenset({"PutRecord", "PutRecords"}),
}
_SEND_OPERATION_TYPES: Final = frozenset({"send", "publish", "create"})
# Where a destination's name may be recorded, best first: names, then queue URLs, then ARNs.
_DESTINATION_KEYS: Final = (
    MESSAGING_DESTINATION,
    MESSAGING_DESTINATION_OLD,
    "aws.kinesis.stream_name",
    "aws.stream_name",
    "aws.eventbridge.event_bus.name",
    "aws.event_bus_name",
    AWS_QUEUE_URL,
    "aws.queue_url",
    MESSAGING_URL_OLD,
    "aws.sns.topic.arn",
    "aws.sns.topic_arn",
    "aws.topic_arn",
    "aws.target_arn",
    "aws.kinesis.stream.arn",
    "aws.stream_arn",
    "aws.stream.arn",
    "aws.eventbridge.event_bus.arn",
)


def _system(value: object) -> str:
    return value.strip().lower().replace(".", "_").replace("-", "_") if isinstance(value, str) else ""


def destination_name(value: str) -> tuple[str, str]:
    """(name, messaging system or "") of a destination written as a name, a queue URL or an ARN.

    >>> destination_name("https://sqs.us-east-1.amazonaws.com/123456789012/orders-queue")
    ('orders-queue', 'aws_sqs')
    >>> destination_name("arn:aws:sns:us-east-1:123456789012:trip-events"), destination_name("trips")
    (('trip-events', 'aws_sns'), ('trips', ''))
    >>> destination_name("arn:aws:kinesis:eu-west-1:123456789012:stream/clicks")
    ('clicks', 'aws_kinesis')
    """
    text = value.strip()
    if text.startswith("arn:"):
        parts = text.split(":", 5)
        system = _SDK_SYSTEMS.get(parts[2].lower(), "") if len(parts) > 2 else ""
        last = parts[-1].rstrip("/").rsplit("/", 1)[-1]
        return last or text, system
    if "://" in text:
        host, _, path = text.split("://", 1)[1].partition("/")
        system = "aws_sqs" if host.startswith("sqs.") or ".sqs." in host or host.startswith("queue.") else ""
        last = path.rstrip("/").rsplit("/", 1)[-1]
        return last or host or text, system
    return text, ""


def message_destination(
    kind: Kind, attributes: Mapping[str, object], remote_service: str = ""
) -> tuple[str, str] | None:
    """(name, type) of the destination a span sends messages to; None when the span sends no message.

    A span sends messages when it is a producer span, an AWS SDK call that sends (SQS ``SendMessage`` /
    ``SendMessageBatch``, SNS ``Publish``, EventBridge ``PutEvents``, Kinesis ``PutRecord(s)``), or a
    client span of a messaging system whose operation is ``send``/``publish``. The name is
    ``messaging.destination.name``, else the queue URL's or the ARN's last segment ("" when nothing names
    it); the type is X-Ray's (``AWS::SQS::Queue``, ``AWS::SNS::Topic``, ``AWS::Events::EventBus``,
    ``AWS::Kinesis::Stream``) for AWS systems, else the messaging system ("" when unknown).

    >>> message_destination(Kind.PRODUCER, {"messaging.system": "aws_sqs", "messaging.destination.name": "trip-events"})
    ('trip-events', 'AWS::SQS::Queue')
    >>> message_destination(Kind.CLIENT, {"rpc.system": "aws-api", "rpc.service": "SNS", "rpc.method": "Publish",
    ...                                   "aws.sns.topic.arn": "arn:aws:sns:us-east-1:1:alerts"})
    ('alerts', 'AWS::SNS::Topic')
    >>> message_destination(Kind.CLIENT, {"rpc.system": "aws-api", "rpc.service": "DynamoDB", "rpc.method": "PutItem"})
    """
    if not attributes:  # the common case of a bare producer span: one lookup
        if kind is not Kind.PRODUCER:
            return None
        return "", MESSAGING_TYPES.get(_SDK_SYSTEMS.get(remote_service.lower().replace(" ", ""), ""), "")
    system = _system(attributes.get(MESSAGING_SYSTEM))
    if kind is not Kind.PRODUCER:
        if kind is not Kind.CLIENT:
            return None
        service = attributes.get(RPC_SERVICE)
        sdk = _SDK_SYSTEMS.get((service if isinstance(service, str) else remote_service).lower().replace(" ", ""), "")
        operation = attributes.get(RPC_METHOD) or attributes.get(AWS_OPERATION)
        if sdk and operation in SEND_OPERATIONS[sdk]:
            system = system or sdk
        else:
            op_type = attributes.get(MESSAGING_OPERATION_TYPE) or attributes.get(MESSAGING_OPERATION_OLD)
            if not (system and isinstance(op_type, str) and op_type.lower() in _SEND_OPERATION_TYPES):
                return None
    name = ""
    for key in _DESTINATION_KEYS:
        value = attributes.get(key)
        if isinstance(value, str) and value.strip():
            name, named_system = destination_name(value)
            system = system or named_system
            break
    if not system:
        system = _SDK_SYSTEMS.get(remote_service.lower().replace(" ", ""), "")
    return name, MESSAGING_TYPES.get(system, system)
