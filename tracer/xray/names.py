"""Attribute names and origin types the X-Ray translation reads: copies of collectors/conventions.py strings.

The tracer imports nothing of spanscope's collectors (it ships inside Lambda bundles), so the strings it
needs are repeated here; tests/tracer/test_xray_documents.py checks that both copies agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

# --- origins -------------------------------------------------------------------------------------------
ORIGIN_LAMBDA: Final = "AWS::Lambda::Function"
ORIGIN_EC2: Final = "AWS::EC2::Instance"
ORIGIN_ECS: Final = "AWS::ECS::Container"
ORIGIN_EKS: Final = "AWS::EKS::Container"
ORIGIN_BEANSTALK: Final = "AWS::ElasticBeanstalk::Environment"

PLATFORM_ORIGINS: Final[Mapping[str, str]] = {
    "aws_lambda": ORIGIN_LAMBDA,
    "aws_ec2": ORIGIN_EC2,
    "aws_ecs": ORIGIN_ECS,
    "aws_eks": ORIGIN_EKS,
    "aws_elastic_beanstalk": ORIGIN_BEANSTALK,
}

# --- resource ------------------------------------------------------------------------------------------
SERVICE_NAME: Final = "service.name"
SERVICE_VERSION: Final = "service.version"
ORIGIN: Final = "spanscope.origin"
CLOUD_PROVIDER: Final = "cloud.provider"
CLOUD_PLATFORM: Final = "cloud.platform"
CLOUD_AZ: Final = "cloud.availability_zone"
CLOUD_ACCOUNT: Final = "cloud.account.id"
HOST_ID: Final = "host.id"
CONTAINER_NAME: Final = "container.name"
TELEMETRY_SDK_NAME: Final = "telemetry.sdk.name"
TELEMETRY_SDK_VERSION: Final = "telemetry.sdk.version"

# --- HTTP ----------------------------------------------------------------------------------------------
HTTP_METHOD: Final = "http.request.method"
HTTP_URL: Final = "url.full"
HTTP_STATUS: Final = "http.response.status_code"
HTTP_USER_AGENT: Final = "user_agent.original"
HTTP_CLIENT_IP: Final = "client.address"
HTTP_METHOD_OLD: Final = "http.method"
HTTP_URL_OLD: Final = "http.url"
HTTP_STATUS_OLD: Final = "http.status_code"
HTTP_USER_AGENT_OLD: Final = "http.user_agent"
HTTP_CLIENT_IP_OLD: Final = "http.client_ip"
HTTP_RESPONSE_SIZE: Final = "http.response.body.size"
HTTP_RESPONSE_SIZE_OLD: Final = "http.response_content_length"
URL_SCHEME: Final = "url.scheme"
URL_PATH: Final = "url.path"
URL_QUERY: Final = "url.query"
SERVER_PORT: Final = "server.port"
HTTP_SCHEME_OLD: Final = "http.scheme"
HTTP_HOST_OLD: Final = "http.host"
HTTP_TARGET_OLD: Final = "http.target"
USER: Final = "enduser.id"

# --- downstream calls ----------------------------------------------------------------------------------
RPC_SYSTEM: Final = "rpc.system"
RPC_SERVICE: Final = "rpc.service"
RPC_METHOD: Final = "rpc.method"
PEER_SERVICE: Final = "peer.service"
SERVER_ADDRESS: Final = "server.address"
NET_PEER_NAME_OLD: Final = "net.peer.name"
AWS_OPERATION: Final = "aws.operation"
AWS_REQUEST_ID: Final = "aws.request_id"
AWS_REQUEST_ID_2: Final = "aws.requestId"
AWS_REGION: Final = "aws.region"
AWS_ACCOUNT: Final = "aws.account_id"
AWS_TABLE: Final = "aws.dynamodb.table_names"
AWS_TABLE_2: Final = "aws.table_name"
AWS_QUEUE_URL: Final = "aws.sqs.queue_url"
AWS_QUEUE_URL_2: Final = "aws.queue_url"
MESSAGING_URL_OLD: Final = "messaging.url"

# --- X-Ray specifics -----------------------------------------------------------------------------------
XRAY_ANNOTATIONS_KEY: Final = "aws.xray.annotations"
# Where a segment keeps its OpenTelemetry span name (X-Ray segments are named after the service).
SPAN_NAME_METADATA_KEY: Final = "otel.span.name"
RESOURCE_METADATA_PREFIX: Final = "otel.resource."
