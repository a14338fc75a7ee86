"""SQS, Step Functions and Batch hand-offs through real boto3 calls against moto."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from spanscope.tracer import span
from spanscope.tracer.integrations import send_sqs_message, sqs_records, start_execution, submit_batch_job
from spanscope.tracer.propagation import parse_xray_header

REGION = "us-east-1"


@pytest.fixture
def aws(clean_env: pytest.MonkeyPatch) -> Iterator[None]:
    clean_env.setenv("AWS_ACCESS_KEY_ID", "testing")
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    clean_env.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws(config={"batch": {"use_docker": False}}):
        yield


def test_sqs_producer_to_consumer_link(memory: InMemorySpanExporter, aws: None) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="orders")["QueueUrl"]
    with span("checkout"):
        send_sqs_message(sqs, QueueUrl=queue, MessageBody="order-1")
    producer = next(s for s in memory.get_finished_spans() if s.name == "orders send")
    assert producer.kind is SpanKind.PRODUCER
    assert dict(producer.attributes or {})["rpc.service"] == "SQS"

    received = sqs.receive_message(QueueUrl=queue, MessageSystemAttributeNames=["AWSTraceHeader"])
    header = parse_xray_header(received["Messages"][0]["Attributes"]["AWSTraceHeader"])
    assert header is not None and header.parent == f"{producer.context.span_id:016x}"
    with span("worker-poll"):
        for message in sqs_records(received):
            assert message["Body"] == "order-1"
    consumer = next(s for s in memory.get_finished_spans() if s.name == "sqs process")
    assert consumer.kind is SpanKind.CONSUMER
    assert consumer.context.trace_id != producer.context.trace_id  # a new trace, linked
    link = consumer.links[0]
    assert link.context.span_id == producer.context.span_id and link.context.trace_id == producer.context.trace_id
    assert dict(link.attributes or {}) == {"spanscope.link.kind": "sqs"}


def test_step_functions_trace_header(memory: InMemorySpanExporter, aws: None) -> None:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    definition = '{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}'
    machine = sfn.create_state_machine(
        name="orders", definition=definition, roleArn="arn:aws:iam::123456789012:role/sfn"
    )["stateMachineArn"]
    sent: dict[str, Any] = {}

    class Recording:
        def start_execution(self, **kwargs: Any) -> Any:
            sent.update(kwargs)
            return sfn.start_execution(**kwargs)

    with span("api"):
        response = start_execution(Recording(), stateMachineArn=machine, input="{}")
    assert response["executionArn"].startswith("arn:aws:states:")
    client_span = next(s for s in memory.get_finished_spans() if s.name == "StepFunctions StartExecution")
    header = parse_xray_header(sent["traceHeader"])
    assert header is not None and header.parent == f"{client_span.context.span_id:016x}" and header.sampled


def test_batch_submit_puts_context_in_container_overrides(memory: InMemorySpanExporter, aws: None) -> None:
    batch = boto3.client("batch", region_name=REGION)
    role = boto3.client("iam", region_name=REGION).create_role(RoleName="batch", AssumeRolePolicyDocument="{}")
    env = batch.create_compute_environment(
        computeEnvironmentName="env1", type="UNMANAGED", state="ENABLED", serviceRole=role["Role"]["Arn"]
    )
    batch.create_job_queue(
        jobQueueName="queue1",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env["computeEnvironmentArn"]}],
    )
    batch.register_job_definition(
        jobDefinitionName="etl",
        type="container",
        containerProperties={"image": "busybox", "vcpus": 1, "memory": 128, "command": ["true"]},
    )
    response = submit_batch_job(
        batch,
        jobName="nightly",
        jobQueue="queue1",
        jobDefinition="etl",
        arrayProperties={"size": 2},
        containerOverrides={"environment": [{"name": "STAGE", "value": "prod"}]},
    )
    submit = next(s for s in memory.get_finished_spans() if s.name == "Batch SubmitJob nightly")
    assert dict(submit.attributes or {})["aws.batch.job.id"] == response["jobId"]
    job = batch.describe_jobs(jobs=[response["jobId"]])["jobs"][0]
    environment = {e["name"]: e["value"] for e in job["container"]["environment"]}
    assert environment["STAGE"] == "prod"
    header = parse_xray_header(environment["_X_AMZN_TRACE_ID"])
    assert header is not None and header.parent == f"{submit.context.span_id:016x}"
    assert environment["TRACEPARENT"].split("-")[2] == f"{submit.context.span_id:016x}"
