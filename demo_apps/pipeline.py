"""The nightly fulfilment pipeline: a Step Functions execution (its own process) running an AWS Batch
array job on Spot capacity, then an EMR step (a MapReduce job), then publishing the rollup.

The execution continues the ``traceHeader`` the worker passed to ``StartExecution``. The Batch service
here is a small scheduler: array children are container processes with the ``AWS_BATCH_*`` environment,
at most ``slots`` at a time, retried per the job's retry strategy; one child is interrupted by a Spot
reclaim (SIGTERM, like ECS stopping the task) and retried.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from spanscope.demo_apps.processes import mp_context


class BatchService:
    """``submit_job`` as AWS Batch takes it (array jobs, retry strategy, container overrides); ``wait``."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        self.jobs: dict[str, threading.Thread] = {}
        self.results: dict[str, dict[str, Any]] = {}

    def submit_job(self, **kwargs: Any) -> dict[str, Any]:
        job_id = str(uuid.uuid4())
        env = {e["name"]: e["value"] for e in (kwargs.get("containerOverrides") or {}).get("environment") or []}
        size = int((kwargs.get("arrayProperties") or {}).get("size", 1))
        attempts = int((kwargs.get("retryStrategy") or {}).get("attempts", 1))
        thread = threading.Thread(
            target=self._run, args=(job_id, kwargs["jobName"], kwargs["jobQueue"], size, attempts, env), daemon=True
        )
        self.jobs[job_id] = thread
        thread.start()
        arn = f"arn:aws:batch:us-east-1:123456789012:job/{job_id}"
        return {"jobId": job_id, "jobName": kwargs["jobName"], "jobArn": arn}

    def wait(self, job_id: str) -> dict[str, Any]:
        self.jobs[job_id].join()
        return self.results[job_id]

    def _run(self, job_id: str, name: str, queue: str, size: int, attempts: int, env: dict[str, str]) -> None:
        from spanscope.demo_apps.batch_render import container_main

        ctx = mp_context()
        slots = threading.Semaphore(int(self.settings["batch_slots"]))
        interrupted = int(self.settings["spot_interrupted_index"])
        outcome: dict[str, Any] = {"succeeded": 0, "failed": 0, "interruptions": 0, "attempts": 0}
        lock = threading.Lock()

        def child(index: int) -> None:
            for attempt in range(1, attempts + 1):
                with slots:
                    container_env = {
                        **self.settings["container_env"],
                        **env,
                        "AWS_BATCH_JOB_ID": f"{job_id}:{index}",
                        "AWS_BATCH_JOB_ARRAY_INDEX": str(index),
                        "AWS_BATCH_JOB_ARRAY_SIZE": str(size),
                        "AWS_BATCH_JOB_ATTEMPT": str(attempt),
                        "AWS_BATCH_JQ_NAME": queue,
                        "AWS_BATCH_CE_NAME": "spot-ce-c6g",
                        "AWS_BATCH_JOB_NAME": name,
                    }
                    process = ctx.Process(
                        target=container_main, args=(container_env, self.settings), name=f"batch-{index}"
                    )
                    process.start()
                    if index == interrupted and attempt == 1:
                        # the reclaim lands while the container is rendering (it marks when it starts)
                        marker = Path(env.get("OUTPUT_DIR", ".")) / f".rendering-{index}-{attempt}"
                        wait_until = time.monotonic() + 10
                        while not marker.exists() and process.is_alive() and time.monotonic() < wait_until:
                            time.sleep(0.01)
                        time.sleep(float(self.settings["render_s"]) * 0.4)
                        if process.is_alive():
                            os.kill(process.pid or 0, signal.SIGTERM)  # the Spot reclaim notice: ECS stops the task
                            with lock:
                                outcome["interruptions"] += 1
                    process.join(120)
                    with lock:
                        outcome["attempts"] += 1
                    if process.exitcode == 0:
                        with lock:
                            outcome["succeeded"] += 1
                        return
            with lock:
                outcome["failed"] += 1

        threads = [threading.Thread(target=child, args=(i,), daemon=True) for i in range(size)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.results[job_id] = outcome


def execution_main(settings: dict[str, Any], trace_header: str, execution_name: str, result_queue: Any) -> None:
    """One execution of the fulfilment state machine, in its own process."""
    os.environ.update(settings["sfn_env"])
    os.environ["_X_AMZN_TRACE_ID"] = trace_header
    from spanscope.demo_apps.aws_calls import aws_call, client
    from spanscope.tracer import configure, context_from_environ, force_flush, shutdown, span
    from spanscope.tracer.integrations import submit_batch_job

    configure(
        service="fulfilment-pipeline",
        exporters=["otlp-http"],
        resource_attributes={"spanscope.origin": "AWS::StepFunctions::StateMachine"},
    )
    arn = f"arn:aws:states:us-east-1:123456789012:execution:fulfilment-pipeline:{execution_name}"
    work = Path(settings["work_dir"]) / execution_name
    work.mkdir(parents=True, exist_ok=True)
    outcome: dict[str, Any] = {}
    attrs = {"aws.stepfunctions.execution_arn": arn, "aws.stepfunctions.state_machine": "fulfilment-pipeline"}
    try:
        with span("fulfilment-pipeline", kind="server", attributes=attrs, parent=context_from_environ()):
            with span("PrepareManifest", attributes={"aws.stepfunctions.state.type": "Pass"}):
                manifest = {"shards": settings["batch_array_size"]}
                (work / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
            with span("RenderInvoices", attributes={"aws.stepfunctions.state.type": "Task"}):
                batch = BatchService({**settings, "output_dir": str(work / "invoices")})
                (work / "invoices").mkdir(exist_ok=True)
                job = submit_batch_job(
                    batch,
                    jobName="render-invoices",
                    jobQueue="invoices-spot",
                    jobDefinition="render-invoices:3",
                    arrayProperties={"size": int(settings["batch_array_size"])},
                    retryStrategy={"attempts": 2},
                    containerOverrides={"environment": [{"name": "OUTPUT_DIR", "value": str(work / "invoices")}]},
                )
                outcome["batch"] = batch.wait(job["jobId"])
            with span("Rollup", attributes={"aws.stepfunctions.state.type": "Task"}):
                outcome["emr"] = run_emr_step(settings, work)
            with span("Publish", attributes={"aws.stepfunctions.state.type": "Task"}):
                s3 = client("s3")
                aws_call(s3, "put_object", Bucket="rollup-output", Key=f"{execution_name}/_SUCCESS", Body=b"")
    finally:
        force_flush(10000)
        shutdown()
        result_queue.put(("pipeline_done", outcome))


def run_emr_step(settings: dict[str, Any], work: Path) -> dict[str, Any]:
    """``AddStep`` on the EMR cluster and wait for it (the step's driver is its own process)."""
    from spanscope.demo_apps.rollup import driver_main
    from spanscope.tracer import environ_for_context, span

    ctx = mp_context()
    step_id = f"s-{uuid.uuid4().hex[:13].upper()}"
    attrs = {"rpc.system": "aws-api", "rpc.service": "EMR", "rpc.method": "AddJobFlowSteps", "aws.emr.step_id": step_id}
    with span("EMR.AddJobFlowSteps", kind="client", attributes=attrs):
        results = ctx.SimpleQueue()
        env = {**settings["emr_env"], **environ_for_context(), "EMR_STEP_ID": step_id}
        process = ctx.Process(
            target=driver_main, args=(env, settings, str(work / "invoices"), str(work / "rollup"), results)
        )
        process.start()
        process.join(300)
        return results.get() if not results.empty() else {"exitcode": process.exitcode}
