"""Gathers, in the report's one pass over the traces, what the HTML report draws beyond the Report itself:
the full service map graph (histograms and placements, not just the summary) and the worst traces.

``analyze_for_html`` runs ``build_report`` exactly as ``spanscope analyze --format json`` does (the
same single pass, the same service-map accumulator), so the numbers of the two outputs are equal;
the traces are only looked at on their way through.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from spanscope.analysis.report import Report, build_report, memory_loader, summarize_service_map
from spanscope.collectors.model import Trace
from spanscope.collectors.service_map import ServiceMapAccumulator

WORST_FAILED = 2
WORST_SLOW = 2


class ReportInputs:
    """The service map and the slowest failed and slowest overall traces of the traces fed through it."""

    def __init__(self, *, worst_failed: int = WORST_FAILED, worst_slow: int = WORST_SLOW) -> None:
        self.accumulator = ServiceMapAccumulator(retain_traces=0)
        self._limits = (worst_failed, worst_slow)
        self._failed: list[tuple[int, int, Trace]] = []
        self._slow: list[tuple[int, int, Trace]] = []
        self._tie = itertools.count()

    def _keep(self, heap: list[tuple[int, int, Trace]], limit: int, trace: Trace, duration: int) -> None:
        if limit <= 0:
            return
        entry = (duration, -next(self._tie), trace)
        if len(heap) < limit:
            heapq.heappush(heap, entry)
        elif entry[:2] > heap[0][:2]:
            heapq.heapreplace(heap, entry)

    def add(self, trace: Trace) -> None:
        self.accumulator.add_trace(trace)
        duration = trace.end_ns - trace.start_ns
        if any(span.status.failed for span in trace.spans):
            self._keep(self._failed, self._limits[0], trace, duration)
        self._keep(self._slow, self._limits[1], trace, duration)

    def feed(self, traces: Iterable[Trace]) -> Iterator[Trace]:
        """``traces`` unchanged, each one added on its way through."""
        for trace in traces:
            self.add(trace)
            yield trace

    def graph(self) -> Any:
        return self.accumulator.graph()

    def worst_traces(self) -> list[Trace]:
        """The slowest failed traces, then the slowest traces not already among them (slowest first)."""
        out: list[Trace] = []
        seen: set[str] = set()
        for heap in (self._failed, self._slow):
            for _duration, _tie, trace in sorted(heap, key=lambda e: e[:2], reverse=True):
                if trace.trace_id not in seen:
                    seen.add(trace.trace_id)
                    out.append(trace)
        return out


def analyze_for_html(
    traces: Iterable[Trace], *, baseline: Iterable[Trace] | None = None, **options: Any
) -> tuple[Report, ReportInputs]:
    """The Report of ``traces`` (as ``build_report`` with the same ``options``) and the inputs the HTML
    report draws, in one pass."""
    inputs = ReportInputs()
    if "load_traces" not in options and isinstance(traces, Sequence):  # in memory: joined among themselves
        options["load_traces"] = memory_loader(traces)
    report = build_report(inputs.feed(traces), baseline=baseline, service_map=False, **options)
    report.service_map = summarize_service_map(inputs.graph())
    return report, inputs
