"""EMR / MapReduce: job -> phase (map, shuffle, reduce) -> task spans.

Two ways in:

- Hadoop streaming scripts: ``with streaming_task() as task: for line in task.records(): task.emit(k, v)``
  reads ``mapreduce_task_id``, ``mapreduce_map_input_file`` (older ``mapred_task_id``/``map_input_file`` as
  fallback), the input split (``..._input_start``/``..._input_length``) and the submitter's context, which
  the driver passes with ``-cmdenv`` (``streaming_cmdenv()``).
- Plain Python: ``run_mapreduce(mapper, reducer, splits, processes=4)`` runs map and reduce tasks in
  worker processes; each worker continues its phase span from the environment it was given.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import IO, Any

from opentelemetry import trace as otel_trace
from opentelemetry.trace import Link, SpanKind
from spanscope.tracer import conventions as c
from spanscope.tracer.api import SpanScope, span
from spanscope.tracer.health import HEALTH
from spanscope.tracer.lifecycle import force_flush
from spanscope.tracer.propagation import context_from_environ, environ_for_context

_TASK_PHASE = re.compile(r"_([mr])_\d+")


def job_span(name: str, *, job_id: str | None = None, attributes: Mapping[str, object] | None = None) -> SpanScope:
    """The span of a whole MapReduce job (origin ``spanscope::EMR::Job``)."""
    attrs: dict[str, object] = {c.ORIGIN: c.ORIGIN_EMR, **(attributes or {})}
    if job_id:
        attrs[c.MR_JOB_ID] = job_id
    return span(name, kind=SpanKind.INTERNAL, attributes=attrs, links=_submitter_link())


def _submitter_link() -> list[Link] | None:
    """A link to the span that submitted the step (its context in the environment): the job is its own
    trace, as an EMR step is in X-Ray, and the link joins it to the submitter's workflow."""
    try:
        submitter = otel_trace.get_current_span(context_from_environ()).get_span_context()
    except Exception as exc:
        HEALTH.fail("mapreduce_link", exc)
        return None
    if not submitter.is_valid:
        return None
    return [Link(submitter, {c.LINK_KIND: "emr"})]


def phase_span(phase: str, *, attributes: Mapping[str, object] | None = None) -> SpanScope:
    """The span of one phase: ``map``, ``shuffle`` or ``reduce``."""
    return span(phase, attributes={c.MR_PHASE: phase, **(attributes or {})})


def streaming_cmdenv() -> list[str]:
    """``-cmdenv NAME=VALUE`` arguments that carry the current context to Hadoop streaming tasks."""
    args: list[str] = []
    for name, value in environ_for_context().items():
        args += ["-cmdenv", f"{name}={value}"]
    return args


def phase_of_task(task_id: str) -> str:
    """``map``/``reduce`` from a Hadoop task or attempt id.

    >>> phase_of_task("attempt_201012101234_0001_m_000003_0"), phase_of_task("task_1_0001_r_000000")
    ('map', 'reduce')
    """
    match = _TASK_PHASE.search(task_id)
    if not match:
        return "task"
    return "map" if match.group(1) == "m" else "reduce"


def _first(environ: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = environ.get(name)
        if value:
            return value
    return None


def streaming_attributes(environ: Mapping[str, str]) -> dict[str, object]:
    """Task attributes from the (dot-to-underscore) job configuration Hadoop streaming exports."""
    attrs: dict[str, object] = {c.ORIGIN: c.ORIGIN_EMR}
    task_id = _first(environ, "mapreduce_task_attempt_id", "mapreduce_task_id", "mapred_task_id")
    if task_id:
        attrs[c.MR_TASK_ID] = task_id
        attrs[c.MR_PHASE] = phase_of_task(task_id)
    job_id = _first(environ, "mapreduce_job_id", "mapred_job_id")
    if job_id:
        attrs[c.MR_JOB_ID] = job_id
    input_file = _first(environ, "mapreduce_map_input_file", "map_input_file")
    if input_file:
        attrs[c.MR_INPUT_FILE] = input_file
    start = _first(environ, "mapreduce_map_input_start", "map_input_start")
    length = _first(environ, "mapreduce_map_input_length", "map_input_length")
    if start and start.isdigit():
        attrs["mapreduce.input.start"] = int(start)
    if length and length.isdigit():
        attrs[c.INPUT_BYTES] = int(length)
    return attrs


class TaskCounters:
    """Records in and out of one task, written onto its span when it ends."""

    def __init__(self, stdin: IO[str] | None = None, stdout: IO[str] | None = None) -> None:
        self.records_in = 0
        self.records_out = 0
        self._stdin = stdin
        self._stdout = stdout

    def records(self) -> Iterator[str]:
        """Input lines (without their newline), counted."""
        for line in self._stdin if self._stdin is not None else sys.stdin:
            self.records_in += 1
            yield line.rstrip("\n")

    def emit(self, key: object, value: object) -> None:
        """Write one ``key<TAB>value`` output record, counted."""
        out = self._stdout if self._stdout is not None else sys.stdout
        out.write(f"{key}\t{value}\n")
        self.records_out += 1


@contextmanager
def streaming_task(
    environ: Mapping[str, str] | None = None,
    *,
    stdin: IO[str] | None = None,
    stdout: IO[str] | None = None,
    flush_timeout_millis: int = 5000,
) -> Iterator[TaskCounters]:
    """The span of one Hadoop streaming task, continuing the driver's context from the environment."""
    env = os.environ if environ is None else environ
    attrs = streaming_attributes(env)
    counters = TaskCounters(stdin, stdout)
    # One name for every task of a phase (the id is an attribute): siblings compare, so stragglers show.
    name = f"{attrs.get(c.MR_PHASE, 'task')} task"
    try:
        with span(name, kind=SpanKind.SERVER, attributes=attrs, parent=context_from_environ(env)) as s:
            try:
                yield counters
            finally:
                try:
                    s.set_attributes({c.MR_RECORDS_IN: counters.records_in, c.MR_RECORDS_OUT: counters.records_out})
                except Exception as exc:
                    HEALTH.fail("mapreduce_counters", exc)
    finally:
        force_flush(flush_timeout_millis)


# --- plain Python map/reduce in worker processes -------------------------------------------------------

Mapper = Callable[[Any], Iterable[tuple[Hashable, Any]]]
Reducer = Callable[[Hashable, list[Any]], Any]


def _carry_environment(carried: Mapping[str, str]) -> None:
    """Pool initializer: the phase's context arrives through the worker's environment."""
    for name in ("_X_AMZN_TRACE_ID", "TRACEPARENT", "TRACESTATE"):
        os.environ.pop(name, None)
    os.environ.update(carried)


def _map_task(args: tuple[Mapper, int, str, Sequence[Any]]) -> list[tuple[Hashable, Any]]:
    mapper, index, split_name, records = args
    task_id = f"m_{index:06d}"
    attrs = {
        c.MR_PHASE: "map",
        c.MR_TASK_ID: task_id,
        c.MR_INPUT_FILE: split_name,
        c.INPUT_RECORDS: len(records),
        c.MR_RECORDS_IN: len(records),
        "process.pid": os.getpid(),
    }
    out: list[tuple[Hashable, Any]] = []
    try:
        with span("map task", kind=SpanKind.SERVER, attributes=attrs, parent=context_from_environ()) as s:
            for record in records:
                out.extend(mapper(record))
            s.set_attribute(c.MR_RECORDS_OUT, len(out))
    finally:
        force_flush()
    return out


def _reduce_task(args: tuple[Reducer, int, list[tuple[Hashable, list[Any]]]]) -> list[tuple[Hashable, Any]]:
    reducer, index, groups = args
    task_id = f"r_{index:06d}"
    attrs = {
        c.MR_PHASE: "reduce",
        c.MR_TASK_ID: task_id,
        c.MR_RECORDS_IN: sum(len(values) for _key, values in groups),
        c.INPUT_RECORDS: len(groups),
        "process.pid": os.getpid(),
    }
    out: list[tuple[Hashable, Any]] = []
    try:
        with span("reduce task", kind=SpanKind.SERVER, attributes=attrs, parent=context_from_environ()) as s:
            for key, values in groups:
                out.append((key, reducer(key, values)))
            s.set_attribute(c.MR_RECORDS_OUT, len(out))
    finally:
        force_flush()
    return out


def run_mapreduce(
    mapper: Mapper,
    reducer: Reducer,
    splits: Sequence[Sequence[Any]],
    *,
    name: str = "mapreduce",
    job_id: str | None = None,
    split_names: Sequence[str] | None = None,
    reducers: int = 2,
    processes: int = 2,
    mp_context: multiprocessing.context.BaseContext | None = None,
) -> dict[Hashable, Any]:
    """Run a map/reduce over ``splits`` in worker processes, traced as job -> phases -> tasks.

    ``mapper(record)`` yields (key, value) pairs; ``reducer(key, values)`` returns the key's result.
    Both must be picklable (module-level functions).
    """
    ctx = mp_context or multiprocessing.get_context()
    names = list(split_names or [f"split-{i}" for i in range(len(splits))])
    with job_span(name, job_id=job_id):
        # The pool is made inside the phase span: workers get the phase's context in their environment.
        with (
            phase_span("map", attributes={c.INPUT_RECORDS: sum(len(s) for s in splits)}),
            ctx.Pool(processes, initializer=_carry_environment, initargs=(environ_for_context(),)) as pool,
        ):
            mapped = pool.map(_map_task, [(mapper, i, names[i], list(s)) for i, s in enumerate(splits)])
        with phase_span("shuffle") as shuffle:
            groups: dict[Hashable, list[Any]] = defaultdict(list)
            total = 0
            for pairs in mapped:
                for key, value in pairs:
                    groups[key].append(value)
                    total += 1
            partitions: list[list[tuple[Hashable, list[Any]]]] = [[] for _ in range(max(1, reducers))]
            for position, key in enumerate(sorted(groups, key=repr)):
                partitions[position % len(partitions)].append((key, groups[key]))
            shuffle.set_attributes({c.MR_RECORDS_IN: total, c.MR_RECORDS_OUT: len(groups)})
        with (
            phase_span("reduce"),
            ctx.Pool(processes, initializer=_carry_environment, initargs=(environ_for_context(),)) as pool,
        ):
            reduced = pool.map(_reduce_task, [(reducer, i, part) for i, part in enumerate(partitions)])
    return {key: value for pairs in reduced for key, value in pairs}
