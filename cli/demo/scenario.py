"""One demo run: the embedded collector, the simulated AWS, every workload process, and the injected truth.

``run_demo`` starts a collector on ephemeral loopback ports (X-Ray UDP and OTLP/HTTP) writing to the
store, moto behind the fault layer, the device's uplink, then runs the system:

    viewers → CloudFront (edge location process) → Lambda@Edge viewer-request / origin-request
            → orders-api Lambda → S3, DynamoDB → SQS → order-worker Lambda (event source mapping here)
            → Step Functions execution (process) → Batch array job (container processes, a Spot SIGTERM)
            → EMR step (driver process, map/reduce worker processes)
    greenhouse-sensor-7 (Greengrass device process) → IoT Core, spans through store-and-forward

and stops everything cleanly (the collector last, so every span sent is stored), then writes
``<db>.truth.json``. Each step is one method of :class:`_DemoRun`, in the order ``run_demo`` calls them.
"""

from __future__ import annotations

import logging
import queue
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spanscope.cli.demo.environment import (
    aws_environment,
    device_environment,
    workload_settings,
)
from spanscope.cli.demo.event_source import EventSourceMapping
from spanscope.cli.demo.truth import write_truth
from spanscope.demo_apps.faults import FaultPlan, Scale, plan_faults
from spanscope.demo_apps.processes import mp_context

Progress = Callable[[str, dict[str, Any]], None]


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
    started = time.monotonic()
    scale = scale or Scale()
    run = _DemoRun(Path(db_path), plan_faults(faults, seed=seed, scale=scale), progress or _no_progress)
    try:
        run.quiet_receiver_log()
        run.start_aws()
        run.start_collector()
        run.start_uplinks()
        run.prepare_settings()
        run.start_order_worker()
        run.start_workloads()
        run.watch(timeout_s)
        run.drain_and_stop()
    finally:
        run.clean_up()
    truth = write_truth(run.db_path, run.plan, run.observed)
    elapsed = time.monotonic() - started
    return DemoResult(run.db_path, truth, run.plan, run.observed, elapsed, _spans_stored(run.db_path), run.addresses)


def _spans_stored(db_path: Path) -> int:
    from spanscope.collectors.store import open_store

    with open_store(db_path, readonly=True) as store:
        return store.span_count()


class _DemoRun:
    """The state of one run between its steps; every started part registers how it is stopped."""

    def __init__(self, db_path: Path, plan: FaultPlan, report: Progress) -> None:
        self.db_path = db_path
        self.plan = plan
        self.scale = plan.scale
        self.report = report
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self.work = Path(tempfile.mkdtemp(prefix="spanscope-demo-"))
        self.ctx = mp_context()
        self.observed: dict[str, Any] = {"run_started_ns": time.time_ns()}
        self.cleanups: list[Callable[[], None]] = []
        self.addresses: dict[str, str] = {}
        self.events: Any = None
        self.processes: dict[str, Any] = {}
        self.pipelines: list[Any] = []
        self.executions_started: set[str] = set()
        self.offline_window: list[int] = []
        self.done = {"edge": False, "device": False, "pipeline": False}

    def quiet_receiver_log(self) -> None:
        """The device's uplink cuts connections mid-request on purpose; the receiver logs each such cut with a
        traceback. Those lines would bury the demo's output, so they are kept out of it while the demo runs."""
        receiver_log = logging.getLogger("spanscope.collectors.receivers.otlp_http")
        previous_level = receiver_log.level
        receiver_log.setLevel(logging.CRITICAL)
        self.cleanups.append(lambda: receiver_log.setLevel(previous_level))

    def start_aws(self) -> None:
        """moto behind the fault layer, with the demo's table, buckets, queues and state machine."""
        from spanscope.cli.demo.cloud import SimulatedAWS

        self.report("setup", {"step": "simulated AWS (moto) with fault injection"})
        self.aws = SimulatedAWS(self.plan).start()
        self.cleanups.append(self.aws.stop)
        self.resources = self.aws.provision()

    def start_collector(self) -> None:
        """The embedded collector on ephemeral loopback ports (X-Ray UDP and OTLP/HTTP) writing to the store."""
        from spanscope.collectors.collector import BackgroundCollector, CollectorConfig

        self.report("setup", {"step": "embedded collector on ephemeral loopback ports"})
        self.collector = BackgroundCollector(
            CollectorConfig(
                db_path=self.db_path,
                xray_udp=("127.0.0.1", 0),
                otlp_http=("127.0.0.1", 0),
                otlp_grpc=None,
                log_interval_s=0,
                service_map=False,
            )
        )
        running = self.collector.start()
        self.cleanups.append(self.collector.stop)  # idempotent: stopped again on the way out only if still running
        self.otlp = running.addresses["otlp_http"]
        self.xray = running.addresses["xray_udp"]
        self.otlp_endpoint = f"http://{self.otlp[0]}:{self.otlp[1]}/v1/traces"
        self.addresses = {
            "otlp_http": f"{self.otlp[0]}:{self.otlp[1]}",
            "xray_udp": f"{self.xray[0]}:{self.xray[1]}",
            "aws": self.aws.url,
        }
        self.report("collector", self.addresses)

    def start_uplinks(self) -> None:
        """The device's network link to the collector and to AWS (proxies the run takes offline and back)."""
        from spanscope.cli.demo.cloud import Uplink

        self.uplink_collector = Uplink((self.otlp[0], self.otlp[1]))
        self.uplink_aws = Uplink(("127.0.0.1", self.aws.port))
        self.cleanups.extend([self.uplink_collector.stop, self.uplink_aws.stop])

    def prepare_settings(self) -> None:
        """The environments and settings the workload processes get, and the queue they report events on."""
        self.aws_env = aws_environment(self.aws.url)
        queue_url = self.resources["queue_url"]
        self.settings = workload_settings(self.plan, self.work, self.otlp_endpoint, self.xray, self.aws_env, queue_url)
        self.lambda_tracing = self.settings["lambda_tracing_env"]
        self.events = self.ctx.Queue()

    def start_order_worker(self) -> None:
        """The order-worker Lambda and its SQS event source mapping (which deploys v2 mid-run)."""
        from spanscope.demo_apps.lambda_runtime import FunctionConfig, LambdaService

        env = {
            **self.aws_env,
            **self.lambda_tracing,
            "ORDERS_TABLE": "orders",
            "STATE_MACHINE_ARN": self.resources["state_machine_arn"],
        }
        handler = "spanscope.demo_apps.order_worker.handler"
        config = FunctionConfig(name="order-worker", handler=handler, version="1", env=env, init_delay_s=0.05)
        self.worker_lambdas = LambdaService([config])
        self.cleanups.append(self.worker_lambdas.shutdown)
        self.mapping = EventSourceMapping(
            self.aws, self.resources["queue_url"], self.worker_lambdas, self.plan.bad_deploy_after_orders
        )
        self.mapping.thread.start()
        self.cleanups.append(self.mapping.stop.set)

    def start_workloads(self) -> None:
        """The Greengrass device and the CloudFront edge location, each its own process."""
        from spanscope.demo_apps.cloudfront import edge_location_main
        from spanscope.demo_apps.device import device_main

        device_env = device_environment(
            self.work, collector_port=self.uplink_collector.port, aws_port=self.uplink_aws.port
        )
        self.report("start", {"requests": self.scale.requests, "readings": self.scale.device_readings})
        device = self.ctx.Process(
            target=device_main, args=(device_env, self.settings, self.events), name="greengrass-device"
        )
        device.start()
        pop = self.ctx.Process(target=edge_location_main, args=(self.settings, self.events), name="cloudfront-pop")
        pop.start()
        self.processes = {"device": device, "pop": pop}

    def watch(self, timeout_s: float) -> None:
        """Follow the workloads' events until all three parts are done (or the time is up)."""
        deadline = time.monotonic() + timeout_s
        while not all(self.done.values()) and time.monotonic() < deadline:
            self._start_new_executions()
            try:
                kind, info = self.events.get(timeout=0.1)
            except queue.Empty:
                if self._stalled():
                    break
                continue
            self._on_event(kind, info)
        self.observed["timed_out"] = not all(self.done.values())

    def _start_new_executions(self) -> None:
        """Each Step Functions execution the fault layer saw started runs as its own process."""
        from spanscope.demo_apps.pipeline import execution_main

        for execution in list(self.aws.faults.executions):
            if execution["name"] in self.executions_started:
                continue
            self.executions_started.add(execution["name"])
            self.report("pipeline", {"state": "started", "execution": execution["name"]})
            proc = self.ctx.Process(
                target=execution_main,
                args=(self.settings, execution["traceHeader"], execution["name"], self.events),
                name="step-functions-execution",
            )
            proc.start()
            self.pipelines.append(proc)

    def _stalled(self) -> bool:
        """No event came: note parts that died without saying so; True when waiting longer is pointless."""
        done, device, pop = self.done, self.processes["device"], self.processes["pop"]
        if done["edge"] and not self.executions_started and self.mapping.idle_polls > 100:
            return True  # the close-batch message never started a pipeline
        if not pop.is_alive() and not done["edge"]:
            return True
        if not device.is_alive() and not done["device"]:
            done["device"] = True
            self.observed["device_failed"] = device.exitcode
        if self.pipelines and not any(p.is_alive() for p in self.pipelines) and not done["pipeline"]:
            done["pipeline"] = True
            self.observed["pipeline_failed"] = self.pipelines[0].exitcode
        return False

    def _on_event(self, kind: str, info: Any) -> None:
        if kind == "requests":
            self.report("requests", {"done": info, "total": self.scale.requests})
        elif kind == "device":
            self._on_reading(info)
        elif kind == "edge_done":
            self.done["edge"] = True
            self.observed["edge"] = info
            self.report("edge_done", info)
        elif kind == "device_done":
            self.done["device"] = True
            self.observed["device"] = info
            self.report("device_done", {k: v for k, v in info.items() if k != "readings"})
        elif kind == "pipeline_done":
            self.done["pipeline"] = True
            self.observed["pipeline"] = info
            self.report("pipeline", {"state": "done", **info})

    def _on_reading(self, reading: Any) -> None:
        """The device made a reading: the edge-offline fault takes its uplink down and back at planned readings."""
        offline_from = self.plan.offline_start_reading
        offline_to = offline_from + self.plan.offline_readings
        window = self.offline_window
        if offline_from >= 0 and reading == offline_from:
            self._set_uplink(False)
            window.append(time.time_ns())
            self.report("device", {"state": "offline", "reading": reading})
        elif offline_from >= 0 and reading >= offline_to and len(window) == 1:
            self._set_uplink(True)
            window.append(time.time_ns())
            self.report("device", {"state": "online", "reading": reading})
        self.report("readings", {"done": reading, "total": self.scale.device_readings})

    def _set_uplink(self, online: bool) -> None:
        self.uplink_collector.set_online(online)
        self.uplink_aws.set_online(online)

    def drain_and_stop(self) -> None:
        """Let the worker drain what is left, stop every part, note what the infrastructure saw, flush the
        collector (last, so every span sent is stored)."""
        self._set_uplink(True)
        # failed records wait out their visibility timeout, then the DLQ
        drain_deadline = time.monotonic() + 6
        while time.monotonic() < drain_deadline and self.mapping.idle_polls < 30:
            time.sleep(0.1)
        self.mapping.stop.set()
        self.mapping.thread.join(10)
        self.worker_lambdas.shutdown()
        for proc in (self.processes["pop"], self.processes["device"], *self.pipelines):
            proc.join(20)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
        self._observe()
        self.report("stopping", {"step": "collector flush"})
        time.sleep(0.3)  # the last UDP datagrams
        self.collector.stop()

    def _observe(self) -> None:
        """What the infrastructure saw, for the truth file: worker counts, the deploy, the offline window."""
        observed, window = self.observed, self.offline_window
        observed["worker"] = {**self.worker_lambdas.stats()["order-worker"], "records": self.mapping.processed}
        if self.mapping.deployed_at_ns is not None:
            observed["bad_deploy_at_ns"] = self.mapping.deployed_at_ns
        if len(window) == 1:
            window.append(time.time_ns())
        if window:
            observed["offline_window_ns"] = window
            readings = (observed.get("device") or {}).get("readings") or []
            observed["offline_readings"] = [i for i, t in readings if window[0] <= t < window[1]]
        observed["aws"] = dict(self.aws.faults.counts)
        observed["run_ended_ns"] = time.time_ns()

    def clean_up(self) -> None:
        """Stop whatever is still running, newest first, and remove the work directory."""
        for cleanup in reversed(self.cleanups):
            try:
                cleanup()
            except Exception:
                pass
        shutil.rmtree(self.work, ignore_errors=True)
