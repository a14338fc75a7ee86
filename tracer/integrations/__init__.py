"""Integrations: Lambda, Lambda@Edge, Batch, EMR/MapReduce, HPC ranks, SQS and Step Functions."""

from __future__ import annotations

from spanscope.tracer.integrations.aws_lambda import lambda_handler
from spanscope.tracer.integrations.batch import batch_job
from spanscope.tracer.integrations.edge import edge_handler
from spanscope.tracer.integrations.hpc import RankTracer
from spanscope.tracer.integrations.mapreduce import (
    job_span,
    phase_span,
    run_mapreduce,
    streaming_cmdenv,
    streaming_task,
)
from spanscope.tracer.integrations.messaging import (
    batch_environment,
    process_sqs_batch,
    send_sqs_message,
    sqs_links,
    sqs_records,
    start_execution,
    submit_batch_job,
)

__all__ = [
    "RankTracer",
    "batch_environment",
    "batch_job",
    "edge_handler",
    "job_span",
    "lambda_handler",
    "phase_span",
    "process_sqs_batch",
    "run_mapreduce",
    "send_sqs_message",
    "sqs_links",
    "sqs_records",
    "start_execution",
    "streaming_cmdenv",
    "streaming_task",
    "submit_batch_job",
]
