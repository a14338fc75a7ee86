"""Workflows: a trace and the traces linked to or from it as one timeline, with an end-to-end critical path
that runs across the asynchronous hops (SQS, Step Functions, Batch, EMR) and names each hop's gap.

The traces of a workflow form one forest: tree parents, plus a *cause* for a trace whose root links to a
span of another member (an EMR step's job linked to ``AddJobFlowSteps``). For the path, a span belongs to
the nearest ancestor whose interval holds its end (a Batch array child under the state that waits for it,
though its tree parent ``SubmitJob`` returned at once); a span that outlives every ancestor starts a new
*unit* whose cause is its tree parent or link. The end-to-end path is walked backwards from the end of the
unit that finishes last: its critical path, then the hop's gap (queue wait = consumer start − producer end;
scheduling delay for Batch; a cold start's ``Initialization``), then the path that led to the cause's end,
and so on back to the first unit. Iterative, and bounded: cycles of links stop at a unit seen before.

>>> from spanscope.collectors.model import Kind, Span, Trace
>>> tid = "5759e988bd862e3fe1be46a994272793"
>>> t = Trace(tid, [
...     Span(tid, "a" * 16, None, "api", "POST /", Kind.SERVER, 1000, 1100),
...     Span(tid, "b" * 16, "a" * 16, "api", "send", Kind.PRODUCER, 1010, 1020),
...     Span(tid, "c" * 16, "b" * 16, "worker", "process", Kind.CONSUMER, 1150, 1400),
... ])
>>> w = build_workflow([t])
>>> [(p.name, p.piece or "self", p.end_ns - p.start_ns) for p in w.path]
[('POST /', 'self', 10), ('send', 'self', 10), ('process', 'queue wait', 130), ('process', 'self', 250)]
>>> w.coverage, w.hops[0].kind, w.hops[0].gap_ns
(1.0, 'queue wait', 130)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from spanscope.analysis.cold_starts import INITIALIZATION, initialization_ns
from spanscope.analysis.workflow_links import MAX_WORKFLOW_TRACES, follow_links
from spanscope.collectors import conventions as cv
from spanscope.collectors.model import Kind, Span, Trace

__all__ = [
    "INITIALIZATION",
    "MAX_WORKFLOW_TRACES",
    "QUEUE_WAIT",
    "Hop",
    "PathPiece",
    "Stretches",
    "Workflow",
    "build_workflow",
    "follow_links",
    "hop_kind",
    "initialization_ns",
    "one_timeline",
    "path_stretches",
]

MAX_ANCESTOR_STEPS = 64
QUEUE_WAIT = "queue wait"


@dataclass(frozen=True, slots=True)
class PathPiece:
    """A stretch of the end-to-end critical path: a span's self time (``piece`` empty), its cold start
    (``Initialization``) or the gap of the hop that led to it (``queue wait``, ``scheduling delay``, ...)."""

    trace_id: str
    span_id: str
    service: str
    name: str
    start_ns: int
    end_ns: int
    piece: str = ""

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


@dataclass(frozen=True, slots=True)
class Hop:
    """An asynchronous hop from ``cause`` to the span it started; ``gap_ns`` = its start − the cause's end
    (``from_end_ns``; for a linked span that starts inside the call waiting on it, the call's start)."""

    kind: str
    from_trace_id: str
    from_span_id: str
    to_trace_id: str
    to_span_id: str
    from_end_ns: int
    to_start_ns: int

    @property
    def gap_ns(self) -> int:
        return max(0, self.to_start_ns - self.from_end_ns)


@dataclass(slots=True)
class Workflow:
    """Traces on one timeline (the first is the one asked for), their hops and the end-to-end path."""

    traces: list[Trace]
    hops: list[Hop]
    path: list[PathPiece]
    start_ns: int
    end_ns: int
    notes: list[str] = field(default_factory=list)

    @property
    def duration_ns(self) -> int:
        return max(0, self.end_ns - self.start_ns)

    @property
    def coverage(self) -> float:
        """The share of the workflow's duration that its end-to-end path covers."""
        covered = sum(p.duration_ns for p in self.path)
        return covered / self.duration_ns if self.duration_ns else 0.0

    def time_by_piece(self) -> dict[str, int]:
        """Nanoseconds of the path per piece kind: ``compute`` (span self time), ``Initialization``, hop kinds."""
        out: dict[str, int] = {}
        for p in self.path:
            key = p.piece or "compute"
            out[key] = out.get(key, 0) + p.duration_ns
        return out


def hop_kind(cause: Span, span: Span) -> str:
    """The name of the gap between ``cause`` ending and ``span`` starting."""
    link_kind = ""
    for link in span.links:
        if link.span_id == cause.span_id:
            value = link.attributes.get(cv.LINK_KIND)
            link_kind = value if isinstance(value, str) else ""
            break
    if cause.kind is Kind.PRODUCER or span.kind is Kind.CONSUMER or link_kind in ("sqs", "sns", "kinesis"):
        return QUEUE_WAIT
    origin = span.origin or str(span.resource.get(cv.ORIGIN, ""))
    if "Batch" in origin or link_kind == "batch" or any(k.startswith("aws.batch.") for k in span.attributes):
        return "scheduling delay"
    if "StepFunctions" in origin or link_kind == "stepfunctions":
        return "execution start"
    if "EMR" in origin or link_kind == "emr":
        return "step start"
    return "async gap"


# --- assembling the members ----------------------------------------------------------------------------


def one_timeline(workflow: Workflow) -> Trace:
    """The member traces as one Trace for display: a root that links to a span of another member hangs
    under that span (copies; the members are not changed). Its id is the first member's."""
    traces = workflow.traces
    present = {(t.trace_id, s.span_id) for t in traces for s in t.spans}
    spans: list[Span] = []
    for t in traces:
        for s in t.spans:
            if s.parent_id is None or t.position(s.parent_id) is None:
                cause = next(
                    (lk for lk in s.links if lk.trace_id != t.trace_id and (lk.trace_id, lk.span_id) in present), None
                )
                if cause is not None:
                    s = replace(s, parent_id=cause.span_id)
            spans.append(s)
    return Trace(traces[0].trace_id if traces else "", spans)


# --- the end-to-end path ------------------------------------------------------------------------------


class _Forest:
    """Every span of the member traces as one array-indexed forest (global node = offset + position)."""

    def __init__(self, traces: Sequence[Trace]) -> None:
        self.spans: list[Span] = []
        self.trace_ids: list[str] = []
        self.par: list[int] = []
        self.linked_cause: list[bool] = []
        self.valid: list[bool] = []
        wanted: dict[str, set[str]] = {}  # linked-to span ids per trace id
        for t in traces:
            for sp in t.spans:
                for lk in sp.links:
                    wanted.setdefault(lk.trace_id, set()).add(lk.span_id)
        where: dict[tuple[str, str], int] = {}
        for trace in traces:
            base = len(self.spans)
            members = trace.spans
            n_t = len(members)
            parent = trace.parent
            self.spans.extend(members)
            self.trace_ids.extend([trace.trace_id] * n_t)
            self.par.extend([-1 if (p := parent(i)) is None else base + p for i in range(n_t)])
            self.linked_cause.extend([False] * n_t)
            valid = [True] * n_t
            for i in trace.duplicates:
                valid[i] = False
            self.valid.extend(valid)
            tid = trace.trace_id
            for span_id in wanted.get(tid, ()):
                pos = trace.position(span_id)  # the canonical record: never a dropped duplicate
                if pos is not None:
                    where[(tid, span_id)] = base + pos
        self.where = where
        self.hops: list[Hop] = []
        spans = self.spans
        for g, span in enumerate(spans):
            if not span.links:
                continue
            best = -1
            for lk in span.links:
                c = where.get((lk.trace_id, lk.span_id))
                if c is None or c == g:
                    continue
                if lk.trace_id != self.trace_ids[g]:
                    cs = spans[c]
                    inside = cs.start_ns <= span.start_ns <= cs.end_ns  # the caller waits: the gap is from its start
                    self.hops.append(
                        Hop(
                            hop_kind(cs, span),
                            lk.trace_id,
                            cs.span_id,
                            self.trace_ids[g],
                            span.span_id,
                            cs.start_ns if inside else cs.end_ns,
                            span.start_ns,
                        )
                    )
                if best < 0 or spans[c].end_ns > spans[best].end_ns:
                    best = c
            if best >= 0 and self.par[g] < 0:
                self.par[g] = best  # a root caused by a span of another member (cycles are cut below)
                self.linked_cause[g] = True
        self.lo = [s.start_ns for s in spans]
        self.hi = [s.end_ns if s.end_ns > s.start_ns else s.start_ns for s in spans]
        self._attach()

    def _attach(self) -> None:
        """``up[g]``: the node whose interval holds g's end (nearest ancestor), or -1: g starts a unit."""
        n = len(self.spans)
        par, lo, hi, valid = self.par, self.lo, self.hi, self.valid
        self.up = up = [-1] * n
        self.kids: list[list[int]] = [[] for _ in range(n)]
        for g in range(n):
            if not valid[g]:
                continue
            a = par[g]
            if a >= 0 and hi[a] >= hi[g] and lo[a] <= hi[g] and a != g:
                up[g] = a  # the common case: inside its tree parent
                continue
            steps = 0
            while a >= 0 and steps < MAX_ANCESTOR_STEPS and a != g:
                if hi[a] >= hi[g] and lo[a] <= hi[g]:
                    up[g] = a
                    break
                a = par[a]
                steps += 1
        # cut cycles of ``up`` (possible only through links, with equal times): walk each chain once
        state = [0] * n
        for g in range(n if any(self.linked_cause) else 0):
            path = []
            x = g
            while x >= 0 and state[x] == 0:
                state[x] = 1
                path.append(x)
                x = up[x]
            if x >= 0 and state[x] == 1:
                up[x] = -1
            for k in path:
                state[k] = 2
        spans, kids, linked_cause = self.spans, self.kids, self.linked_cause
        self.lifted: list[int] = []  # nodes held by an ancestor other than their tree parent
        lifted = self.lifted
        for g in range(n):
            a = up[g]
            if a >= 0:
                kids[a].append(g)
                p = par[g]
                if p == a or p < 0:  # the common case: held by its tree parent (or a root's cause)
                    continue
                lifted.append(g)
                if lo[g] > hi[p] and not linked_cause[g]:
                    ps, cs = spans[p], spans[g]
                    tid = self.trace_ids[g]
                    self.hops.append(Hop(hop_kind(ps, cs), tid, ps.span_id, tid, cs.span_id, ps.end_ns, cs.start_ns))

    def unit_root(self, g: int) -> int:
        seen = 0
        while self.up[g] >= 0 and seen <= len(self.spans):
            g = self.up[g]
            seen += 1
        return g


def _descend(forest: _Forest, node: int, lo: int, hi: int, out: list[tuple[int, int, int]], skip: int) -> None:
    """Append (backwards in time) the critical stretches of ``node`` over [lo, hi]; ``skip`` is excluded."""
    f_lo, f_hi, kids_of = forest.lo, forest.hi, forest.kids
    stack = [_frame(forest, node, lo, hi, skip)]
    while stack:
        frame = stack[-1]
        nd, flo, cursor, kids, pos, tol = frame
        picked = -1
        while pos < len(kids):
            neg_end, start, child = kids[pos]
            pos += 1
            if -neg_end > cursor + tol or start >= cursor:
                continue
            picked = child
            break
        frame[4] = pos
        if picked < 0:
            if cursor > flo:
                out.append((nd, flo, cursor))
            stack.pop()
            continue
        c_end = min(f_hi[picked], cursor)
        c_start = max(f_lo[picked], flo)
        if cursor > c_end:
            out.append((nd, c_end, cursor))
        frame[2] = c_start
        if kids_of[picked]:
            stack.append(_frame(forest, picked, c_start, c_end, -1))
        elif c_end > c_start:
            out.append((picked, c_start, c_end))


def _frame(forest: _Forest, node: int, lo: int, hi: int, skip: int) -> list[Any]:
    f_lo, f_hi = forest.lo, forest.hi
    kids = []
    for c in forest.kids[node]:
        if c == skip:
            continue
        end = min(f_hi[c], hi + (hi - lo) // 100)
        start = max(f_lo[c], lo)
        if end <= start:
            continue
        kids.append((-end, start, c))
    kids.sort()
    return [node, lo, hi, kids, 0, (hi - lo) // 100]


@dataclass(slots=True)
class Stretches:
    """The end-to-end path of some traces before it becomes :class:`PathPiece` objects: ``pieces`` are
    ``(node, start_ns, end_ns, piece)`` in time order, a node indexing ``spans`` (every member's spans);
    ``hops`` unordered. For callers that only sum the path (the report's workflows section)."""

    traces: list[Trace]
    spans: list[Span]
    trace_ids: list[str]
    pieces: list[tuple[int, int, int, str]]
    hops: list[Hop]
    start_ns: int
    end_ns: int
    notes: list[str]

    @property
    def duration_ns(self) -> int:
        return max(0, self.end_ns - self.start_ns)

    def time_by_piece(self) -> dict[str, int]:
        """As :meth:`Workflow.time_by_piece`."""
        out: dict[str, int] = {}
        for _g, s, e, piece in self.pieces:
            key = piece or "compute"
            out[key] = out.get(key, 0) + e - s
        return out


def build_workflow(traces: Sequence[Trace], *, notes: Sequence[str] = ()) -> Workflow:
    """The workflow of ``traces`` (already gathered, e.g. by :func:`follow_links`): hops and the path."""
    st = path_stretches(traces, notes=notes)
    spans, tids = st.spans, st.trace_ids
    path = [
        PathPiece(tids[g], spans[g].span_id, spans[g].service, spans[g].name, s, e, piece)
        for g, s, e, piece in st.pieces
    ]
    st.hops.sort(key=lambda h: (h.to_start_ns, h.to_trace_id, h.to_span_id))
    return Workflow(st.traces, st.hops, path, st.start_ns, st.end_ns, st.notes)


def path_stretches(traces: Sequence[Trace], *, notes: Sequence[str] = ()) -> Stretches:
    """The hops and the end-to-end path of ``traces`` as :class:`Stretches` (see :func:`build_workflow`)."""
    forest = _Forest(traces)
    spans = forest.spans
    valid = [g for g in range(len(spans)) if forest.valid[g]]
    out_notes = list(notes)
    if not valid:
        return Stretches(list(traces), spans, forest.trace_ids, [], [], 0, 0, out_notes)
    start_ns = min((forest.lo[g] for g in valid if forest.lo[g] > 0), default=0)
    end_ns = max(forest.hi[g] for g in valid)
    units = [g for g in valid if forest.up[g] < 0]
    sink = min(units, key=lambda g: (-forest.hi[g], forest.lo[g], g))
    back: list[tuple[int, int, int]] = []
    pieces: list[tuple[int, int, int, str]] = []
    hops = list(forest.hops)
    seen_units: set[int] = set()
    node, cursor = sink, forest.hi[sink]
    while True:
        unit = forest.unit_root(node)
        if unit in seen_units:
            out_notes.append("a cycle of links was cut on the end-to-end path")
            break
        seen_units.add(unit)
        back.clear()
        _descend(forest, node, forest.lo[node], max(cursor, forest.lo[node]), back, -1)
        child = node
        a = forest.up[node]
        while a >= 0:
            _descend(forest, a, forest.lo[a], max(forest.lo[a], forest.lo[child]), back, child)
            child, a = a, forest.up[a]
        pieces.extend((g, s, e, "") for g, s, e in back)
        cause = forest.par[unit]
        if cause < 0 or not forest.valid[cause]:
            break
        cs, us = spans[cause], spans[unit]
        hop_end = forest.lo[unit]
        hop_start = min(forest.hi[cause], hop_end)
        if not forest.linked_cause[unit] or forest.trace_ids[cause] == forest.trace_ids[unit]:
            hops.append(
                Hop(
                    hop_kind(cs, us),
                    forest.trace_ids[cause],
                    cs.span_id,
                    forest.trace_ids[unit],
                    us.span_id,
                    cs.end_ns,
                    us.start_ns,
                )
            )
        init = min(initialization_ns(us), hop_end - hop_start)
        if init > 0:
            pieces.append((unit, hop_end - init, hop_end, INITIALIZATION))
        if hop_end - init > hop_start:
            pieces.append((unit, hop_start, hop_end - init, hop_kind(cs, us)))
        node, cursor = cause, hop_start
    pieces.reverse()
    split = _split_initialization(forest, pieces)
    return Stretches(list(traces), spans, forest.trace_ids, split, hops, start_ns, end_ns, out_notes)


def _split_initialization(forest: _Forest, pieces: list[tuple[int, int, int, str]]) -> list[tuple[int, int, int, str]]:
    """Path pieces in time order. A parent's stretch that ends where a child begins gives up to the
    child's init duration to the child's ``Initialization`` piece (a cold start is never the caller's self
    time), and, for a child that outlived its tree parent (a Batch array child after ``SubmitJob``), the
    wait since that parent ended to the hop's gap (``scheduling delay``)."""
    spans, up, par, lo, hi = forest.spans, forest.up, forest.par, forest.lo, forest.hi
    starts: dict[tuple[int, int], int] = {}
    cold_key = cv.FAAS_COLDSTART
    cold = [g for g, span in enumerate(spans) if cold_key in span.attributes and initialization_ns(span)]
    linked = [g for g, by_link in enumerate(forest.linked_cause) if by_link]
    for g in [*forest.lifted, *cold, *linked]:
        a = up[g]
        if a >= 0:
            starts[(a, max(lo[g], lo[a]))] = g
    if not starts:
        return [p for p in pieces if p[2] > p[1]]
    out: list[tuple[int, int, int, str]] = []
    for g, s, e, piece in pieces:
        c = starts.get((g, e)) if not piece else None
        if c is None:
            if e > s:
                out.append((g, s, e, piece))
            continue
        tail: list[tuple[int, int, int, str]] = []
        k = min(initialization_ns(spans[c]), e - s)
        if k > 0:
            tail.append((c, e - k, e, INITIALIZATION))
            e -= k
        p = par[c]
        linked_inside = forest.linked_cause[c] and p == up[c]  # an EMR step's job inside the call that added it
        if p >= 0 and (p != up[c] or linked_inside):
            wait_from = s if linked_inside else max(s, hi[p])
            if e > wait_from:
                tail.append((c, wait_from, e, hop_kind(spans[p], spans[c])))
                e = wait_from
        if e > s:
            out.append((g, s, e, ""))
        out.extend(reversed(tail))
    return out
