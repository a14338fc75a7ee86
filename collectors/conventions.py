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
