"""Tightly coupled (HPC) jobs: per-rank, per-step spans with compute time and barrier-wait time.

Works with any rank-based framework (mpi4py, torch.distributed, plain processes)::

    ranks = RankTracer(rank=comm.rank, size=comm.size, job="sim")
    with ranks.run():
        for step in range(steps):
            with ranks.step(step) as st:
                compute()
                with st.barrier():
                    comm.Barrier()

Every step span carries ``spanscope.hpc.compute_ns`` and ``spanscope.hpc.barrier_wait_ns``; the rank that
computes longest makes every other rank wait, which the analyzers name. Ranks continue the launcher's
context from the environment (``environ_for_context()``), so their rank spans are siblings.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry.context import Context
from opentelemetry.trace import SpanKind
from spanscope.tracer import conventions as c
from spanscope.tracer.api import span
from spanscope.tracer.health import HEALTH
from spanscope.tracer.lifecycle import force_flush
from spanscope.tracer.propagation import context_from_environ


class Step:
    """One step of one rank: time inside ``barrier()`` is wait, the rest of the step is compute."""

    def __init__(self) -> None:
        self.barrier_wait_ns = 0

    @contextmanager
    def barrier(self, name: str = "barrier") -> Iterator[None]:
        started = time.perf_counter_ns()
        try:
            with span(name, attributes={"spanscope.hpc.barrier": True}):
                yield
        finally:
            self.barrier_wait_ns += time.perf_counter_ns() - started


class RankTracer:
    """Spans for one rank of a tightly coupled job."""

    def __init__(
        self,
        rank: int,
        *,
        size: int | None = None,
        job: str = "hpc-job",
        parent: Context | None = None,
        attributes: Mapping[str, object] | None = None,
    ) -> None:
        self.rank = rank
        self.size = size
        self.job = job
        self.parent = parent
        self.attributes = dict(attributes or {})
        self._compute_ns = 0
        self._wait_ns = 0

    @contextmanager
    def run(self, flush_timeout_millis: int = 5000) -> Iterator[None]:
        """The rank's whole run (origin ``spanscope::HPC::Rank``), continuing the launcher's context.

        Every rank's run span has the same name (``<job> rank``; the rank is an attribute), so the ranks
        are siblings the stragglers analyzer compares; at the end it carries the rank's total compute and
        barrier-wait time, its host and, where the platform says, its placement group and EFA presence.
        """
        attrs: dict[str, object] = {c.ORIGIN: c.ORIGIN_HPC, c.HPC_RANK: self.rank, **platform_attributes()}
        attrs.update(self.attributes)
        if self.size is not None:
            attrs["spanscope.hpc.size"] = self.size
        parent = self.parent if self.parent is not None else context_from_environ()
        self._compute_ns = self._wait_ns = 0
        try:
            with span(f"{self.job} rank", kind=SpanKind.SERVER, attributes=attrs, parent=parent) as s:
                try:
                    yield
                finally:
                    try:
                        s.set_attributes({c.HPC_COMPUTE_NS: self._compute_ns, c.HPC_BARRIER_WAIT_NS: self._wait_ns})
                    except Exception as exc:
                        HEALTH.fail("hpc_attributes", exc)
        finally:
            force_flush(flush_timeout_millis)

    @contextmanager
    def step(self, step: int) -> Iterator[Step]:
        """One step: records compute and barrier-wait nanoseconds on the step span."""
        state = Step()
        started = time.perf_counter_ns()
        with span(f"step {step}", attributes={c.HPC_RANK: self.rank, c.HPC_STEP: step}) as s:
            try:
                yield state
            finally:
                total = time.perf_counter_ns() - started
                compute = max(0, total - state.barrier_wait_ns)
                self._compute_ns += compute
                self._wait_ns += state.barrier_wait_ns
                try:
                    s.set_attributes({c.HPC_BARRIER_WAIT_NS: state.barrier_wait_ns, c.HPC_COMPUTE_NS: compute})
                except Exception as exc:
                    HEALTH.fail("hpc_attributes", exc)


EFA_SYSFS = "/sys/class/infiniband"
PLACEMENT_GROUP_ENV = ("SPANSCOPE_PLACEMENT_GROUP", "AWS_PLACEMENT_GROUP")


def platform_attributes(sysfs: str = EFA_SYSFS) -> dict[str, object]:
    """What the platform tells about where a rank runs: host, placement group (from the environment, e.g.
    set by the launcher from the instance metadata's ``placement/group-name``) and whether an EFA device
    is present (``efa*`` under /sys/class/infiniband). Never raises."""
    out: dict[str, object] = {}
    try:
        out["host.name"] = socket.gethostname()
        for name in PLACEMENT_GROUP_ENV:
            if os.environ.get(name):
                out[c.HPC_PLACEMENT_GROUP] = os.environ[name]
                break
        if os.path.isdir(sysfs):
            out[c.HPC_EFA] = any(entry.startswith("efa") for entry in os.listdir(sysfs))
    except Exception as exc:
        HEALTH.fail("hpc_platform", exc)
    return out


def rank_step_attributes(rank: int, step: int, compute_ns: int, wait_ns: int) -> dict[str, Any]:
    """The attributes a step span carries (for frameworks that time steps themselves)."""
    return {c.HPC_RANK: rank, c.HPC_STEP: step, c.HPC_COMPUTE_NS: compute_ns, c.HPC_BARRIER_WAIT_NS: wait_ns}
