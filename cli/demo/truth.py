"""A demo run's injected truth: what the analyzers must find for each fault, written beside the store as
``<db>.truth.json`` with what the infrastructure observed, and read back for the verdicts."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from spanscope.demo_apps.faults import (
    DEVICE_NAME,
    FAULT_KINDS,
    HOT_KEY,
    FaultPlan,
    hot_partition,
    reduce_task_id,
)


def expected_findings(plan: FaultPlan) -> list[dict[str, Any]]:
    """What an analyzer must find for each injected fault (the ground truth, by signature)."""
    out: list[dict[str, Any]] = []
    for name in plan.faults:
        kind = FAULT_KINDS[name]
        item: dict[str, Any] = {"fault": name, "category": kind.category, "summary": kind.summary}
        if name == "dynamodb-throttle":
            item["failing_operation"] = {"service": "orders-api", "operation": "DynamoDB.PutItem"}
            item["rate"] = round(plan.dynamodb_throttle_rate, 3)
        elif name == "bad-deploy":
            item["failing_operation"] = {"service": "order-worker", "operation": "enrich_order"}
            item["deployed_version"] = "2"
            item["after_orders"] = plan.bad_deploy_after_orders
        elif name == "s3-latency":
            item["slow_operation"] = {"service": "orders-api", "operation": "S3.GetObject"}
            item["extra_latency_s"] = round(plan.s3_extra_latency_s, 3)
        elif name == "slow-reducer":
            item["straggler"] = {
                "service": "sales-rollup",
                "operation": "reduce task",
                "task_id": reduce_task_id(plan.slow_reducer_partition),
                "explained_by_input": False,
            }
            item["slowdown"] = round(plan.slow_reducer_factor, 2)
        elif name == "skewed-partition":
            item["straggler"] = {
                "service": "sales-rollup",
                "operation": "reduce task",
                "task_id": reduce_task_id(hot_partition(plan.scale.reduce_tasks)),
                "explained_by_input": True,
            }
            item["hot_key"] = HOT_KEY
            item["hot_key_share"] = round(plan.hot_key_share, 3)
        elif name == "cold-start-storm":
            item["cold_start_function"] = "orders-api"
            item["sandbox_reuse"] = plan.cold_start_reuse
            item["init_s"] = round(plan.cold_start_init_s, 3)
        elif name == "edge-offline":
            item["device"] = DEVICE_NAME
            item["failing_operation"] = {"service": DEVICE_NAME, "operation": "IoTCore.Publish"}
            item["offline_readings"] = plan.offline_readings
            item["offline_from_reading"] = plan.offline_start_reading
        out.append(item)
    return out


def truth_path(db_path: Path) -> Path:
    """``<db>.truth.json``: where a run's injected truth is written."""
    return db_path.with_name(db_path.name + ".truth.json")


def write_truth(db_path: Path, plan: FaultPlan, observed: Mapping[str, Any]) -> Path:
    """Write the plan, the expected findings and what the infrastructure observed (windows, counts)."""
    path = truth_path(db_path)
    doc = {
        "seed": plan.seed,
        "faults": plan.faults,
        "expected": expected_findings(plan),
        "observed": dict(observed),
        "plan": plan.to_json(),
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=False), encoding="utf-8")
    tmp.replace(path)
    return path


def load_truth(path: Path) -> dict[str, Any]:
    """A truth file written by :func:`write_truth`, parsed."""
    result: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return result
