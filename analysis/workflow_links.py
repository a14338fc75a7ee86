"""Gathering a workflow's traces: a trace and every trace linked to or from it, transitively and bounded."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from spanscope.collectors.model import Trace

__all__ = ["MAX_WORKFLOW_TRACES", "follow_links"]

MAX_WORKFLOW_TRACES = 100


def follow_links(
    start: Trace,
    load: Callable[[Sequence[str]], Iterable[Trace]],
    linking: Callable[[str], Sequence[str]],
    *,
    max_traces: int = MAX_WORKFLOW_TRACES,
) -> tuple[list[Trace], list[str]]:
    """``start`` and every trace linked to or from it, transitively, at most ``max_traces`` in all.

    ``load(ids)`` returns the traces with those ids that exist; ``linking(id)`` the ids of traces that
    may link to trace ``id`` (false positives are checked here). Returns the traces (``start`` first)
    and notes on what was bounded: links to traces not loaded, traces left out over the bound.
    """
    members: dict[str, Trace] = {start.trace_id: start}
    frontier = [start]
    missing: set[str] = set()
    left_out: set[str] = set()
    while frontier:
        wanted: list[str] = []
        for trace in frontier:
            for tid in sorted(_link_targets(trace) | set(linking(trace.trace_id))):
                if tid not in members and tid not in missing and tid not in wanted:
                    wanted.append(tid)
        room = max_traces - len(members)
        if len(wanted) > room:
            left_out.update(wanted[room:])
            wanted = wanted[: max(0, room)]
        frontier = []
        found = {t.trace_id: t for t in load(wanted)} if wanted else {}
        for tid in wanted:
            got = found.get(tid)
            if got is None:
                missing.add(tid)
                continue
            members[tid] = got
            frontier.append(got)
    notes = []
    if missing:
        notes.append(f"{len(missing):,} linked trace(s) are not in the store")
    left_out -= set(members)
    if left_out:
        notes.append(f"{len(left_out):,} more linked trace(s) not followed (at most {max_traces} traces per workflow)")
    return list(members.values()), notes


def _link_targets(trace: Trace) -> set[str]:
    own = trace.trace_id
    return {lk.trace_id for s in trace.spans for lk in s.links if lk.trace_id != own}
