"""MapReduce: plain Python map/reduce in worker processes, and a Hadoop-streaming task as Hadoop runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Hashable, Iterable

import pytest
from spanscope.tracer import configure, environ_for_context, shutdown, span
from spanscope.tracer.integrations import run_mapreduce
from spanscope.tracer.integrations.mapreduce import phase_of_task, streaming_attributes

from tests.tracer.otlp_sink import OtlpSink


def count_words(line: str) -> Iterable[tuple[Hashable, int]]:
    return [(word, 1) for word in line.split()]


def total(key: Hashable, values: list[int]) -> int:
    return sum(values)


def test_job_phases_tasks_across_worker_processes(clean_env: pytest.MonkeyPatch, sink: OtlpSink) -> None:
    clean_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", sink.endpoint)
    configure(service="wordcount", flush_timeout_millis=20000)
    splits = [["a b a", "c"], ["b b"], ["a"]]
    result = run_mapreduce(count_words, total, splits, name="wordcount", job_id="job_1", reducers=2, processes=2)
    assert result == {"a": 3, "b": 3, "c": 1}
    shutdown()  # flush the driver's spans
    spans = sink.wait_for(1 + 3 + 3 + 2)
    by_id = {s["span_id"]: s for s in spans}
    job = next(s for s in spans if s["name"] == "wordcount")
    assert job["attributes"]["spanscope.origin"] == "spanscope::EMR::Job"
    assert job["attributes"]["mapreduce.job.id"] == "job_1"
    phases = {s["name"]: s for s in spans if s["parent_id"] == job["span_id"]}
    assert set(phases) == {"map", "shuffle", "reduce"}
    assert phases["shuffle"]["attributes"]["mapreduce.records.in"] == 7
    maps = [s for s in spans if s["name"] == "map task"]
    reduces = [s for s in spans if s["name"] == "reduce task"]
    assert {s["attributes"]["mapreduce.task.id"][:2] for s in maps + reduces} == {"m_", "r_"}
    assert len(maps) == 3 and len(reduces) == 2
    assert {by_id[s["parent_id"]]["name"] for s in maps} == {"map"}
    assert {by_id[s["parent_id"]]["name"] for s in reduces} == {"reduce"}
    assert sorted(s["attributes"]["mapreduce.records.in"] for s in maps) == [1, 1, 2]
    assert sum(s["attributes"]["mapreduce.records.out"] for s in maps) == 7
    assert {s["attributes"]["mapreduce.input.file"] for s in maps} == {"split-0", "split-1", "split-2"}
    assert sum(s["attributes"]["mapreduce.records.out"] for s in reduces) == 3
    assert len({s["trace_id"] for s in spans}) == 1
    assert os.getpid() not in {s["attributes"]["process.pid"] for s in maps + reduces}


MAPPER = textwrap.dedent(
    """
    from spanscope.tracer.integrations import streaming_task
    with streaming_task() as task:
        for line in task.records():
            for word in line.split():
                task.emit(word, 1)
    """
)


@pytest.mark.parametrize("old_names", [False, True])
def test_hadoop_streaming_task(clean_env: pytest.MonkeyPatch, sink: OtlpSink, old_names: bool) -> None:
    configure(exporters=["memory"], sampling=1.0)
    with span("driver"):
        carried = environ_for_context()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "mapred", "map_"))}
    env.update(carried)
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = sink.endpoint
    env["SPANSCOPE_EXIT_FLUSH_MILLIS"] = "20000"
    attempt = "attempt_1700000000000_0007_m_000003_0"
    if old_names:
        env.update({"mapred_task_id": attempt, "map_input_file": "s3://in/part-3", "mapred_job_id": "job_7"})
    else:
        env.update(
            {
                "mapreduce_task_id": attempt,
                "mapreduce_job_id": "job_1700000000000_0007",
                "mapreduce_map_input_file": "hdfs://nn/in/part-3",
                "mapreduce_map_input_start": "134217728",
                "mapreduce_map_input_length": "67108864",
            }
        )
    out = subprocess.run(
        [sys.executable, "-c", MAPPER], input="a b\nc\n", env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == "a\t1\nb\t1\nc\t1\n"
    task = sink.wait_for(1)[0]
    attrs = task["attributes"]
    assert task["parent_id"] == carried["TRACEPARENT"].split("-")[2]
    assert attrs["mapreduce.phase"] == "map" and attrs["mapreduce.task.id"] == attempt
    assert task["name"] == "map task"
    assert attrs["mapreduce.records.in"] == 2 and attrs["mapreduce.records.out"] == 3
    if old_names:
        assert attrs["mapreduce.input.file"] == "s3://in/part-3" and attrs["mapreduce.job.id"] == "job_7"
    else:
        assert attrs["mapreduce.input.file"] == "hdfs://nn/in/part-3"
        assert attrs["mapreduce.input.start"] == 134217728 and attrs["spanscope.input.bytes"] == 67108864


def test_task_phase_and_attributes() -> None:
    assert phase_of_task("attempt_1_0001_r_000002_1") == "reduce"
    assert phase_of_task("whatever") == "task"
    assert streaming_attributes({})["spanscope.origin"] == "spanscope::EMR::Job"
