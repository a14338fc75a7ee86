"""One demo run: the embedded collector, the simulated AWS, every workload process, and the injected truth.

``run_demo`` starts a collector on ephemeral loopback ports (X-Ray UDP and OTLP/HTTP) writing to the
store, moto behind the fault layer, the device's uplink, then runs the system:

    viewers → CloudFront (edge location process) → Lambda@Edge viewer-request / origin-request
            → orders-api Lambda → S3, DynamoDB → SQS → order-worker Lambda (event source mapping here)
            → Step Functions execution (process) → Batch array job (container processes, a Spot SIGTERM)
            → EMR step (driver process, map/reduce worker processes)
    greenhouse-sensor-7 (Greengrass device process) → IoT Core, spans through store-and-forward

and stops everything cleanly (the collector last, so every span sent is stored), then writes
``<db>.truth.json``.
"""

from __future__ import annotations

import logging
import queue
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spanscope.cli.demo.truth import write_truth
from spanscope.demo_apps.faults import DEVICE_NAME, FaultPlan, Scale, plan_faults
from spanscope.demo_apps.processes import mp_context

Progress = Callable[[str, dict[str, Any]], None]
# Regional Lambda functions export OTLP/HTTP (flushed at the end of each invocation); the Lambda@Edge functions
# send X-Ray documents over UDP to the collector's X-Ray daemon port (fire and forget), so both paths are used.
LAMBDA_EXPORT = "otlp"
EDGE_EXPORT = "xray"


@dataclass(slots=True)
class DemoResult:
    db_path: Path
    truth_path: Path
    plan: FaultPlan
    observed: dict[str, Any]
    elapsed_s: float
    spans_stored: int
    addresses: dict[str, str] = field(default_factory=dict)


def _no_progress(stage: str, info: dict[str, Any]) -> None:
    return None


BATCH_SIZE = 3  # the event source mapping's batch size


class _EventSourceMapping:
    """Lambda's SQS poller for order-worker: small batches, partial batch failures, redrive to the DLQ.

    Plays the release pipeline too: after ``deploy_after`` processed orders it deploys order-worker v2.
    """

    def __init__(self, aws: Any, queue_url: str, lambdas: Any, deploy_after: int) -> None:
        self.sqs = aws.client("sqs")
        self.queue_url = queue_url
        self.lambdas = lambdas
        self.deploy_after = deploy_after
        self.processed = 0
        self.deployed_at_ns: int | None = None
        self.stop = threading.Event()
        self.idle_polls = 0
        self.thread = threading.Thread(target=self._run, name="sqs-event-source", daemon=True)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:orders-queue",
            "awsRegion": "us-east-1",
        }

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                response = self.sqs.receive_message(
                    QueueUrl=self.queue_url, MaxNumberOfMessages=BATCH_SIZE, MessageSystemAttributeNames=["All"]
                )
            except Exception:
                time.sleep(0.1)
                continue
            messages = response.get("Messages", [])
            if not messages:
                self.idle_polls += 1
                time.sleep(0.05)
                continue
            self.idle_polls = 0
            records = [self._record(m) for m in messages]
            header = records[0]["attributes"].get("AWSTraceHeader")
            ok, result = self.lambdas.invoke("order-worker", {"Records": records}, trace_header=header)
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])} if ok else None
            done = [m for m in messages if failed is not None and m["MessageId"] not in failed]
            if done:
                self.sqs.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                )
            self.processed += len(records)
            if self.deploy_after >= 0 and self.deployed_at_ns is None and self.processed >= self.deploy_after:
                self.lambdas.deploy("order-worker", version="2", handler="spanscope.demo_apps.order_worker.handler_v2")
                self.deployed_at_ns = time.time_ns()


def run_demo(
    db_path: Path,
    faults: list[str],
    seed: int,
    *,
    scale: Scale | None = None,
    progress: Progress | None = None,
    timeout_s: float = 240.0,
) -> DemoResult:
    """Run the whole system once into the store at ``db_path`` and write the truth file beside it."""
    from spanscope.cli.demo.cloud import SimulatedAWS, Uplink
    from spanscope.collectors.collector import BackgroundCollector, CollectorConfig
    from spanscope.demo_apps.cloudfront import edge_location_main
    from spanscope.demo_apps.device import device_main
    from spanscope.demo_apps.lambda_runtime import FunctionConfig, LambdaService
    from spanscope.demo_apps.pipeline import execution_main

    report = progress or _no_progress
    started = time.monotonic()
    scale = scale or Scale()
    plan = plan_faults(faults, seed=seed, scale=scale)
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="spanscope-demo-"))
    ctx = mp_context()
    observed: dict[str, Any] = {"run_started_ns": time.time_ns()}
    cleanups: list[Callable[[], None]] = []
    # The device's uplink cuts connections mid-request on purpose; the receiver logs each such cut with a
    # traceback. Those lines would bury the demo's output, so they are kept out of it while the demo runs.
    receiver_log = logging.getLogger("spanscope.collectors.receivers.otlp_http")
    previous_level = receiver_log.level
    receiver_log.setLevel(logging.CRITICAL)
    cleanups.append(lambda: receiver_log.setLevel(previous_level))
    try:
        report("setup", {"step": "simulated AWS (moto) with fault injection"})
        aws = SimulatedAWS(plan).start()
        cleanups.append(aws.stop)
        resources = aws.provision()
        report("setup", {"step": "embedded collector on ephemeral loopback ports"})
        collector = BackgroundCollector(
            CollectorConfig(
                db_path=db_path,
                xray_udp=("127.0.0.1", 0),
                otlp_http=("127.0.0.1", 0),
                otlp_grpc=None,
                log_interval_s=0,
                service_map=False,
            )
        )
        running = collector.start()
        cleanups.append(collector.stop)  # idempotent: stopped again on the way out only if still running
        otlp_host, otlp_port = running.addresses["otlp_http"]
        xray_host, xray_port = running.addresses["xray_udp"]
        otlp_endpoint = f"http://{otlp_host}:{otlp_port}/v1/traces"
        addresses = {"otlp_http": f"{otlp_host}:{otlp_port}", "xray_udp": f"{xray_host}:{xray_port}", "aws": aws.url}
        report("collector", addresses)
        uplink_collector = Uplink((otlp_host, otlp_port))
        uplink_aws = Uplink(("127.0.0.1", aws.port))
        cleanups.extend([uplink_collector.stop, uplink_aws.stop])

        aws_env = {
            "AWS_ENDPOINT_URL": aws.url,
            "AWS_ACCESS_KEY_ID": "ASIADEMODEMODEMO",
            "AWS_SECRET_ACCESS_KEY": "demo-secret",
            "AWS_SESSION_TOKEN": "demo-session",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        otlp_env = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": otlp_endpoint, "OTEL_BSP_SCHEDULE_DELAY": "200"}
        if LAMBDA_EXPORT == "xray":
            lambda_tracing = {
                "AWS_XRAY_DAEMON_ADDRESS": f"{xray_host}:{xray_port}",
                "_AWS_XRAY_DAEMON_ADDRESS": xray_host,
                "_AWS_XRAY_DAEMON_PORT": str(xray_port),
                "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            }
        else:
            lambda_tracing = dict(otlp_env)
        settings: dict[str, Any] = {
            "seed": seed,
            "work_dir": str(work),
            "otlp_endpoint": otlp_endpoint,
            "aws_env": aws_env,
            "lambda_tracing_env": lambda_tracing,
            "edge_bundle": {"xray_daemon": f"{xray_host}:{xray_port}"}
            if EDGE_EXPORT == "xray"
            else {"otlp_endpoint": otlp_endpoint},
            "resources": {"table": "orders", "bucket": "catalog", "queue_url": resources["queue_url"]},
            "pop_env": {**aws_env, **otlp_env},
            "sfn_env": {**aws_env, **otlp_env},
            "container_env": {**aws_env, **otlp_env, "OTEL_SERVICE_NAME": "invoice-render"},
            "emr_env": {
                **aws_env,
                **otlp_env,
                "OTEL_SERVICE_NAME": "sales-rollup",
                "EMR_CLUSTER_ID": f"j-{seed % 100000:05d}DEMO",
            },
            "requests": scale.requests,
            "client_concurrency": scale.client_concurrency,
            "traffic_seed": plan.extra["traffic_seed"],
            "auth_reject_rate": plan.auth_reject_rate,
            "unknown_sku_rate": plan.unknown_sku_rate,
            "api_reuse": plan.cold_start_reuse,
            "api_init_s": plan.cold_start_init_s or 0.05,
            "batch_array_size": scale.batch_array_size,
            "batch_slots": scale.batch_slots,
            "spot_interrupted_index": plan.spot_interrupted_index,
            "records_per_shard": scale.records_per_shard,
            "hot_key_share": plan.hot_key_share,
            "render_s": 0.3 if scale.requests < 60 else 0.6,
            "reduce_tasks": scale.reduce_tasks,
            "slow_reducer_partition": plan.slow_reducer_partition,
            "slow_reducer_factor": plan.slow_reducer_factor,
            "device_readings": scale.device_readings,
            "device_interval_s": scale.device_interval_s,
            "spool_dir": str(work / "greengrass" / "spool"),
        }
        events: Any = ctx.Queue()

        worker_lambdas = LambdaService(
            [
                FunctionConfig(
                    name="order-worker",
                    handler="spanscope.demo_apps.order_worker.handler",
                    version="1",
                    env={
                        **aws_env,
                        **lambda_tracing,
                        "ORDERS_TABLE": "orders",
                        "STATE_MACHINE_ARN": resources["state_machine_arn"],
                    },
                    init_delay_s=0.05,
                )
            ]
        )
        cleanups.append(worker_lambdas.shutdown)
        mapping = _EventSourceMapping(aws, resources["queue_url"], worker_lambdas, plan.bad_deploy_after_orders)
        mapping.thread.start()
        cleanups.append(mapping.stop.set)

        device_env = {
            "AWS_IOT_THING_NAME": DEVICE_NAME,
            "AWS_REGION": "us-west-2",
            "AWS_DEFAULT_REGION": "us-west-2",
            "AWS_ACCESS_KEY_ID": "ASIADEVICEDEVICE",
            "AWS_SECRET_ACCESS_KEY": "device-secret",
            "AWS_SESSION_TOKEN": "device-session",
            "SVCUID": "greengrass-svcuid-demo",
            "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT": str(work / "greengrass" / "ipc.socket"),
            "GG_ROOT_CA_PATH": str(work / "greengrass" / "rootCA.pem"),
            "OTEL_SERVICE_NAME": DEVICE_NAME,
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://127.0.0.1:{uplink_collector.port}/v1/traces",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            "IOT_DATA_ENDPOINT": f"http://127.0.0.1:{uplink_aws.port}",
        }
        report("start", {"requests": scale.requests, "readings": scale.device_readings})
        device = ctx.Process(target=device_main, args=(device_env, settings, events), name="greengrass-device")
        device.start()
        pop = ctx.Process(target=edge_location_main, args=(settings, events), name="cloudfront-pop")
        pop.start()

        offline_from = plan.offline_start_reading
        offline_to = plan.offline_start_reading + plan.offline_readings
        window: list[int] = []
        executions_started: set[str] = set()
        pipelines: list[Any] = []
        done = {"edge": False, "device": False, "pipeline": False}
        deadline = time.monotonic() + timeout_s
        while not all(done.values()) and time.monotonic() < deadline:
            for execution in list(aws.faults.executions):
                if execution["name"] not in executions_started:
                    executions_started.add(execution["name"])
                    report("pipeline", {"state": "started", "execution": execution["name"]})
                    proc = ctx.Process(
                        target=execution_main,
                        args=(settings, execution["traceHeader"], execution["name"], events),
                        name="step-functions-execution",
                    )
                    proc.start()
                    pipelines.append(proc)
            try:
                kind, info = events.get(timeout=0.1)
            except queue.Empty:
                if done["edge"] and not executions_started and mapping.idle_polls > 100:
                    break  # the close-batch message never started a pipeline
                if not pop.is_alive() and not done["edge"]:
                    break
                if not device.is_alive() and not done["device"]:
                    done["device"] = True
                    observed["device_failed"] = device.exitcode
                if pipelines and not any(p.is_alive() for p in pipelines) and not done["pipeline"]:
                    done["pipeline"] = True
                    observed["pipeline_failed"] = pipelines[0].exitcode
                continue
            if kind == "requests":
                report("requests", {"done": info, "total": scale.requests})
            elif kind == "device":
                if offline_from >= 0 and info == offline_from:
                    uplink_collector.set_online(False)
                    uplink_aws.set_online(False)
                    window.append(time.time_ns())
                    report("device", {"state": "offline", "reading": info})
                elif offline_from >= 0 and info >= offline_to and len(window) == 1:
                    uplink_collector.set_online(True)
                    uplink_aws.set_online(True)
                    window.append(time.time_ns())
                    report("device", {"state": "online", "reading": info})
                report("readings", {"done": info, "total": scale.device_readings})
            elif kind == "edge_done":
                done["edge"] = True
                observed["edge"] = info
                report("edge_done", info)
            elif kind == "device_done":
                done["device"] = True
                observed["device"] = info
                report("device_done", {k: v for k, v in info.items() if k != "readings"})
            elif kind == "pipeline_done":
                done["pipeline"] = True
                observed["pipeline"] = info
                report("pipeline", {"state": "done", **info})
        observed["timed_out"] = not all(done.values())
        uplink_collector.set_online(True)
        uplink_aws.set_online(True)
        # let the worker drain what is left (failed records wait out their visibility timeout, then the DLQ)
        drain_deadline = time.monotonic() + 6
        while time.monotonic() < drain_deadline and mapping.idle_polls < 30:
            time.sleep(0.1)
        mapping.stop.set()
        mapping.thread.join(10)
        worker_lambdas.shutdown()
        for proc in (pop, device, *pipelines):
            proc.join(20)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
        observed["worker"] = {**worker_lambdas.stats()["order-worker"], "records": mapping.processed}
        if mapping.deployed_at_ns is not None:
            observed["bad_deploy_at_ns"] = mapping.deployed_at_ns
        if len(window) == 1:
            window.append(time.time_ns())
        if window:
            observed["offline_window_ns"] = window
            readings = (observed.get("device") or {}).get("readings") or []
            observed["offline_readings"] = [i for i, t in readings if window[0] <= t < window[1]]
        observed["aws"] = dict(aws.faults.counts)
        observed["run_ended_ns"] = time.time_ns()
        report("stopping", {"step": "collector flush"})
        time.sleep(0.3)  # the last UDP datagrams
        collector.stop()
    finally:
        for cleanup in reversed(cleanups):
            try:
                cleanup()
            except Exception:
                pass
        shutil.rmtree(work, ignore_errors=True)
    from spanscope.collectors.store import open_store

    with open_store(db_path, readonly=True) as store:
        spans_stored = store.span_count()
    truth = write_truth(db_path, plan, observed)
    return DemoResult(db_path, truth, plan, observed, time.monotonic() - started, spans_stored, addresses)
