"""The TUI's data access: what screens ask of the store, run in worker threads with one read-only connection each.

Nothing here knows Textual. Every method may block (SQLite, analysis over many traces) and is meant to
be called from a thread worker; each thread gets its own read-only connection to the store, so a
slow query on one screen never holds up another, and a collector writing the same file (WAL) is
never blocked by the UI.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
from spanscope.analysis.failures import FailureChain, failure_chains
from spanscope.analysis.hotspots import BaselineComparison, Hotspot, hotspots
from spanscope.analysis.report import build_report
from spanscope.collectors.model import Trace, TraceSummary
from spanscope.collectors.service_map import ServiceMapAccumulator
from spanscope.collectors.store import Store, open_store

Predicate = Callable[[Trace], bool]

#: Rows the Traces screen asks for at a time.
PAGE_SIZE = 200
#: Traces the analysis screens (map, hotspots, failure chains) look at by default: the newest ones.
SAMPLE_SIZE = 2_000


@dataclass(slots=True)
class FilterBatch:
    """Part of a filtered scan: matching summaries (newest first) and how far the scan has got."""

    matches: list[TraceSummary]
    scanned: int
    done: bool


@dataclass(slots=True)
class LiveChanges:
    """Traces written since the last poll: the cursor to poll from next, and the traces themselves.

    ``not_loaded``: traces of the burst left out (beyond ``max_traces``; they are in the store);
    ``store_traces``: the store's trace count at the poll.
    """

    cursor: int
    traces: list[Trace] = field(default_factory=list)
    not_loaded: int = 0
    store_traces: int = 0


class StoreSource:
    """Read access to one store file for the TUI's worker threads (one read-only connection per thread)."""

    def __init__(self, path: Path, *, sample_size: int = SAMPLE_SIZE, page_size: int = PAGE_SIZE) -> None:
        self.path = Path(path)
        self.sample_size = sample_size
        self.page_size = page_size
        self._local = threading.local()
        self._opened: list[Store] = []
        self._lock = threading.Lock()
        self._closed = False

    # connections ---------------------------------------------------------------------------------
    def store(self) -> Store:
        """This thread's read-only connection (opened on first use).

        Textual runs thread workers on a small reused executor, so this opens a handful of
        connections over the app's life, all closed by ``close``.
        """
        held: Store | None = getattr(self._local, "store", None)
        if held is None:
            held = open_store(self.path, readonly=True)
            with self._lock:
                if self._closed:
                    held.close()
                    raise RuntimeError("the store source is closed")
                self._opened.append(held)
            self._local.store = held
        return held

    def close(self) -> None:
        with self._lock:
            self._closed = True
            opened, self._opened = self._opened, []
        for store in opened:
            try:
                store.close()
            except Exception:
                continue

    # traces list ---------------------------------------------------------------------------------
    def newest(
        self, limit: int | None = None, *, since_ns: int | None = None, until_ns: int | None = None
    ) -> list[TraceSummary]:
        """The newest trace summaries (a page: the Traces screen never loads the whole store)."""
        return self.store().summaries(limit=limit or self.page_size, since_ns=since_ns, until_ns=until_ns)

    def trace_count(self) -> int:
        return self.store().trace_count()

    def scan(
        self, predicate: Predicate, *, limit: int | None = None, first_batch: int = 40, batch: int = 400
    ) -> Iterator[FilterBatch]:
        """Traces matching ``predicate``, newest first, in batches; stops after ``limit`` matches.

        Walks the summaries page by page from the newest, loads each page's traces and tests them, so
        the first matches arrive after one small page whatever the size of the store; pages then
        grow (doubling up to ``batch``) to keep the per-query overhead small.
        """
        store = self.store()
        wanted = limit or self.page_size
        until: int | None = None
        seen_at_edge: set[str] = set()
        scanned = 0
        found = 0
        step = first_batch
        size = step
        while True:
            page = store.summaries(until_ns=until, limit=size)
            exhausted = len(page) < size
            fresh = [s for s in page if s.trace_id not in seen_at_edge]
            if not page:
                yield FilterBatch([], scanned, True)
                return
            if not fresh:
                if exhausted:
                    yield FilterBatch([], scanned, True)
                    return
                size *= 2  # many traces share one start time: widen the page past them
                continue
            step = min(batch, step * 2)
            size = step
            edge = fresh[-1].start_ns
            if edge != until:
                seen_at_edge = set()
            seen_at_edge.update(s.trace_id for s in fresh if s.start_ns == edge)
            until = edge
            traces = {t.trace_id: t for t in store.iter_traces(trace_ids=[s.trace_id for s in fresh])}
            matches: list[TraceSummary] = []
            for summary in fresh:
                trace = traces.get(summary.trace_id)
                if trace is None:
                    continue
                try:
                    accepted = predicate(trace)
                except Exception:
                    continue
                if accepted:
                    matches.append(summary)
                    found += 1
                    if found >= wanted:
                        break
            scanned += len(fresh)
            finished = found >= wanted or exhausted
            yield FilterBatch(matches, scanned, finished)
            if finished:
                return

    # one trace -----------------------------------------------------------------------------------
    def trace(self, trace_id: str) -> Trace:
        return self.store().get_trace(trace_id)

    def summaries_of(self, trace_ids: list[str]) -> list[TraceSummary]:
        """Summaries of the given traces, newest first (built from the traces themselves)."""
        out = [t.summary() for t in self.store().iter_traces(trace_ids=trace_ids)]
        out.sort(key=lambda s: (-s.start_ns, s.trace_id))
        return out

    # samples for analysis ------------------------------------------------------------------------
    def sample(
        self, limit: int | None = None, *, since_ns: int | None = None, until_ns: int | None = None
    ) -> list[Trace]:
        """The newest ``limit`` traces (default: the sample size) in an optional window."""
        store = self.store()
        ids = [
            s.trace_id for s in store.summaries(limit=limit or self.sample_size, since_ns=since_ns, until_ns=until_ns)
        ]
        return list(store.iter_traces(trace_ids=ids)) if ids else []

    def newest_start_ns(self) -> int | None:
        """Start of the newest trace, or None when the store is empty."""
        newest = self.store().summaries(limit=1)
        return newest[0].start_ns if newest else None

    # live ----------------------------------------------------------------------------------------
    def cursor(self) -> int:
        """The current change cursor (poll from here to see only what is written next)."""
        cursor = self.store().change_cursor()
        return cursor

    def changes(self, cursor: int, *, max_traces: int = 2_000) -> LiveChanges:
        """Traces written since ``cursor`` (at most ``max_traces`` of them, the latest; the rest counted)."""
        store = self.store()
        new_cursor, ids = store.changes_since(cursor)
        if not ids:
            return LiveChanges(cursor)
        distinct = list(dict.fromkeys(ids))
        kept = distinct[-max_traces:]
        return LiveChanges(
            new_cursor,
            list(store.iter_traces(trace_ids=kept)),
            not_loaded=len(distinct) - len(kept),
            store_traces=store.trace_count(),
        )


class LiveMap:
    """The service map of the newest traces, kept current as live traces arrive (thread-safe)."""

    def __init__(self, source: StoreSource) -> None:
        self.source = source
        self._lock = threading.Lock()
        self._accumulator: ServiceMapAccumulator | None = None

    def graph(self) -> nx.DiGraph:
        """The map (built from the newest sample of traces on first use)."""
        with self._lock:
            if self._accumulator is None:
                accumulator = ServiceMapAccumulator(retain_traces=self.source.sample_size * 2)
                accumulator.add_traces(self.source.sample())
                self._accumulator = accumulator
            accumulator = self._accumulator
        return accumulator.graph()

    def add(self, traces: list[Trace]) -> None:
        """Fold newly written traces in (only once the map exists)."""
        with self._lock:
            accumulator = self._accumulator
        if accumulator is not None:
            accumulator.add_traces(traces)


@dataclass(frozen=True, slots=True)
class CompareResult:
    """Baseline window vs incident window: hotspot growth and over-represented attributes.

    ``*_traces`` are the traces compared (the newest ``limit`` of each window); ``*_in_window`` how many
    the window holds in the store.
    """

    baseline: tuple[int, int]
    incident: tuple[int, int]
    baseline_traces: int
    incident_traces: int
    comparison: BaselineComparison
    baseline_in_window: int = 0
    incident_in_window: int = 0
    notes: tuple[str, ...] = ()


def compare_windows(
    source: StoreSource,
    baseline: tuple[int, int],
    incident: tuple[int, int],
    *,
    limit: int | None = None,
    overlap_tolerance: float = 0.01,
) -> CompareResult:
    """Compare the newest ``limit`` traces of each window through ``analysis.report.build_report``.

    It is the very function ``spanscope analyze --baseline-since/--baseline-until`` runs, so the TUI
    and the report agree number for number on the same windows.
    """
    store = source.store()
    in_window = [len(store.trace_ids(since_ns=since, until_ns=until)) for since, until in (baseline, incident)]
    report = build_report(
        source.sample(limit, since_ns=incident[0], until_ns=incident[1]),
        baseline=source.sample(limit, since_ns=baseline[0], until_ns=baseline[1]),
        service_map=False,
        overlap_tolerance=overlap_tolerance,
    )
    if report.baseline is None:  # pragma: no cover - build_report compares whenever a baseline is given
        raise RuntimeError("build_report returned no baseline comparison")
    return CompareResult(
        baseline,
        incident,
        report.baseline_traces,
        report.traces,
        report.baseline,
        baseline_in_window=in_window[0],
        incident_in_window=in_window[1],
        notes=tuple(report.notes),
    )


def default_windows(source: StoreSource) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """(baseline, incident) splitting the loaded range (the newest sample) at its median start time.

    Bounds are whole microseconds (what the window inputs show), so the windows typed back in are the
    same; each window holds traces whenever the sample has two distinct start times. None when the
    store is empty.
    """
    starts = sorted(s.start_ns for s in source.newest(source.sample_size))
    if not starts:
        return None
    us = 1_000
    oldest = starts[0] // us * us
    newest = -(-starts[-1] // us) * us
    split = starts[len(starts) // 2] // us * us
    if split <= oldest:  # half the traces start in the oldest microsecond: split after it
        later = [s for s in starts if s >= oldest + us]
        if not later:  # one start time: nothing to compare with (the screen says so)
            return (oldest - us, oldest - us), (oldest, newest)
        split = later[0] // us * us
    return (oldest, split - us), (split, newest)


def hotspots_of(source: StoreSource) -> tuple[int, list[Hotspot]]:
    """(traces looked at, hotspots) over the newest sample."""
    traces = source.sample()
    return len(traces), hotspots(traces)


def failure_chains_of(source: StoreSource) -> tuple[int, list[FailureChain]]:
    """(traces looked at, failure chains) over the newest sample."""
    traces = source.sample()
    return len(traces), failure_chains(traces)
