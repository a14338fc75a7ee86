"""The report as a per-trace step and an associative merge: what every engine (``spanscope.engines``) runs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from spanscope.analysis.cold_starts import ColdStartsPartial, cold_starts_partial, merge_cold_starts
from spanscope.analysis.failures import FailureChainsPartial, failure_chains_partial, merge_failure_chains
from spanscope.analysis.hotspots import HotspotsPartial, add_trace_to, merge_hotspots
from spanscope.analysis.report import Report
from spanscope.analysis.stats import PercentileMode
from spanscope.analysis.stragglers import StragglersPartial, merge_stragglers, stragglers_partial
from spanscope.analysis.trace_tree import children_lists
from spanscope.collectors.model import Trace


@dataclass(slots=True)
class ReportPartial:
    """What one trace (or a merged group of traces) contributes to the report."""

    traces: int = 0
    spans: int = 0
    failed_traces: int = 0
    start_ns: int = 0
    end_ns: int = 0
    hotspots: HotspotsPartial = field(default_factory=HotspotsPartial)
    failure_chains: FailureChainsPartial = field(default_factory=FailureChainsPartial)
    stragglers: StragglersPartial = field(default_factory=StragglersPartial)
    cold_starts: ColdStartsPartial = field(default_factory=ColdStartsPartial)

    def merge(self, other: ReportPartial) -> ReportPartial:
        """Fold ``other`` into this partial (associative; returns self)."""
        self.traces += other.traces
        self.spans += other.spans
        self.failed_traces += other.failed_traces
        self.widen(other.start_ns, other.end_ns)
        self.hotspots.merge(other.hotspots)
        self.failure_chains.merge(other.failure_chains)
        self.stragglers.merge(other.stragglers)
        self.cold_starts.merge(other.cold_starts)
        return self

    def widen(self, start_ns: int, end_ns: int) -> None:
        """Stretch the time window over ``start_ns``..``end_ns`` (a start of 0 is no start)."""
        if start_ns and (not self.start_ns or start_ns < self.start_ns):
            self.start_ns = start_ns
        self.end_ns = max(self.end_ns, end_ns)

    def finish(self) -> Report:
        """The ranked report."""
        return Report(
            traces=self.traces,
            spans=self.spans,
            start_ns=self.start_ns,
            end_ns=self.end_ns,
            hotspots=merge_hotspots([self.hotspots]),
            failure_chains=merge_failure_chains([self.failure_chains]),
            stragglers=merge_stragglers([self.stragglers]),
            cold_starts=merge_cold_starts([self.cold_starts]),
            failed_traces=self.failed_traces,
        )


def report_step(trace: Trace, overlap_tolerance: float = 0.01, percentiles: PercentileMode = "auto") -> ReportPartial:
    """The per-trace step: everything one trace contributes (``percentiles``: see ``stats.Quantiles``)."""
    part = ReportPartial(hotspots=HotspotsPartial(percentiles=percentiles))
    add_step_to(part, trace, overlap_tolerance)
    return part


def add_step_to(part: ReportPartial, trace: Trace, overlap_tolerance: float = 0.01) -> None:
    """Fold one trace into ``part`` in place, the same as merging its :func:`report_step`. The hotspots go
    straight into ``part``'s operations: no accumulator and distribution per operation of each trace, built
    only to be merged away."""
    kids = children_lists(trace)  # read once, shared by hotspots, the critical path and stragglers
    part.traces += 1
    part.spans += len(trace.spans)
    part.failed_traces += any(s.status.failed for s in trace.spans)
    part.widen(trace.start_ns, trace.end_ns)
    part.failure_chains.merge(failure_chains_partial(trace))
    part.stragglers.merge(stragglers_partial(trace, kids=kids))
    part.cold_starts.merge(cold_starts_partial(trace))
    part.hotspots.traces += 1
    add_trace_to(part.hotspots, trace, overlap_tolerance=overlap_tolerance, kids=kids)


def merge_partials(left: ReportPartial, right: ReportPartial) -> ReportPartial:
    """A two-argument merge for reductions (Spark's treeReduce)."""
    return left.merge(right)


def fold_traces(traces: Iterable[Trace], overlap_tolerance: float, percentiles: PercentileMode) -> ReportPartial:
    """Every trace's step merged into one partial (the loop of the engines that stream traces: local, duckdb)."""
    total = ReportPartial(hotspots=HotspotsPartial(percentiles=percentiles))
    for trace in traces:
        add_step_to(total, trace, overlap_tolerance)
    return total
