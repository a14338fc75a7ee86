"""@batch_job in real processes with the variables AWS Batch sets; SIGTERM (Spot interruption) is flushed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from spanscope.tracer import environ_for_context, span

from tests.tracer.otlp_sink import OtlpSink

JOB = textwrap.dedent(
    """
    import sys, time
    from spanscope.tracer import trace
    from spanscope.tracer.integrations import batch_job

    @trace("step")
    def step():
        pass

    @batch_job(name="etl-job", flush_timeout_millis=20000)
    def main():
        step()
        if sys.argv[1] == "wait":
            print("ready", flush=True)
            time.sleep(60)
        return 0

    sys.exit(main())
    """
)


def job_env(sink: OtlpSink, carried: dict[str, str], index: int | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AWS_", "_X_AMZN"))}
    env.update(carried)
    env.update(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint,
            "OTEL_SERVICE_NAME": "etl",
            "AWS_BATCH_JOB_ID": "a1b2c3d4-job" + (f":{index}" if index is not None else ""),
            "AWS_BATCH_JOB_ATTEMPT": "1",
            "AWS_BATCH_JQ_NAME": "queue1",
            "AWS_BATCH_CE_NAME": "spot-env",
            "AWS_REGION": "us-west-2",
            "SPANSCOPE_EXIT_FLUSH_MILLIS": "20000",
        }
    )
    if index is not None:
        env["AWS_BATCH_JOB_ARRAY_INDEX"] = str(index)
    return env


def test_array_children_are_siblings_under_the_submitter(memory: InMemorySpanExporter, sink: OtlpSink) -> None:
    with span("submit"):
        carried = environ_for_context()
    submit = memory.get_finished_spans()[0]
    children = [subprocess.Popen([sys.executable, "-c", JOB, "run"], env=job_env(sink, carried, i)) for i in range(2)]
    assert [p.wait(60) for p in children] == [0, 0]
    spans = sink.wait_for(4)
    jobs = [s for s in spans if s["name"] == "etl-job"]
    assert len(jobs) == 2
    assert {s["parent_id"] for s in jobs} == {f"{submit.context.span_id:016x}"}
    assert {s["trace_id"] for s in jobs} == {f"{submit.context.trace_id:032x}"}
    assert sorted(s["attributes"]["aws.batch.job.array_index"] for s in jobs) == [0, 1]
    first = jobs[0]["attributes"]
    assert first["aws.batch.job_queue"] == "queue1" and first["aws.batch.compute_environment"] == "spot-env"
    assert first["aws.batch.job.attempt"] == 1 and first["spanscope.origin"] == "spanscope::Batch::Job"
    assert jobs[0]["resource"]["spanscope.location"] == "us-west-2"
    assert jobs[0]["resource"]["spanscope.origin"] == "spanscope::Batch::Job"
    steps = [s for s in spans if s["name"] == "step"]
    assert {s["parent_id"] for s in steps} == {s["span_id"] for s in jobs}


def test_sigterm_is_recorded_and_flushed_before_exit(memory: InMemorySpanExporter, sink: OtlpSink) -> None:
    with span("submit"):
        carried = environ_for_context()
    proc = subprocess.Popen(
        [sys.executable, "-c", JOB, "wait"], env=job_env(sink, carried, None), stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == -signal.SIGTERM  # dies of SIGTERM as it would without the tracer
    finally:
        if proc.poll() is None:
            proc.kill()
    spans = sink.wait_for(2, timeout_s=10)
    job = next(s for s in spans if s["name"] == "etl-job")
    assert job["attributes"]["spanscope.batch.interrupted"] is True
    assert "SIGTERM" in job["events"]
    assert job["status"] == 2  # STATUS_CODE_ERROR


def test_multi_node_attributes() -> None:
    from spanscope.tracer.integrations.batch import job_attributes

    attrs = job_attributes({"AWS_BATCH_JOB_NODE_INDEX": "2", "AWS_BATCH_JOB_NUM_NODES": "4", "AWS_BATCH_JOB_ID": "j#2"})
    assert attrs["aws.batch.job.node_index"] == 2 and attrs["aws.batch.job.num_nodes"] == 4


def test_job_that_installs_its_own_sigterm_handler_keeps_it(memory: InMemorySpanExporter) -> None:
    from spanscope.tracer.integrations import batch_job

    def mine(signum: int, frame: object) -> None:
        pass

    previous = signal.getsignal(signal.SIGTERM)

    @batch_job
    def job() -> None:
        signal.signal(signal.SIGTERM, mine)

    try:
        job()
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert [s.name for s in memory.get_finished_spans()] == ["job"]


@pytest.mark.parametrize("code", [0, 3])
def test_exit_code_is_kept(sink: OtlpSink, code: int) -> None:
    script = (
        "import sys\nfrom spanscope.tracer.integrations import batch_job\n"
        f"@batch_job\ndef main():\n    sys.exit({code})\nmain()\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], env=job_env(sink, {}, None), timeout=60)
    assert proc.returncode == code
    assert [s["name"] for s in sink.wait_for(1)] == ["main"]
