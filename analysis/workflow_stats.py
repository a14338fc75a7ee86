"""The workflows section of ``analyze``: per entry operation, end-to-end p50/p95/p99 and how the paths divide
(queue wait, cold start, compute), and the end-to-end path time a workflow credits to hotspots."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from spanscope.analysis.cold_starts import INITIALIZATION
from spanscope.analysis.stats import percentiles
from spanscope.analysis.workflows import QUEUE_WAIT, Stretches, Workflow

__all__ = ["WorkflowStats", "WorkflowsPartial", "continuation_credits", "merge_workflows"]


def continuation_credits(stretches: Stretches, after_ns: int) -> dict[tuple[str, str], int]:
    """Nanoseconds of the end-to-end path after ``after_ns`` (the entry's return) per (service, operation):
    span self time under its name, a cold start as ``(function, "Initialization")``; hop gaps are not
    operations and are left out."""
    out: dict[tuple[str, str], int] = {}
    spans = stretches.spans
    for g, start, end, piece in stretches.pieces:
        if end <= after_ns or (piece and piece != INITIALIZATION):
            continue
        span = spans[g]
        key = (span.service, piece or span.name)
        out[key] = out.get(key, 0) + end - max(start, after_ns)
    return out


@dataclass(slots=True)
class WorkflowsPartial:
    """Per-workflow (or merged) state of the ``workflows`` section, keyed by the entry trace id (a later
    workflow of the same entry replaces the earlier one); ``merge`` is associative."""

    items: dict[str, tuple[tuple[str, str], int, dict[str, int], int]] = field(default_factory=dict)

    def add(self, workflow: Workflow | Stretches) -> None:
        first = workflow.traces[0] if workflow.traces else None
        root = first.root if first is not None else None
        if first is None or root is None:
            return
        self.items[first.trace_id] = (
            (root.service, root.name),
            workflow.duration_ns,
            workflow.time_by_piece(),
            len(workflow.hops),
        )

    def merge(self, other: WorkflowsPartial) -> WorkflowsPartial:
        self.items.update(other.items)
        return self


@dataclass(frozen=True, slots=True)
class WorkflowStats:
    """End-to-end latency of one entry operation's workflows and how their paths divide (shares sum to 1)."""

    service: str
    operation: str
    count: int
    hops: int
    p50_ns: int
    p95_ns: int
    p99_ns: int
    queue_wait_share: float
    cold_start_share: float
    compute_share: float
    other_wait_share: float


def merge_workflows(partials: Iterable[WorkflowsPartial]) -> list[WorkflowStats]:
    """Entry operations whose workflows cross at least one asynchronous hop, slowest p95 first."""
    durations: dict[tuple[str, str], list[int]] = {}
    pieces: dict[tuple[str, str], dict[str, int]] = {}
    hops: dict[tuple[str, str], int] = {}
    for part in partials:
        for key, duration, by_piece, n_hops in part.items.values():
            if not n_hops:
                continue
            durations.setdefault(key, []).append(duration)
            hops[key] = hops.get(key, 0) + n_hops
            mine = pieces.setdefault(key, {})
            for kind, ns in by_piece.items():
                mine[kind] = mine.get(kind, 0) + ns
    out = []
    for key, values in durations.items():
        p50, p95, p99 = percentiles(values, (0.5, 0.95, 0.99))
        by_piece = pieces[key]
        path = sum(by_piece.values()) or 1
        queue = by_piece.get(QUEUE_WAIT, 0) / path
        cold = by_piece.get(INITIALIZATION, 0) / path
        compute = by_piece.get("compute", 0) / path
        out.append(
            WorkflowStats(
                key[0],
                key[1],
                len(values),
                hops[key],
                int(p50),
                int(p95),
                int(p99),
                queue,
                cold,
                compute,
                max(0.0, 1.0 - queue - cold - compute),
            )
        )
    out.sort(key=lambda w: (-w.p95_ns, w.service, w.operation))
    return out
