"""Fault kinds of the demo and their seeded parameters (the plan the simulated infrastructure and workloads read).

A fault is injected into the simulated *infrastructure* (the AWS endpoint, the Lambda service, the
EMR cluster, the device's uplink, the deployed code version), never into the tracer or the analyzers.
The plan is a pure function of (fault names, seed, scale), so a run can be repeated exactly.

>>> plan = plan_faults(["dynamodb-throttle"], seed=7, scale=Scale.quick())
>>> plan.has("dynamodb-throttle"), 0.2 <= plan.dynamodb_throttle_rate <= 0.45
(True, True)
>>> parse_fault_names("all") == list(FAULT_KINDS)
True
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final


class FaultSpecError(ValueError):
    """An unknown fault name on the command line."""


@dataclass(frozen=True, slots=True)
class FaultKind:
    name: str
    category: str  # errors | latency | straggler | cold-start | connectivity
    summary: str


FAULT_KINDS: Final[dict[str, FaultKind]] = {
    k.name: k
    for k in (
        FaultKind("dynamodb-throttle", "errors", "DynamoDB throttles the orders table (PutItem fails)"),
        FaultKind("bad-deploy", "errors", "order-worker v2 is deployed mid-run with a bug in enrich_order"),
        FaultKind("s3-latency", "latency", "S3 GetObject on the catalog bucket becomes slow"),
        FaultKind("slow-reducer", "straggler", "one EMR core node is degraded: its reduce task crawls"),
        FaultKind("skewed-partition", "straggler", "a flash sale makes one key hot: one reduce partition is huge"),
        FaultKind("cold-start-storm", "cold-start", "orders-api sandboxes are recycled and init is slow"),
        FaultKind("edge-offline", "connectivity", "the Greengrass device loses its uplink for a while"),
    )
}
DEFAULT_FAULTS: Final = ("dynamodb-throttle", "s3-latency", "slow-reducer", "cold-start-storm", "edge-offline")


def parse_fault_names(text: str | None) -> list[str]:
    """Fault names from ``a,b,c``, ``all``, ``none`` or None (the default set); FaultSpecError on unknown names."""
    if text is None or text.strip() == "" or text.strip() == "default":
        return list(DEFAULT_FAULTS)
    value = text.strip().lower()
    if value == "all":
        return list(FAULT_KINDS)
    if value == "none":
        return []
    names: list[str] = []
    for raw in value.split(","):
        name = raw.strip()
        if not name:
            continue
        if name not in FAULT_KINDS:
            known = ", ".join(FAULT_KINDS)
            raise FaultSpecError(f"unknown fault {name!r}: choose from {known}, all, none")
        if name not in names:
            names.append(name)
    return names


@dataclass(frozen=True, slots=True)
class Scale:
    """How much work one run does. ``default`` is what ``spanscope demo`` runs; ``quick`` is for tests/eval."""

    requests: int = 90
    client_concurrency: int = 2
    batch_array_size: int = 6
    batch_slots: int = 2
    records_per_shard: int = 6000
    map_tasks: int = 4
    reduce_tasks: int = 8
    device_readings: int = 40
    device_interval_s: float = 0.25
    pipeline_after_orders: int = 30

    @classmethod
    def quick(cls) -> Scale:
        return cls(
            requests=30,
            client_concurrency=2,
            batch_array_size=4,
            batch_slots=2,
            records_per_shard=2500,
            map_tasks=3,
            reduce_tasks=6,
            device_readings=16,
            device_interval_s=0.2,
            pipeline_after_orders=12,
        )


@dataclass(slots=True)
class FaultPlan:
    """The seeded parameters of every fault (inactive faults keep neutral values)."""

    faults: list[str]
    seed: int
    scale: Scale
    dynamodb_throttle_rate: float = 0.0
    bad_deploy_after_orders: int = -1
    bad_deploy_hit_rate: float = 0.0
    s3_extra_latency_s: float = 0.0
    slow_reducer_partition: int = -1
    slow_reducer_factor: float = 1.0
    hot_key_share: float = 0.0
    cold_start_reuse: int = 0  # invocations a sandbox serves before it is reclaimed (0: unlimited)
    cold_start_init_s: float = 0.0
    offline_start_reading: int = -1
    offline_readings: int = 0
    spot_interrupted_index: int = 0
    # background noise present in every run (expired tokens, unknown products)
    auth_reject_rate: float = 0.04
    unknown_sku_rate: float = 0.03
    extra: dict[str, Any] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return name in self.faults

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["scale"] = asdict(self.scale)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FaultPlan:
        values = dict(data)
        values["scale"] = Scale(**values["scale"])
        return cls(**values)


def plan_faults(names: Iterable[str], *, seed: int, scale: Scale) -> FaultPlan:
    """Draw every fault's parameters from ``seed`` (the draws do not depend on which faults are on)."""
    rng = random.Random(seed)
    faults = list(names)
    plan = FaultPlan(faults=faults, seed=seed, scale=scale)
    throttle = rng.uniform(0.25, 0.4)
    deploy_after = rng.randint(scale.requests // 6, scale.requests // 4)
    deploy_hit = rng.uniform(0.5, 0.7)
    s3_latency = rng.uniform(0.18, 0.3)
    slow_partition = rng.randrange(scale.reduce_tasks)
    slow_factor = rng.uniform(4.0, 6.0)
    hot_share = rng.uniform(0.55, 0.7)
    reuse = rng.randint(2, 3)
    init_s = rng.uniform(0.2, 0.35)
    offline_start = rng.randint(scale.device_readings // 4, scale.device_readings // 3)
    # long enough (≥ 1 s) that the tracer's batches really meet the outage and go through the spool, and over
    # at least three readings before the device stops (so it is seen reconnecting)
    offline_len = max(math.ceil(1.0 / scale.device_interval_s), int(scale.device_readings * rng.uniform(0.25, 0.35)))
    offline_len = max(1, min(offline_len, scale.device_readings - offline_start - 3))
    plan.spot_interrupted_index = rng.randrange(scale.batch_array_size)
    plan.extra["traffic_seed"] = rng.randrange(2**31)
    if "dynamodb-throttle" in faults:
        plan.dynamodb_throttle_rate = throttle
    if "bad-deploy" in faults:
        plan.bad_deploy_after_orders = deploy_after
        plan.bad_deploy_hit_rate = deploy_hit
    if "s3-latency" in faults:
        plan.s3_extra_latency_s = s3_latency
    if "slow-reducer" in faults:
        plan.slow_reducer_partition = slow_partition
        plan.slow_reducer_factor = slow_factor
    if "skewed-partition" in faults:
        plan.hot_key_share = hot_share
        if plan.slow_reducer_partition == hot_partition(scale.reduce_tasks):
            plan.slow_reducer_partition = (plan.slow_reducer_partition + 1) % scale.reduce_tasks
    if "cold-start-storm" in faults:
        plan.cold_start_reuse = reuse
        plan.cold_start_init_s = init_s
    if "edge-offline" in faults:
        plan.offline_start_reading = offline_start
        plan.offline_readings = offline_len
    return plan


HOT_KEY: Final = "sku-0042"


def partition_of(key: str, partitions: int) -> int:
    """The reduce partition of a key (a stable hash, so runs repeat)."""
    import zlib

    return zlib.crc32(key.encode()) % partitions


def hot_partition(partitions: int) -> int:
    return partition_of(HOT_KEY, partitions)


DEVICE_NAME: Final = "greenhouse-sensor-7"


def reduce_task_id(partition: int) -> str:
    return f"r-{partition:05d}"
