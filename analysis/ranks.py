"""The stalling rank of tightly coupled (HPC) jobs: per step, the rank the others waited for at the barrier,
and how much barrier wait it caused in all, with its host, placement group and EFA presence.

Step spans carry ``spanscope.hpc.rank``, ``spanscope.hpc.step`` and ``spanscope.hpc.compute_ns``; steps of one
job (same service, same trace) with the same step number are compared across ranks, whatever their parents.
In a step the slowest rank stalls the others when its compute exceeds the step's median compute by half
(every rank waits for the slowest, so the wait it caused is the sum over the other ranks of the slowest
compute minus theirs).

>>> from spanscope.collectors.model import Span, Trace
>>> tid = "5759e988bd862e3fe1be46a994272793"
>>> steps = [Span(tid, f"{r * 10 + s + 1:016x}", None, "sim", f"step {s}", start_ns=0, end_ns=100,
...               attributes={"spanscope.hpc.rank": r, "spanscope.hpc.step": s,
...                           "spanscope.hpc.compute_ns": 100 if r == 3 else 10})
...          for r in range(4) for s in range(2)]
>>> [(x.rank, x.steps_stalled, x.steps, x.wait_caused_ns) for x in stalling_ranks([Trace(tid, steps)])]
[('3', 2, 2, 540)]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from spanscope.analysis.stats import median
from spanscope.collectors import conventions as cv
from spanscope.collectors.model import Span, Trace

__all__ = ["StallingRank", "StallingRanksPartial", "merge_stalling_ranks", "stalling_ranks", "stalling_ranks_partial"]

STALL_FACTOR = 1.5


@dataclass(frozen=True, slots=True)
class StallingRank:
    """A rank that made the others of its job wait. Times in nanoseconds."""

    trace_id: str
    service: str
    rank: str
    steps_stalled: int
    steps: int
    wait_caused_ns: int
    compute_ns: int
    median_compute_ns: float
    host: str
    placement_group: str
    efa: bool | None


@dataclass(slots=True)
class StallingRanksPartial:
    """Per-trace (or merged) state; ``merge`` is associative (concatenation)."""

    items: list[StallingRank] = field(default_factory=list)

    def merge(self, other: StallingRanksPartial) -> StallingRanksPartial:
        self.items.extend(other.items)
        return self


def _int(span: Span, key: str) -> int | None:
    value = span.attributes.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    return None


def _platform(span: Span, key: str) -> object:
    return span.attributes.get(key, span.resource.get(key))


def stalling_ranks_partial(trace: Trace, *, factor: float = STALL_FACTOR) -> StallingRanksPartial:
    """The per-trace step of :func:`stalling_ranks`."""
    part = StallingRanksPartial()
    steps: dict[tuple[str, int], list[tuple[str, int, int]]] = {}  # (service, step) -> (rank, compute, node)
    rank_span: dict[tuple[str, str], Span] = {}
    for i, span in enumerate(trace.spans):
        attrs = span.attributes
        if cv.HPC_RANK not in attrs:
            continue
        rank = str(attrs[cv.HPC_RANK])
        step = _int(span, cv.HPC_STEP)
        compute = _int(span, cv.HPC_COMPUTE_NS)
        if step is None:
            rank_span[(span.service, rank)] = span  # the rank's run span: host and placement
            continue
        if compute is not None:
            steps.setdefault((span.service, step), []).append((rank, compute, i))
    if not steps:
        return part
    stalled: dict[tuple[str, str], list[int]] = {}  # (service, rank) -> [steps, stalled, wait, compute]
    medians: dict[tuple[str, str], list[float]] = {}
    for (service, _step), members in steps.items():
        for rank, compute, _node in members:
            acc = stalled.setdefault((service, rank), [0, 0, 0, 0])
            acc[0] += 1
            acc[3] += compute
        if len(members) < 2:
            continue
        med = median([m[1] for m in members])
        rank, slowest, _node = max(members, key=lambda m: (m[1], m[0]))
        if slowest > factor * med and slowest > 0:
            acc = stalled[(service, rank)]
            acc[1] += 1
            acc[2] += sum(slowest - m[1] for m in members)
            medians.setdefault((service, rank), []).append(med)
    for (service, rank), (n_steps, n_stalled, wait, compute) in stalled.items():
        if not n_stalled:
            continue
        run = rank_span.get((service, rank))
        host = placement = ""
        efa: bool | None = None
        if run is not None:
            h = _platform(run, "host.name")
            host = str(h) if h else ""
            pg = _platform(run, cv.HPC_PLACEMENT_GROUP)
            placement = str(pg) if pg else ""
            e = _platform(run, cv.HPC_EFA)
            efa = e if isinstance(e, bool) else None
        part.items.append(
            StallingRank(
                trace.trace_id,
                service,
                rank,
                n_stalled,
                n_steps,
                wait,
                compute,
                median(medians[(service, rank)]),
                host,
                placement,
                efa,
            )
        )
    return part


def merge_stalling_ranks(partials: Iterable[StallingRanksPartial]) -> list[StallingRank]:
    """The merge step: ranks ranked by the barrier wait they caused."""
    total = StallingRanksPartial()
    for part in partials:
        total.merge(part)
    total.items.sort(key=lambda r: (-r.wait_caused_ns, r.trace_id, r.service, r.rank))
    return total.items


def stalling_ranks(traces: Iterable[Trace], *, factor: float = STALL_FACTOR) -> list[StallingRank]:
    """Stalling ranks across ``traces``, most wait caused first."""
    return merge_stalling_ranks(stalling_ranks_partial(t, factor=factor) for t in traces)
