"""Attribute names the X-Ray translation reads: the tracer's conventions plus names only the translation needs.

The names shared with the collectors come from ``spanscope.tracer.conventions`` (whose copy of
collectors/conventions.py is checked by a test); the rest are X-Ray/OTel names the translation alone reads.
"""

from __future__ import annotations

from typing import Final

from spanscope.tracer.conventions import (
    AWS_OPERATION,
    AWS_QUEUE_URL,
    AWS_REQUEST_ID,
    AWS_TABLE,
    CLOUD_ACCOUNT,
    CLOUD_AZ,
    CLOUD_PLATFORM,
    CLOUD_PROVIDER,
    HTTP_CLIENT_IP,
    HTTP_CLIENT_IP_OLD,
    HTTP_METHOD,
    HTTP_METHOD_OLD,
    HTTP_STATUS,
    HTTP_STATUS_OLD,
    HTTP_URL,
    HTTP_URL_OLD,
    HTTP_USER_AGENT,
    HTTP_USER_AGENT_OLD,
    NET_PEER_NAME_OLD,
    ORIGIN,
    ORIGIN_BEANSTALK,
    ORIGIN_EC2,
    ORIGIN_ECS,
    ORIGIN_EKS,
    ORIGIN_LAMBDA,
    PEER_SERVICE,
    PLATFORM_ORIGINS,
    RPC_METHOD,
    RPC_SERVICE,
    RPC_SYSTEM,
    SERVER_ADDRESS,
    SERVICE_NAME,
    USER,
    XRAY_ANNOTATIONS_KEY,
)

# The translation reads every name through this module, the shared ones included.
__all__ = [
    "AWS_ACCOUNT",
    "AWS_OPERATION",
    "AWS_QUEUE_URL",
    "AWS_QUEUE_URL_2",
    "AWS_REGION",
    "AWS_REQUEST_ID",
    "AWS_REQUEST_ID_2",
    "AWS_TABLE",
    "AWS_TABLE_2",
    "CLOUD_ACCOUNT",
    "CLOUD_AZ",
    "CLOUD_PLATFORM",
    "CLOUD_PROVIDER",
    "CONTAINER_NAME",
    "HOST_ID",
    "HTTP_CLIENT_IP",
    "HTTP_CLIENT_IP_OLD",
    "HTTP_HOST_OLD",
    "HTTP_METHOD",
    "HTTP_METHOD_OLD",
    "HTTP_RESPONSE_SIZE",
    "HTTP_RESPONSE_SIZE_OLD",
    "HTTP_SCHEME_OLD",
    "HTTP_STATUS",
    "HTTP_STATUS_OLD",
    "HTTP_TARGET_OLD",
    "HTTP_URL",
    "HTTP_URL_OLD",
    "HTTP_USER_AGENT",
    "HTTP_USER_AGENT_OLD",
    "MESSAGING_URL_OLD",
    "NET_PEER_NAME_OLD",
    "ORIGIN",
    "ORIGIN_BEANSTALK",
    "ORIGIN_EC2",
    "ORIGIN_ECS",
    "ORIGIN_EKS",
    "ORIGIN_LAMBDA",
    "PEER_SERVICE",
    "PLATFORM_ORIGINS",
    "RESOURCE_METADATA_PREFIX",
    "RPC_METHOD",
    "RPC_SERVICE",
    "RPC_SYSTEM",
    "SERVER_ADDRESS",
    "SERVER_PORT",
    "SERVICE_NAME",
    "SERVICE_VERSION",
    "SPAN_NAME_METADATA_KEY",
    "TELEMETRY_SDK_NAME",
    "TELEMETRY_SDK_VERSION",
    "URL_PATH",
    "URL_QUERY",
    "URL_SCHEME",
    "USER",
    "XRAY_ANNOTATIONS_KEY",
]

# --- resource ------------------------------------------------------------------------------------------
SERVICE_VERSION: Final = "service.version"
HOST_ID: Final = "host.id"
CONTAINER_NAME: Final = "container.name"
TELEMETRY_SDK_NAME: Final = "telemetry.sdk.name"
TELEMETRY_SDK_VERSION: Final = "telemetry.sdk.version"

# --- HTTP ----------------------------------------------------------------------------------------------
HTTP_RESPONSE_SIZE: Final = "http.response.body.size"
HTTP_RESPONSE_SIZE_OLD: Final = "http.response_content_length"
URL_SCHEME: Final = "url.scheme"
URL_PATH: Final = "url.path"
URL_QUERY: Final = "url.query"
SERVER_PORT: Final = "server.port"
HTTP_SCHEME_OLD: Final = "http.scheme"
HTTP_HOST_OLD: Final = "http.host"
HTTP_TARGET_OLD: Final = "http.target"

# --- downstream calls ----------------------------------------------------------------------------------
AWS_REQUEST_ID_2: Final = "aws.requestId"
AWS_REGION: Final = "aws.region"
AWS_ACCOUNT: Final = "aws.account_id"
AWS_TABLE_2: Final = "aws.table_name"
AWS_QUEUE_URL_2: Final = "aws.queue_url"
MESSAGING_URL_OLD: Final = "messaging.url"

# --- X-Ray specifics -----------------------------------------------------------------------------------
# Where a segment keeps its OpenTelemetry span name (X-Ray segments are named after the service).
SPAN_NAME_METADATA_KEY: Final = "otel.span.name"
RESOURCE_METADATA_PREFIX: Final = "otel.resource."
