"""The environments and settings the demo hands its workload processes: simulated AWS credentials and endpoint,
the tracer's export settings, the device's Greengrass environment, and each workload's knobs from the fault plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spanscope.demo_apps.faults import DEVICE_NAME, FaultPlan

# Regional Lambda functions export OTLP/HTTP (flushed at the end of each invocation); the Lambda@Edge functions
# send X-Ray documents over UDP to the collector's X-Ray daemon port (fire and forget), so both paths are used.
LAMBDA_EXPORT = "otlp"
EDGE_EXPORT = "xray"


def aws_environment(aws_url: str) -> dict[str, str]:
    """What a process needs to call the simulated AWS endpoint with (temporary) credentials."""
    return {
        "AWS_ENDPOINT_URL": aws_url,
        "AWS_ACCESS_KEY_ID": "ASIADEMODEMODEMO",
        "AWS_SECRET_ACCESS_KEY": "demo-secret",
        "AWS_SESSION_TOKEN": "demo-session",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def otlp_environment(otlp_endpoint: str) -> dict[str, str]:
    """The OpenTelemetry SDK's OTLP/HTTP export settings (short batch delay: demo processes are short-lived)."""
    return {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": otlp_endpoint, "OTEL_BSP_SCHEDULE_DELAY": "200"}


def lambda_tracing_environment(otlp_env: dict[str, str], xray: tuple[str, int]) -> dict[str, str]:
    """How the regional Lambda functions export: OTLP/HTTP, or X-Ray's daemon variables (``LAMBDA_EXPORT``)."""
    if LAMBDA_EXPORT != "xray":
        return dict(otlp_env)
    host, port = xray
    return {
        "AWS_XRAY_DAEMON_ADDRESS": f"{host}:{port}",
        "_AWS_XRAY_DAEMON_ADDRESS": host,
        "_AWS_XRAY_DAEMON_PORT": str(port),
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    }


def workload_settings(
    plan: FaultPlan, work: Path, otlp_endpoint: str, xray: tuple[str, int], aws_env: dict[str, str], queue_url: str
) -> dict[str, Any]:
    """The settings every workload process receives: where to export, the resources, the plan's knobs."""
    scale = plan.scale
    lambda_tracing = lambda_tracing_environment(otlp_environment(otlp_endpoint), xray)
    otlp_env = otlp_environment(otlp_endpoint)
    xray_daemon = f"{xray[0]}:{xray[1]}"
    return {
        "seed": plan.seed,
        "work_dir": str(work),
        "otlp_endpoint": otlp_endpoint,
        "aws_env": aws_env,
        "lambda_tracing_env": lambda_tracing,
        "edge_bundle": {"xray_daemon": xray_daemon} if EDGE_EXPORT == "xray" else {"otlp_endpoint": otlp_endpoint},
        "resources": {"table": "orders", "bucket": "catalog", "queue_url": queue_url},
        "pop_env": {**aws_env, **otlp_env},
        "sfn_env": {**aws_env, **otlp_env},
        "container_env": {**aws_env, **otlp_env, "OTEL_SERVICE_NAME": "invoice-render"},
        "emr_env": {
            **aws_env,
            **otlp_env,
            "OTEL_SERVICE_NAME": "sales-rollup",
            "EMR_CLUSTER_ID": f"j-{plan.seed % 100000:05d}DEMO",
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


def device_environment(work: Path, *, collector_port: int, aws_port: int) -> dict[str, str]:
    """The Greengrass device's environment: its own credentials and region, the uplink proxies' ports."""
    return {
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
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://127.0.0.1:{collector_port}/v1/traces",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "IOT_DATA_ENDPOINT": f"http://127.0.0.1:{aws_port}",
    }
