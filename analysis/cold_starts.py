"""Cold starts per Lambda function: cold vs warm latency, init duration share, cold-start rate.

Invocations are spans that carry ``faas.coldstart``; the function is ``faas.name`` (else the span's
service). ``spanscope.faas.init_duration_ns`` is the time the runtime spent initialising.

>>> from spanscope.collectors.model import Span, Trace
>>> tid = "5759e988bd862e3fe1be46a994272793"
>>> inv = [Span(tid, f"{i + 1:016x}", None, "fn", "invoke", start_ns=0, end_ns=d,
...             attributes={"faas.coldstart": cold, "spanscope.faas.init_duration_ns": 300 if cold else 0})
...        for i, (d, cold) in enumerate([(100, False), (120, False), (500, True)])]
>>> [(c.function, c.invocations, c.cold, c.cold_p50_ns, c.warm_p50_ns, c.init_share)
...  for c in cold_starts([Trace(tid, inv)])]
[('fn', 3, 1, 500, 100, 0.375)]
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field

from spanscope.analysis.stats import percentiles
from spanscope.collectors import conventions as cv
from spanscope.collectors.model import Span, Trace

__all__ = [
    "INITIALIZATION",
    "ColdStartStats",
    "ColdStartsPartial",
    "cold_starts",
    "cold_starts_partial",
    "initialization_ns",
    "merge_cold_starts",
    "split_initialization",
]

INITIALIZATION = "Initialization"  # X-Ray's name for a Lambda function's init subsegment


def initialization_ns(span: Span) -> int:
    """The init (SnapStart: restore) duration of a recorded cold start (``faas.coldstart`` true), else 0."""
    attrs = span.attributes
    flag = attrs.get(cv.FAAS_COLDSTART)
    if not (flag is True or (isinstance(flag, str) and flag.lower() == "true")):
        return 0
    for key in (cv.FAAS_INIT_DURATION_NS, cv.FAAS_RESTORE_DURATION_NS):  # SnapStart: its restore
        init = attrs.get(key)
        if isinstance(init, int | float) and not isinstance(init, bool) and init > 0:
            return int(init)
    return 0


def cold_children(trace: Trace, candidates: Iterable[int] | None = None) -> dict[tuple[int, int], int]:
    """Cold-started spans keyed by (parent node, start clamped to the parent): where a caller's stretch
    of the critical path ends and the callee's init took place. ``candidates``: the nodes that carry
    ``faas.coldstart`` when the caller found them already (else every span is read)."""
    out: dict[tuple[int, int], int] = {}
    spans = trace.spans
    key = cv.FAAS_COLDSTART
    nodes = range(len(spans)) if candidates is None else candidates
    for i in nodes:
        span = spans[i]
        if key in span.attributes and initialization_ns(span):
            p = trace.parent(i)
            if p is not None:
                out[(p, max(span.start_ns, spans[p].start_ns))] = i
    return out


def split_initialization(
    trace: Trace, nodes: Iterable[tuple[int, int, int]], cold: dict[tuple[int, int], int] | None = None
) -> list[tuple[int, int, int, bool]]:
    """Critical-path ``(node, start, end)`` stretches with each cold start's ``Initialization`` split out.

    A caller's stretch that ends where a cold-started callee begins gives up to the callee's init duration
    to ``(callee, start, end, True)``: the gap the callee's init explains is the function's time, never
    the caller's self time.

    >>> from spanscope.collectors.model import Kind, Span, Trace
    >>> tid = "5759e988bd862e3fe1be46a994272793"
    >>> t = Trace(tid, [Span(tid, "a" * 16, None, "cdn", "origin", Kind.CLIENT, 0, 500),
    ...     Span(tid, "b" * 16, "a" * 16, "fn", "fn", Kind.SERVER, 400, 500,
    ...          attributes={"faas.coldstart": True, "spanscope.faas.init_duration_ns": 1000})])
    >>> split_initialization(t, [(0, 0, 400), (1, 400, 500)])
    [(1, 0, 400, True), (1, 400, 500, False)]
    """
    if cold is None:
        cold = cold_children(trace)
    out: list[tuple[int, int, int, bool]] = []
    for node, s, e in nodes:
        c = cold.get((node, e)) if cold else None
        if c is None:
            out.append((node, s, e, False))
            continue
        k = min(initialization_ns(trace.spans[c]), e - s)
        if e - k > s:
            out.append((node, s, e - k, False))
        out.append((c, e - k, e, True))
    return out


def _durations() -> array[int]:
    return array("q")


@dataclass(slots=True)
class _FnAcc:
    # durations in machine-integer arrays, not an int object per invocation held to the end of the run
    cold: array[int] = field(default_factory=_durations)
    warm: array[int] = field(default_factory=_durations)
    init_ns: int = 0


@dataclass(slots=True)
class ColdStartsPartial:
    """Per-trace (or merged) state of :func:`cold_starts`; ``merge`` is associative."""

    functions: dict[str, _FnAcc] = field(default_factory=dict)

    def merge(self, other: ColdStartsPartial) -> ColdStartsPartial:
        for name, acc in other.functions.items():
            mine = self.functions.get(name)
            if mine is None:
                self.functions[name] = _FnAcc(array("q", acc.cold), array("q", acc.warm), acc.init_ns)
            else:
                mine.cold.extend(acc.cold)
                mine.warm.extend(acc.warm)
                mine.init_ns += acc.init_ns
        return self


@dataclass(frozen=True, slots=True)
class ColdStartStats:
    """One function's cold and warm invocations (ns). ``init_share``: the share of the cold requests' time spent
    initialising, init / (init + cold invocation time), in [0, 1] (init runs before the invocation's span)."""

    function: str
    invocations: int
    cold: int
    cold_p50_ns: int
    cold_p95_ns: int
    warm_p50_ns: int
    warm_p95_ns: int
    init_ns: int
    init_share: float

    @property
    def cold_rate(self) -> float:
        return self.cold / self.invocations if self.invocations else 0.0

    @property
    def penalty_ns(self) -> int:
        """Latency the cold starts added in all: cold count times (cold p50 − warm p50)."""
        return self.cold * max(0, self.cold_p50_ns - self.warm_p50_ns) if self.warm_p50_ns else self.init_ns


def cold_starts_partial(trace: Trace) -> ColdStartsPartial:
    """The per-trace step of :func:`cold_starts`."""
    part = ColdStartsPartial()
    key = cv.FAAS_COLDSTART
    for span in trace.spans:
        attrs = span.attributes
        if key not in attrs:
            continue
        flag = attrs[key]
        cold = flag is True or (isinstance(flag, str) and flag.lower() == "true")
        name = attrs.get(cv.FAAS_NAME)
        fn = name if isinstance(name, str) and name else span.service
        acc = part.functions.get(fn)
        if acc is None:
            acc = part.functions[fn] = _FnAcc()
        if cold:
            acc.cold.append(span.duration_ns)
            acc.init_ns += initialization_ns(span)
        else:
            acc.warm.append(span.duration_ns)
    return part


def merge_cold_starts(partials: Iterable[ColdStartsPartial]) -> list[ColdStartStats]:
    """The merge step: functions ranked by the latency cold starts added, then by cold-start rate."""
    total = ColdStartsPartial()
    for part in partials:
        total.merge(part)
    out = []
    for fn, acc in total.functions.items():
        c50, c95 = percentiles(acc.cold, (0.5, 0.95))
        w50, w95 = percentiles(acc.warm, (0.5, 0.95))
        cold_total = sum(acc.cold)
        share = acc.init_ns / (acc.init_ns + cold_total) if acc.init_ns + cold_total else 0.0
        out.append(
            ColdStartStats(
                fn,
                len(acc.cold) + len(acc.warm),
                len(acc.cold),
                int(c50),
                int(c95),
                int(w50),
                int(w95),
                acc.init_ns,
                share,
            )
        )
    out.sort(key=lambda c: (-c.penalty_ns, -c.cold_rate, c.function))
    return out


def cold_starts(traces: Iterable[Trace]) -> list[ColdStartStats]:
    """Cold-start statistics per function across ``traces``."""
    return merge_cold_starts(cold_starts_partial(t) for t in traces)
