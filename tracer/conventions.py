"""Attribute names and origin types the tracer writes (its own copy; a test checks they match collectors')."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

# --- origins ------------------------------------------------------------------------------------------
ORIGIN_LAMBDA: Final = "AWS::Lambda::Function"
ORIGIN_EC2: Final = "AWS::EC2::Instance"
ORIGIN_ECS: Final = "AWS::ECS::Container"
ORIGIN_EKS: Final = "AWS::EKS::Container"
ORIGIN_BEANSTALK: Final = "AWS::ElasticBeanstalk::Environment"
ORIGIN_LAMBDA_EDGE: Final = "spanscope::Lambda@Edge::Function"
ORIGIN_BATCH: Final = "spanscope::Batch::Job"
ORIGIN_EMR: Final = "spanscope::EMR::Job"
ORIGIN_EDGE_DEVICE: Final = "spanscope::Greengrass::Device"
ORIGIN_HPC: Final = "spanscope::HPC::Rank"

# OTel ``cloud.platform`` values -> origin.
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
LOCATION: Final = "spanscope.location"

# --- HTTP -----------------------------------------------------------------------------------------------
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
USER: Final = "enduser.id"

# --- downstream calls -----------------------------------------------------------------------------------
RPC_SYSTEM: Final = "rpc.system"
RPC_SERVICE: Final = "rpc.service"
RPC_METHOD: Final = "rpc.method"
PEER_SERVICE: Final = "peer.service"
SERVER_ADDRESS: Final = "server.address"
NET_PEER_NAME_OLD: Final = "net.peer.name"
AWS_OPERATION: Final = "aws.operation"
AWS_REQUEST_ID: Final = "aws.request_id"
AWS_TABLE: Final = "aws.dynamodb.table_names"
AWS_QUEUE_URL: Final = "aws.sqs.queue_url"

# --- Lambda / Lambda@Edge ---------------------------------------------------------------------------------
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

# --- Batch ------------------------------------------------------------------------------------------------
BATCH_JOB_ID: Final = "aws.batch.job.id"
BATCH_ATTEMPT: Final = "aws.batch.job.attempt"
BATCH_ARRAY_INDEX: Final = "aws.batch.job.array_index"
BATCH_QUEUE: Final = "aws.batch.job_queue"
BATCH_COMPUTE_ENV: Final = "aws.batch.compute_environment"
BATCH_INTERRUPTED: Final = "spanscope.batch.interrupted"

# --- MapReduce / EMR --------------------------------------------------------------------------------------
MR_JOB_ID: Final = "mapreduce.job.id"
MR_PHASE: Final = "mapreduce.phase"
MR_TASK_ID: Final = "mapreduce.task.id"
MR_INPUT_FILE: Final = "mapreduce.input.file"
MR_RECORDS_IN: Final = "mapreduce.records.in"
MR_RECORDS_OUT: Final = "mapreduce.records.out"
INPUT_BYTES: Final = "spanscope.input.bytes"
INPUT_RECORDS: Final = "spanscope.input.records"

# --- HPC --------------------------------------------------------------------------------------------------
HPC_RANK: Final = "spanscope.hpc.rank"
HPC_STEP: Final = "spanscope.hpc.step"
HPC_COMPUTE_NS: Final = "spanscope.hpc.compute_ns"
HPC_BARRIER_WAIT_NS: Final = "spanscope.hpc.barrier_wait_ns"
HPC_PLACEMENT_GROUP: Final = "aws.ec2.placement_group"
HPC_EFA: Final = "spanscope.hpc.efa"

# --- edge devices -----------------------------------------------------------------------------------------
DEVICE_ID: Final = "spanscope.device.id"

# --- links / X-Ray ------------------------------------------------------------------------------------------
LINK_KIND: Final = "spanscope.link.kind"
XRAY_ANNOTATIONS_KEY: Final = "aws.xray.annotations"
