"""The Batch array job's container: renders one shard of invoices and writes its sales records for the rollup.

It runs with the environment AWS Batch gives an array child (``AWS_BATCH_JOB_ID``, ``..._ARRAY_INDEX``,
``..._ATTEMPT``) plus the submitter's trace context from the container overrides. A Spot reclaim arrives as
SIGTERM; ``@batch_job`` records it and the container dies as it would have, and Batch retries it.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any

from spanscope.demo_apps.faults import HOT_KEY

REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-south-1")


def shard_records(index: int, count: int, seed: int, hot_share: float) -> list[str]:
    """``sku,region,amount_cents`` lines of one shard (a flash sale makes ``HOT_KEY`` a share of them)."""
    rng = random.Random(seed * 1000 + index)
    lines = []
    for _ in range(count):
        sku = HOT_KEY if rng.random() < hot_share else f"sku-{rng.randrange(64):04d}"
        lines.append(f"{sku},{rng.choice(REGIONS)},{rng.randint(199, 9999)}")
    return lines


def container_main(env: dict[str, str], settings: dict[str, Any]) -> None:
    """The container's entry point (a fresh process with the job's environment)."""
    os.environ.update(env)
    from spanscope.demo_apps.aws_calls import aws_call, client
    from spanscope.tracer import annotate, span
    from spanscope.tracer.integrations import batch_job

    @batch_job(name="render-invoices")
    def main() -> None:
        index = int(os.environ["AWS_BATCH_JOB_ARRAY_INDEX"])
        annotate("shard", index)
        with span("generate-sales-records") as s:
            lines = shard_records(
                index, int(settings["records_per_shard"]), int(settings["seed"]), float(settings["hot_key_share"])
            )
            s.set_attribute("spanscope.input.records", len(lines))
        with span("render-pdfs", attributes={"invoice.count": len(lines) // 50}):
            attempt = os.environ.get("AWS_BATCH_JOB_ATTEMPT", "1")
            Path(os.environ["OUTPUT_DIR"], f".rendering-{index}-{attempt}").touch()
            deadline = time.monotonic() + float(settings["render_s"]) * (0.9 + 0.2 * random.Random(index).random())
            while time.monotonic() < deadline:  # rendering, in small steps so a SIGTERM lands promptly
                time.sleep(0.02)
        body = ("\n".join(lines) + "\n").encode()
        path = Path(os.environ["OUTPUT_DIR"]) / f"part-{index:05d}.csv"
        path.write_bytes(body)
        aws_call(client("s3"), "put_object", Bucket="rollup-output", Key=f"invoices/part-{index:05d}.csv", Body=body)

    main()
