"""The edge-vs-region latency split: where the critical path of each trace runs (region, edge placements, in between).

Each span is placed where its service runs (``spanscope.location`` / ``cloud.region`` on the span or its
resource, inherited from its parent when it says nothing; see ``collectors.service_map.location`` for the
placement kinds). A placement is in the *region* or at the *edge* (Local Zone, Wavelength zone, Outpost,
Snowball, CloudFront edge location, device). The time a trace spends on its critical path is split into:

- ``region`` and ``edge``: critical-path time of spans placed in a region / at an edge placement;
- ``crossing``: the part of a call from one scope to the other that its callee does not account for
  (the client span's own critical time: network, TLS, queueing between edge and region);
- ``unplaced``: spans of which no placement is known.

The critical path is computed only for traces that reach an edge placement: a trace with nothing at the
edge adds its whole interval (the length of its critical path) to ``region`` (``unplaced`` when nothing
says where it ran) and to its root's placement, so the split costs a region-only workload one pass over
the spans. Per-trace partial results merge associatively.

>>> from spanscope.collectors.model import Kind, Span, Trace
>>> tid = "5759e988bd862e3fe1be46a994272793"
>>> edge, region = {"spanscope.location": "edge:IAD89-C1"}, {"cloud.region": "us-east-1"}
>>> t = Trace(tid, [
...     Span(tid, "a" * 16, None, "viewer", "GET /", Kind.SERVER, 0, 100, resource=edge),
...     Span(tid, "b" * 16, "a" * 16, "viewer", "origin", Kind.CLIENT, 10, 90, resource=edge),
...     Span(tid, "c" * 16, "b" * 16, "api", "POST", Kind.SERVER, 30, 70, resource=region),
... ])
>>> s = placement_split([t])
>>> s.edge_ns, s.crossing_ns, s.region_ns, [(c.source, c.target, c.count) for c in s.crossings]
(20, 40, 40, [('edge:IAD89-C1', 'us-east-1', 1)])
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from spanscope.analysis.critical_path import critical_path
from spanscope.analysis.stats import percentiles
from spanscope.collectors.conventions import CLOUD_REGION, LOCATION
from spanscope.collectors.model import Kind, Trace
from spanscope.collectors.service_map import span_location
from spanscope.collectors.service_map.location import placement_scope

__all__ = ["Crossing", "PlacementPartial", "PlacementSplit", "merge_placement", "placement_partial", "placement_split"]

SCOPES = ("region", "edge", "crossing", "unplaced")


@dataclass(slots=True)
class PlacementPartial:
    """Per-trace (or merged) state of :func:`placement_split`; ``merge`` is associative."""

    scope_ns: dict[str, int] = field(default_factory=dict)
    location_ns: dict[str, int] = field(default_factory=dict)
    # (caller placement, callee placement) -> the crossing calls' own critical time per call (ns)
    crossings: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    traces: int = 0
    edge_traces: int = 0

    def merge(self, other: PlacementPartial) -> PlacementPartial:
        for key, value in other.scope_ns.items():
            self.scope_ns[key] = self.scope_ns.get(key, 0) + value
        for key, value in other.location_ns.items():
            self.location_ns[key] = self.location_ns.get(key, 0) + value
        for pair, gaps in other.crossings.items():
            self.crossings.setdefault(pair, []).extend(gaps)
        self.traces += other.traces
        self.edge_traces += other.edge_traces
        return self


@dataclass(frozen=True, slots=True)
class Crossing:
    """Calls from one placement to another of the other scope; ``*_ns``: their own (network) time."""

    source: str
    target: str
    count: int
    total_ns: int
    p50_ns: int
    p95_ns: int


@dataclass(frozen=True, slots=True)
class PlacementSplit:
    """Critical-path time per scope and per placement (ranked by time), and the crossings between scopes."""

    region_ns: int
    edge_ns: int
    crossing_ns: int
    unplaced_ns: int
    traces: int
    edge_traces: int
    locations: list[tuple[str, str, int]]  # (placement, scope, critical-path ns)
    crossings: list[Crossing]

    @property
    def total_ns(self) -> int:
        return self.region_ns + self.edge_ns + self.crossing_ns + self.unplaced_ns


def placement_partial(
    trace: Trace,
    *,
    overlap_tolerance: float = 0.01,
    into: PlacementPartial | None = None,
    interval: tuple[int, int] | None = None,
    located: bool | None = None,
) -> PlacementPartial:
    """The split of one trace (see the module docstring). ``into``: a partial to add the trace to in
    place (the same as merging the trace's own partial into it), returned. ``interval``: the trace's
    ``(start_ns, end_ns)`` when the caller read them already (each reads every span); ``located``: whether
    some span has a resource or a location attribute, when the caller knows (``trace_tree.scan_trace``)."""
    if into is None:
        partial = PlacementPartial(traces=1)
    else:
        partial = into
        partial.traces += 1
    spans = trace.spans
    if not spans or not trace.roots:
        return partial
    t0, t1 = interval if interval is not None else (trace.start_ns, trace.end_ns)
    if located is None:
        located = any(s.resource or LOCATION in s.attributes or CLOUD_REGION in s.attributes for s in spans)
    if not located:
        _add(partial, None, "unplaced", max(0, t1 - t0))  # nothing says where: one pass
        return partial
    owns = _own_locations(trace)
    own_scopes = {placement_scope(w) for w in set(owns) if w is not None}
    if "edge" not in own_scopes:
        # Nothing at the edge (most traces): the roots' interval where the first root is, no walk, no path.
        in_region = "region" in own_scopes
        _add(partial, owns[trace.roots[0]], "region" if in_region else "unplaced", max(0, t1 - t0))
        return partial
    where: list[str | None] = [None] * len(spans)
    stack: list[tuple[int, str | None]] = [(r, None) for r in trace.roots]
    while stack:  # iterative: a span without a placement of its own sits where its parent sits
        i, inherited = stack.pop()
        own = owns[i]
        where[i] = own if own is not None else inherited
        stack.extend((k, where[i]) for k in trace.children(i))
    placed = set(where)
    scopes = {w: placement_scope(w) for w in placed}
    at_edge = "edge" in scopes.values()
    if at_edge:
        partial.edge_traces += 1
    if len(placed) == 1 or not at_edge:  # nothing at the edge: the roots' interval, no path needed
        only = where[trace.roots[0]] if len(placed) > 1 else next(iter(placed))
        in_region = any(scope == "region" for scope in scopes.values())
        _add(partial, only, "region" if in_region else "unplaced", max(0, t1 - t0))
        return partial
    index = {span.span_id: i for i, span in enumerate(spans)}
    crossing_time: dict[int, int] = {}
    for segment in critical_path(trace, overlap_tolerance=overlap_tolerance):
        node = index.get(segment.span_id)
        if node is None:
            continue
        length = max(0, segment.end_ns - segment.start_ns)
        if _crossed_to(trace, node, where, scopes) is not None:
            partial.scope_ns["crossing"] = partial.scope_ns.get("crossing", 0) + length
            crossing_time[node] = crossing_time.get(node, 0) + length
            continue
        _add(partial, where[node], scopes[where[node]] or "unplaced", length)
    for i, gap in crossing_time.items():
        target = _crossed_to(trace, i, where, scopes)
        source = where[i]
        if target is not None and source is not None:
            partial.crossings.setdefault((source, target), []).append(gap)
    return partial


def _own_locations(trace: Trace) -> list[str | None]:
    """``span_location`` of every span, the resource's part read once per resource (spans share them)."""
    by_resource: dict[int, str | None] = {}
    out: list[str | None] = []
    for span in trace.spans:
        attributes = span.attributes
        if LOCATION in attributes or CLOUD_REGION in attributes:
            out.append(span_location(span))
            continue
        if not span.resource:  # nothing says where (most spans of a trace without resources): no lookup
            out.append(None)
            continue
        key = id(span.resource)
        if key not in by_resource:
            by_resource[key] = span_location(span)
        out.append(by_resource[key])
    return out


def _add(partial: PlacementPartial, location: str | None, scope: str, length: int) -> None:
    partial.scope_ns[scope] = partial.scope_ns.get(scope, 0) + length
    if location is not None:
        partial.location_ns[location] = partial.location_ns.get(location, 0) + length


def _crossed_to(trace: Trace, i: int, where: list[str | None], scopes: dict[str | None, str | None]) -> str | None:
    """The callee placement when span ``i`` is a call into the other scope (edge <-> region), else None."""
    span = trace.spans[i]
    if span.kind is not Kind.CLIENT and span.kind is not Kind.PRODUCER:
        return None
    mine = scopes[where[i]]
    if mine is None:
        return None
    for k in trace.children(i):
        theirs = scopes[where[k]]
        if theirs is not None and theirs != mine:
            return where[k]
    return None


def merge_placement(partials: Iterable[PlacementPartial]) -> PlacementSplit:
    total = PlacementPartial()
    for partial in partials:
        total.merge(partial)
    locations = sorted(
        ((w, placement_scope(w) or "unplaced", ns) for w, ns in total.location_ns.items()),
        key=lambda item: (-item[2], item[0]),
    )
    crossings = []
    for (source, target), gaps in total.crossings.items():
        p50, p95 = percentiles(gaps, (0.5, 0.95))
        crossings.append(Crossing(source, target, len(gaps), sum(gaps), int(p50), int(p95)))
    crossings.sort(key=lambda c: (-c.total_ns, c.source, c.target))
    scope = total.scope_ns
    return PlacementSplit(
        region_ns=scope.get("region", 0),
        edge_ns=scope.get("edge", 0),
        crossing_ns=scope.get("crossing", 0),
        unplaced_ns=scope.get("unplaced", 0),
        traces=total.traces,
        edge_traces=total.edge_traces,
        locations=locations,
        crossings=crossings,
    )


def placement_split(traces: Iterable[Trace], *, overlap_tolerance: float = 0.01) -> PlacementSplit:
    """The edge-vs-region split of ``traces`` (see the module docstring)."""
    return merge_placement(placement_partial(t, overlap_tolerance=overlap_tolerance) for t in traces)
