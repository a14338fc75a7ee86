"""The EMR step: a MapReduce job rolling the Batch output up into sales per product (map → shuffle → reduce).

The driver (its own process, on the "master node") runs map and reduce tasks in a pool of worker
processes (the "core nodes"). Each task gets the environment Hadoop gives a streaming task
(``mapreduce_job_id``, ``mapreduce_task_id``, ``mapreduce_map_input_file``, the driver's trace context) and
is traced as a ``map``/``reduce`` span under its phase. Tasks do real parsing, partitioning and
aggregation over the generated input; their disk and network time is simulated from the bytes they
move and the speed of the node they run on (a degraded node is the ``slow-reducer`` fault).
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from spanscope.demo_apps.faults import partition_of, reduce_task_id
from spanscope.demo_apps.processes import mp_context

BYTES_PER_S = 500_000  # a core node's disk + network throughput for task I/O (a small, busy node)
TASK_OVERHEAD_S = 0.05  # task start-up, heartbeat, commit


def _task_environment(carried: dict[str, str]) -> None:
    """Pool initializer: the worker starts with the driver's environment (trace context included)."""
    for name in ("_X_AMZN_TRACE_ID", "TRACEPARENT", "TRACESTATE"):
        os.environ.pop(name, None)
    os.environ.update(carried)


def _io(nbytes: int, speed: float) -> None:
    time.sleep(TASK_OVERHEAD_S / speed + nbytes / (BYTES_PER_S * speed))


def map_task(args: tuple[str, int, str, int, str, float]) -> list[str]:
    """One map task: parse an input split, emit (sku, amount) into one spill file per reduce partition."""
    from spanscope.tracer import context_from_environ, span

    job_id, index, input_file, partitions, spill_dir, speed = args
    task_id = f"m-{index:05d}"
    os.environ.update(
        {
            "mapreduce_task_id": f"attempt_{job_id}_m_{index:06d}_0",
            "mapreduce_task_partition": str(index),
            "mapreduce_map_input_file": input_file,
        }
    )
    data = Path(input_file).read_bytes()
    attrs = {
        "mapreduce.phase": "map",
        "mapreduce.task.id": task_id,
        "mapreduce.input.file": input_file,
        "spanscope.input.bytes": len(data),
    }
    outputs = []
    with span("map task", kind="server", attributes=attrs, parent=context_from_environ()) as s:
        buckets: list[list[str]] = [[] for _ in range(partitions)]
        lines = data.decode().splitlines()
        for line in lines:
            sku, _region, amount = line.split(",")
            buckets[partition_of(sku, partitions)].append(f"{sku}\t{amount}")
        for p, rows in enumerate(buckets):
            path = Path(spill_dir) / f"map-{index:05d}.part-{p:05d}"
            path.write_text("\n".join(rows), encoding="utf-8")
            outputs.append(str(path))
        _io(len(data), speed)
        s.set_attributes({"mapreduce.records.in": len(lines), "mapreduce.records.out": len(lines)})
    from spanscope.tracer import force_flush

    force_flush(5000)
    return outputs


def reduce_task(args: tuple[str, int, str, str, float, str]) -> dict[str, int]:
    """One reduce task: merge its partition (already fetched by the shuffle) and sum sales per product."""
    from spanscope.tracer import context_from_environ, force_flush, span

    job_id, partition, merged_file, out_dir, speed, node = args
    task_id = reduce_task_id(partition)
    os.environ.update(
        {"mapreduce_task_id": f"attempt_{job_id}_r_{partition:06d}_0", "mapreduce_task_partition": str(partition)}
    )
    data = Path(merged_file).read_bytes()
    lines = [line for line in data.decode().splitlines() if line]
    attrs = {
        "mapreduce.phase": "reduce",
        "mapreduce.task.id": task_id,
        "mapreduce.records.in": len(lines),
        "spanscope.input.bytes": len(data),
        "emr.node": node,
    }
    totals: dict[str, int] = defaultdict(int)
    with span("reduce task", kind="server", attributes=attrs, parent=context_from_environ()) as s:
        for line in lines:
            sku, amount = line.split("\t")
            totals[sku] += int(amount)
        Path(out_dir, f"part-r-{partition:05d}").write_text(
            "\n".join(f"{k}\t{v}" for k, v in sorted(totals.items())), encoding="utf-8"
        )
        _io(len(data), speed)
        s.set_attribute("mapreduce.records.out", len(totals))
    force_flush(5000)
    return dict(totals)


def driver_main(env: dict[str, str], settings: dict[str, Any], input_dir: str, output_dir: str, results: Any) -> None:
    """The EMR step's driver process: job → map phase → shuffle → reduce phase."""
    os.environ.update(env)
    from spanscope.tracer import environ_for_context, force_flush, shutdown
    from spanscope.tracer.integrations import job_span, phase_span

    job_id = f"job_{int(time.time())}_{uuid.uuid4().int % 10000:04d}"
    os.environ["mapreduce_job_id"] = job_id  # noqa: SIM112 - Hadoop's own (lower-case) name
    partitions = int(settings["reduce_tasks"])
    slow_partition = int(settings["slow_reducer_partition"])
    slow_factor = float(settings["slow_reducer_factor"])
    inputs = sorted(str(p) for p in Path(input_dir).glob("part-*.csv"))
    spill = Path(output_dir, "_spill")
    spill.mkdir(parents=True, exist_ok=True)
    outcome: dict[str, Any] = {"job_id": job_id, "inputs": len(inputs)}
    rng = random.Random(int(settings["seed"]) * 31 + 7)

    def jitter() -> float:
        """A node's speed on the day: core nodes differ by ±15% (noisy neighbours, disk, placement)."""
        return rng.uniform(0.85, 1.15)

    ctx = mp_context()
    try:
        with job_span("sales-rollup", job_id=job_id, attributes={"aws.emr.cluster_id": env.get("EMR_CLUSTER_ID", "")}):
            with phase_span("map", attributes={"spanscope.input.records": len(inputs)}):
                carried = {**env, "mapreduce_job_id": job_id, **environ_for_context()}
                with ctx.Pool(2, initializer=_task_environment, initargs=(carried,)) as pool:
                    tasks = [(job_id, i, f, partitions, str(spill), jitter()) for i, f in enumerate(inputs)]
                    spills = pool.map(map_task, tasks, chunksize=1)
            with phase_span("shuffle") as shuffle:
                merged = []
                total = 0
                for p in range(partitions):
                    rows: list[str] = []
                    for outputs in spills:
                        text = Path(outputs[p]).read_text(encoding="utf-8")
                        if text:
                            rows.extend(text.split("\n"))
                    rows.sort()
                    total += len(rows)
                    path = spill / f"merged.part-{p:05d}"
                    path.write_text("\n".join(rows), encoding="utf-8")
                    merged.append(str(path))
                shuffle.set_attribute("mapreduce.records.in", total)
            with phase_span("reduce"):
                carried = {**env, "mapreduce_job_id": job_id, **environ_for_context()}
                with ctx.Pool(2, initializer=_task_environment, initargs=(carried,)) as pool:
                    tasks2 = [
                        (
                            job_id,
                            p,
                            merged[p],
                            output_dir,
                            jitter() / slow_factor if p == slow_partition else jitter(),
                            f"ip-10-0-1-{20 + p}.ec2.internal",
                        )
                        for p in range(partitions)
                    ]
                    totals = pool.map(reduce_task, tasks2, chunksize=1)
            outcome["products"] = sum(len(t) for t in totals)
    finally:
        force_flush(10000)
        shutdown()
        results.put(outcome)
