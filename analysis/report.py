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

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from spanscope.analysis.cold_starts import ColdStartsPartial, ColdStartStats, cold_starts_partial, merge_cold_starts
from spanscope.analysis.failures import FailureChain, FailureChainsPartial, failure_chains_partial, merge_failure_chains
from spanscope.analysis.hotspots import (
    BaselineComparison,
    Hotspot,
    HotspotsPartial,
    add_trace_to,
    compare_with_baseline,
    merge_hotspots,
)
from spanscope.analysis.placement import PlacementPartial, PlacementSplit, merge_placement, placement_partial
from spanscope.analysis.stragglers import Straggler, StragglersPartial, merge_stragglers, stragglers_partial
from spanscope.collectors.model import Trace

__all__ = ["MapEdgeSummary", "MapNodeSummary", "Report", "ServiceMapSummary", "build_report", "summarize_service_map"]


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


def build_report(
    traces: Iterable[Trace],
    *,
    baseline: Iterable[Trace] | None = None,
    service_map: Any | Literal[False] | None = None,
    overlap_tolerance: float = 0.01,
) -> Report:
    """Analyze ``traces`` (and compare with ``baseline`` traces when given).

    ``service_map``: a NetworkX graph to summarize; None builds one from the same traces with
    ``spanscope.collectors.service_map`` (left out, with a note, if that is unavailable); False skips it.
    """
    notes: list[str] = []
    accumulator: Any = None
    if service_map is None:
        try:
            from spanscope.collectors.service_map import ServiceMapAccumulator

            accumulator = ServiceMapAccumulator(retain_traces=0)
        except ImportError:  # pragma: no cover - depends on the installed extras
            notes.append("service map unavailable: install spanscope[collector]")
    want_attrs = baseline is not None
    hot = HotspotsPartial()
    fails = FailureChainsPartial()
    strag = StragglersPartial()
    cold = ColdStartsPartial()
    place = PlacementPartial()
    n_traces = n_spans = failed = 0
    start = end = 0
    for trace in traces:
        n_traces += 1
        n_spans += len(trace.spans)
        hot.traces += 1
        add_trace_to(hot, trace, overlap_tolerance=overlap_tolerance, collect_attributes=want_attrs)
        if any(s.status.failed for s in trace.spans):
            failed += 1
        fails.merge(failure_chains_partial(trace))
        strag.merge(stragglers_partial(trace))
        cold.merge(cold_starts_partial(trace))
        place.merge(placement_partial(trace, overlap_tolerance=overlap_tolerance))
        t0, t1 = trace.start_ns, trace.end_ns
        if t0 and (not start or t0 < start):
            start = t0
        if t1 > end:
            end = t1
        if accumulator is not None:
            accumulator.add_trace(trace)
    comparison = None
    n_base = 0
    if baseline is not None:
        base = HotspotsPartial()
        for trace in baseline:
            n_base += 1
            base.traces += 1
            add_trace_to(base, trace, overlap_tolerance=overlap_tolerance, collect_attributes=True)
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
        failed_traces=failed,
        baseline=comparison,
        baseline_traces=n_base,
        service_map=summary,
        notes=notes,
        placement=merge_placement([place]),
    )
