"""Preloaded into the demo's forkserver: botocore's service models, so a forked process makes clients fast.

boto3's default session keeps the models it loaded; a process forked after this inherits them, as a
Lambda runtime snapshot or a warm container image would have its libraries in the page cache.
"""

from __future__ import annotations

import boto3

SERVICES = ("s3", "dynamodb", "sqs", "stepfunctions", "iot-data")

boto3.setup_default_session(region_name="us-east-1")
for _service in SERVICES:
    boto3.client(
        _service,
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="preload",
        aws_secret_access_key="preload",
    )
