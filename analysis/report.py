"""The post-mortem report: every analyzer over one pass of traces (and optionally a baseline window).

Traces are consumed once, as an iterator (a store's ``iter_traces``): each trace feeds the per-trace
steps, whose partial results are merged as they come, so memory grows with the number of distinct
operations and findings, not with the number of spans.

>>> from spanscope.collectors.model import Span, Status, Trace
>>> tid = "5759e988bd862e3fe1be46a994272793"
>>> t = Trace(tid, [
...     Span(tid, "a" * 16, None, "api", "GET /", start_ns=0, end_ns=100, status=Status.FAULT),
...     Span(tid, "b" * 16, "a" * 16, "db", "query", start_ns=10, end_ns=90, status=Status.FAULT),
... ])
>>> r = build_report([t], service_map=False)
>>> r.traces, r.spans, r.hotspots[0].operation, r.failure_chains[0].origin
(1, 2, 'query', ('db', 'query'))
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from spanscope.analysis.cold_starts import ColdStartsPartial, ColdStartStats, cold_starts_partial, merge_cold_starts
from spanscope.analysis.failures import FailureChain, FailureChainsPartial, failure_chains_partial, merge_failure_chains
from spanscope.analysis.hotspots import (
    BaselineComparison,
    Hotspot,
    HotspotsPartial,
    add_own_path,
    add_path_credit,
    add_trace_to,
    compare_with_baseline,
    merge_hotspots,
)
from spanscope.analysis.placement import PlacementPartial, PlacementSplit, merge_placement, placement_partial
from spanscope.analysis.ranks import StallingRank, StallingRanksPartial, merge_stalling_ranks, stalling_ranks_partial
from spanscope.analysis.skew import adjust_clock_skew
from spanscope.analysis.stats import PercentileMode
from spanscope.analysis.stragglers import Straggler, StragglersPartial, merge_stragglers, stragglers_partial
from spanscope.analysis.trace_tree import Kids, scan_trace
from spanscope.analysis.workflow_stats import WorkflowsPartial, WorkflowStats, continuation_credits, merge_workflows
from spanscope.analysis.workflows import MAX_WORKFLOW_TRACES, path_stretches
from spanscope.collectors.conventions import FAAS_COLDSTART, HPC_RANK
from spanscope.collectors.model import Trace

LoadTraces = Callable[[Sequence[str]], Iterable[Trace]]
MAX_PENDING_SPANS = 2_000_000  # spans of linked traces held until their workflow's entry is read

__all__ = [
    "MapEdgeSummary",
    "MapNodeSummary",
    "Report",
    "ServiceMapSummary",
    "build_report",
    "memory_loader",
    "summarize_service_map",
]


@dataclass(frozen=True, slots=True)
class MapNodeSummary:
    name: str
    type: str
    kind: str
    root: bool
    requests: int
    ok: int
    errors: int
    throttles: int
    faults: int
    total_response_time_s: float


@dataclass(frozen=True, slots=True)
class MapEdgeSummary:
    source: str
    target: str
    requests: int
    faults: int
    asynchronous: bool


@dataclass(frozen=True, slots=True)
class ServiceMapSummary:
    """Nodes ranked by faults then requests; edges ranked by requests."""

    nodes: list[MapNodeSummary]
    edges: list[MapEdgeSummary]


@dataclass(slots=True)
class Report:
    """Everything ``spanscope analyze`` says, each list ranked most important first."""

    traces: int
    spans: int
    start_ns: int
    end_ns: int
    hotspots: list[Hotspot]
    failure_chains: list[FailureChain]
    stragglers: list[Straggler]
    cold_starts: list[ColdStartStats]
    workflows: list[WorkflowStats] = field(default_factory=list)
    stalling_ranks: list[StallingRank] = field(default_factory=list)
    skew_adjusted_traces: int = 0
    failed_traces: int = 0
    baseline: BaselineComparison | None = None
    baseline_traces: int = 0
    service_map: ServiceMapSummary | None = None
    notes: list[str] = field(default_factory=list)
    placement: PlacementSplit | None = None  # the edge-vs-region split of the critical paths


def _stat(stats: Any, name: str) -> int:
    value = getattr(stats, name, 0) if stats is not None else 0
    return int(value) if isinstance(value, int | float) else 0


def summarize_service_map(graph: Any) -> ServiceMapSummary:
    """A compact summary of a service map (a NetworkX DiGraph as built by ``collectors.service_map``)."""
    nodes = []
    for _key, data in graph.nodes(data=True):
        stats = data.get("stats")
        nodes.append(
            MapNodeSummary(
                str(data.get("name", "")),
                str(data.get("type", "")),
                str(data.get("kind", "")),
                bool(data.get("root", False)),
                _stat(stats, "total_count"),
                _stat(stats, "ok_count"),
                _stat(stats, "error_other"),
                _stat(stats, "throttle_count"),
                _stat(stats, "fault_count"),
                float(getattr(stats, "total_response_time_s", 0.0) or 0.0),
            )
        )
    nodes.sort(key=lambda n: (-n.faults, -n.requests, n.name, n.type))
    edges = []
    for source, target, data in graph.edges(data=True):
        stats = data.get("stats") or data.get("link_stats")
        edges.append(
            MapEdgeSummary(
                str(graph.nodes[source].get("name", source)),
                str(graph.nodes[target].get("name", target)),
                _stat(stats, "total_count"),
                _stat(stats, "fault_count"),
                bool(data.get("asynchronous", False)),
            )
        )
    edges.sort(key=lambda e: (-e.requests, e.source, e.target))
    return ServiceMapSummary(nodes, edges)


class _HotspotFolder:
    """Folds traces into a HotspotsPartial with their workflows: a trace whose async work outlives its
    entry gets that work's end-to-end path credited; a trace whose root links to another trace (an EMR
    step's job) waits, bounded, until its entry is read back through ``load`` and is credited through
    the entry's workflow instead of alone."""

    def __init__(self, part: HotspotsPartial, *, tolerance: float, attrs: bool, load: LoadTraces | None) -> None:
        self.part = part
        self.tolerance = tolerance
        self.attrs = attrs
        self.load = load
        self.flows = WorkflowsPartial()
        self.pending: dict[str, list[Trace]] = {}
        self.held: dict[str, Trace] = {}
        self.pending_spans = 0
        # entries credited with their own in-trace workflow: the credits given, taken back if linked traces join
        self.alone: dict[str, dict[tuple[str, str], int]] = {}
        self.notes: list[str] = []
        self.noted_bound = False  # the held-spans bound is said once

    def add(self, trace: Trace, kids: Kids | None = None, maybe_cold: bool = True) -> None:
        entry = _linked_entry(trace) if self.load is not None else None
        hold = entry is not None and self.pending_spans + len(trace.spans) <= MAX_PENDING_SPANS
        if entry is not None and not hold and not self.noted_bound:
            self.noted_bound = True
            self.notes.append(f"linked traces beyond {MAX_PENDING_SPANS:,} held spans were analysed one by one")
        outlives = add_trace_to(
            self.part,
            trace,
            overlap_tolerance=self.tolerance,
            collect_attributes=self.attrs,
            credit_path=not hold,
            kids=kids,
            maybe_cold=maybe_cold,
        )
        if hold and entry is not None:
            self.pending.setdefault(entry, []).append(trace)
            self.held[trace.trace_id] = trace
            self.pending_spans += len(trace.spans)
        elif outlives:
            flow = path_stretches([trace])
            self.flows.add(flow)
            credits = continuation_credits(flow, _entry_end(trace))
            add_path_credit(self.part, credits)
            if self.load is not None:
                self.alone[trace.trace_id] = credits

    def finish(self) -> None:
        if not self.pending or self.load is None:
            return
        members: dict[str, list[Trace]] = {}
        cycles = 0
        for entry in list(self.pending):
            top = entry
            seen = {entry}
            while True:  # an entry that is itself linked: its own entry leads (cycles stop where they close)
                held = self.held.get(top)
                up = _linked_entry(held) if held is not None else None
                if up is not None and up in seen:
                    cycles += 1
                if up is None or up in seen:
                    break
                seen.add(up)
                top = up
            members.setdefault(top, []).extend(self.pending[entry])
        loaded = {t.trace_id: t for t in self.load(sorted(members))}
        missing = 0
        for entry, linked in members.items():
            head = loaded.get(entry) or self.held.get(entry)
            if head is None:
                missing += len(linked)
                for trace in linked:
                    add_own_path(self.part, trace, overlap_tolerance=self.tolerance)
                continue
            moved: dict[str, int] = {}
            if entry not in self.held:
                head, moved = adjust_clock_skew(head)
            else:  # the head is itself linked (a cycle): its own path was held back
                add_own_path(self.part, head, overlap_tolerance=self.tolerance)
            group = [t for t in linked if t.trace_id != entry][: MAX_WORKFLOW_TRACES - 1]
            for trace in linked[len(group) :]:
                if trace.trace_id != entry:
                    add_own_path(self.part, trace, overlap_tolerance=self.tolerance)
            if len(linked) > len(group) + 1:
                self.notes.append(
                    f"a workflow with {len(linked) + 1} linked traces was cut to {MAX_WORKFLOW_TRACES} traces"
                )
            flow = path_stretches([head, *group])
            self.flows.add(flow)
            credits = continuation_credits(flow, _entry_end(head))
            if entry in self.alone:
                given = self.alone[entry]
                if moved:  # the head read back was adjusted here: its own credits computed again, as given
                    given = continuation_credits(path_stretches([head]), _entry_end(head))
                for key, ns in given.items():
                    credits[key] = credits.get(key, 0) - ns
            add_path_credit(self.part, credits)
        if cycles:
            self.notes.append(f"{cycles} cycle(s) of links between traces were cut")
        if missing:
            self.notes.append(f"{missing} linked trace(s) link to traces that are not in the store: analysed alone")
        self.pending.clear()
        self.held.clear()
        self.alone.clear()


def _linked_entry(trace: Trace) -> str | None:
    """The trace that the root of ``trace`` links to (another trace), if any."""
    root = trace.root
    if root is None or root.parent_id is not None:
        return None
    for link in root.links:
        if link.trace_id != trace.trace_id:
            return link.trace_id
    return None


def _entry_end(trace: Trace) -> int:
    root = trace.root
    return max(root.end_ns, root.start_ns) if root is not None else 0


def memory_loader(traces: Sequence[Trace]) -> LoadTraces:
    """``load_traces`` for traces held in a list: the ones of it with the asked ids."""
    index = {t.trace_id: t for t in traces}

    def load(ids: Sequence[str]) -> list[Trace]:
        return [index[i] for i in ids if i in index]

    return load


def build_report(
    traces: Iterable[Trace],
    *,
    baseline: Iterable[Trace] | None = None,
    service_map: Any | Literal[False] | None = None,
    overlap_tolerance: float = 0.01,
    load_traces: LoadTraces | None = None,
    adjust_skew: bool = True,
    min_group: int = 5,
    percentiles: PercentileMode = "auto",
) -> Report:
    """Analyze ``traces`` (and compare with ``baseline`` traces when given).

    ``percentiles``: ``exact``, ``sketch`` (DDSketch, 1 % relative error) or ``auto`` (exact up to
    ``spanscope.analysis.stats.SKETCH_ABOVE`` spans of one operation, sketched beyond).

    ``service_map``: a NetworkX graph to summarize; None builds one from the same traces with
    ``spanscope.collectors.service_map`` (left out, with a note, if that is unavailable); False skips it.
    ``load_traces(ids)`` reads traces back by id (the store's ``iter_traces(trace_ids=...)``; for a list
    of traces, the list itself): with it, a trace whose root links to another trace joins that trace's
    workflow, and its time counts where it lies on that workflow's end-to-end critical path.
    ``adjust_skew`` corrects clock skew as traces are read (:func:`spanscope.analysis.skew.adjust_clock_skew`).
    """
    notes: list[str] = []
    if load_traces is None and isinstance(traces, Sequence):  # traces in memory: joined among themselves
        load_traces = memory_loader(traces)
    accumulator: Any = None
    if service_map is None:
        try:
            from spanscope.collectors.service_map import ServiceMapAccumulator

            accumulator = ServiceMapAccumulator(retain_traces=0)
        except ImportError:  # pragma: no cover - depends on the installed extras
            notes.append("service map unavailable: install spanscope[collector]")
    want_attrs = baseline is not None
    hot = HotspotsPartial(percentiles=percentiles)
    folder = _HotspotFolder(hot, tolerance=overlap_tolerance, attrs=want_attrs, load=load_traces)
    fails = FailureChainsPartial()
    strag = StragglersPartial()
    ranks = StallingRanksPartial()
    cold = ColdStartsPartial()
    place = PlacementPartial()
    n_traces = n_spans = failed = skewed = 0
    start = end = 0
    for raw in traces:
        trace = raw
        scan = scan_trace(raw)  # one pass: the children lists and what says which analyzers a trace needs
        if adjust_skew and scan.skew:
            trace, moved = adjust_clock_skew(raw)
            if moved:
                skewed += 1
                scan = scan_trace(trace)
        n_traces += 1
        n_spans += len(trace.spans)
        hot.traces += 1
        kids = scan.kids  # read once, shared by hotspots, the critical path and stragglers
        keys = scan.attribute_keys
        maybe_cold = FAAS_COLDSTART in keys
        folder.add(trace, kids, maybe_cold)
        if scan.failed:
            failed += 1
        fails.merge(failure_chains_partial(trace))
        strag.merge(stragglers_partial(trace, min_group=min_group, kids=kids))
        if HPC_RANK in keys:  # else no step span: nothing to rank
            ranks.merge(stalling_ranks_partial(trace))
        if maybe_cold:  # else no invocation says cold or warm
            cold.merge(cold_starts_partial(trace))
        t0, t1 = scan.start_ns, scan.end_ns
        placement_partial(
            trace, overlap_tolerance=overlap_tolerance, into=place, interval=(t0, t1), located=scan.placed
        )
        if t0 and (not start or t0 < start):
            start = t0
        if t1 > end:
            end = t1
        if accumulator is not None:
            accumulator.add_trace(raw)
    folder.finish()
    notes.extend(folder.notes)
    comparison = None
    n_base = 0
    if baseline is not None:
        base = HotspotsPartial(percentiles=percentiles)
        base_folder = _HotspotFolder(base, tolerance=overlap_tolerance, attrs=True, load=load_traces)
        for trace in _adjusted(baseline, adjust_skew):
            n_base += 1
            base.traces += 1
            base_folder.add(trace)
        base_folder.finish()
        comparison = compare_with_baseline(hot, base)
        if not n_base:
            notes.append("the baseline window holds no traces")
    summary: ServiceMapSummary | None = None
    if accumulator is not None:
        summary = summarize_service_map(accumulator.graph())
    elif service_map is not None and service_map is not False:
        summary = summarize_service_map(service_map)
    return Report(
        traces=n_traces,
        spans=n_spans,
        start_ns=start,
        end_ns=end,
        hotspots=merge_hotspots([hot]),
        failure_chains=merge_failure_chains([fails]),
        stragglers=merge_stragglers([strag]),
        cold_starts=merge_cold_starts([cold]),
        workflows=merge_workflows([folder.flows]),
        stalling_ranks=merge_stalling_ranks([ranks]),
        skew_adjusted_traces=skewed,
        failed_traces=failed,
        baseline=comparison,
        baseline_traces=n_base,
        service_map=summary,
        notes=notes,
        placement=merge_placement([place]),
    )


def _adjusted(traces: Iterable[Trace], adjust: bool) -> Iterator[Trace]:
    for trace in traces:
        yield adjust_clock_skew(trace)[0] if adjust else trace
