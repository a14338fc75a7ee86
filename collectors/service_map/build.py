"""Builds service maps from traces with X-Ray's trace-map semantics: the aggregation and the graph.

What the map means (as X-Ray's service graph, see the X-Ray developer guide, "Concepts: service graph"):

- **Nodes** are keyed ``(name, type)``. A service node is made by the *segments* of a service: the
  spans that enter it (no parent, a parent in another service, or a server span under a client span).
  Its type is the segment's origin (``span.origin``, else ``spanscope.origin`` / ``cloud.platform``,
  see ``conventions.origin_from_resource``); "" when unknown. Its statistics count its segments.
- The **client** node ``("client", "client")`` stands for the callers of trace entry points: each
  root segment makes one request on the edge client → its node. Nodes that serve a root segment are
  ``root``.
- **Downstream calls** are client or producer spans, or spans with an X-Ray ``namespace``. If the call
  has a child segment in another service (the callee is instrumented), it is an edge caller → callee.
  Otherwise it makes an **inferred node** named by ``remote_service`` (else the awsxrayexporter's
  attribute rules, else the span name): type ``AWS::DynamoDB::Table``, ``AWS::S3::Bucket``,
  ``AWS::SQS::Queue``, … for namespace ``aws``, ``remote`` for other hosts. The inferred node's
  statistics are the calls' own.
- **Edges** count the caller's view: the statistics of the upstream client span (subsegment) when
  there is one, else of the downstream segment (no client span was recorded).
- **Messaging** (X-Ray's queue and topic nodes). A span that sends messages (a producer span, an AWS
  SDK call SQS ``SendMessage(Batch)``, SNS ``Publish``, EventBridge ``PutEvents``, Kinesis
  ``PutRecord(s)``; see ``conventions.message_destination``) makes one inferred node per destination,
  named by ``messaging.destination.name`` (else the queue URL's or ARN's last segment, else as any
  inferred node) and typed ``AWS::SQS::Queue``, ``AWS::SNS::Topic``, ``AWS::Events::EventBus``,
  ``AWS::Kinesis::Stream`` (else by the messaging system). The edge producer's service → destination
  counts the send calls. Its consumers are the spans that link to it and the segments (or consumer
  spans) parented to it; each makes the asynchronous edge destination ~> consumer's node. A consumer
  parented to the send is never a synchronous edge from the producer's service.
- **Asynchronous edges** (X-Ray ``EdgeType: "link"``) come from span links (and from consumers parented
  to a send): a span that links to a producer span (a message send, a Batch submit, a Step Functions
  start: a producer span, or an ``aws`` call to SQS, SNS, Batch, Step Functions, Lambda, Kinesis or
  EventBridge) makes an edge from the producer's downstream node (the queue, else the callee) to the
  linking span's node; a link that would resolve to the consumer's own node adds nothing (no
  self-loops). A node counts one message per producer span per trace, with the status of its consumer
  span when one was recorded (else of the linking span). Its statistics are the consumer side's;
  ``event_age`` is the age of the event when received (consumer start minus producer end). A root
  segment that links to a producer gets no client edge. Links to spans that are not in the map's data
  are counted in ``graph.graph["unresolved_links"]``; links are followed one hop, never transitively, so
  cycles of links cost nothing, and at most ``MAX_SPAN_LINKS`` links of one span are followed.
- In-progress spans make nodes and edges appear but add no statistics.

Aggregation runs on plain dicts and lists (one counter row per node and per edge, see ``stats``): the
rules above are small named functions in ``walk`` (one iterative pass per trace), node identity is in
``nodes``; the NetworkX graph is built once from those rows in ``ServiceMapAccumulator.graph()`` (``graph``).

>>> from spanscope.collectors.model import Kind, Span, Trace
>>> tid = "5759e988bd862e3fe1be46a994272793"
>>> g = build_service_map([Trace(tid, [
...     Span(tid, "a" * 16, None, "api", "GET /", Kind.SERVER, 0, 10_000_000, origin="AWS::Lambda::Function"),
...     Span(tid, "b" * 16, "a" * 16, "api", "GetItem", Kind.CLIENT, 2_000_000, 5_000_000,
...          namespace="aws", remote_service="DynamoDB"),
... ])])
>>> for caller, callee in sorted(g.edges):
...     print(caller[0], "->", callee)
api -> ('DynamoDB', 'AWS::DynamoDB::Table')
client -> ('api', 'AWS::Lambda::Function')
>>> g.nodes["DynamoDB", "AWS::DynamoDB::Table"]["stats"].total_count
1
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Protocol

import networkx as nx
from spanscope.collectors.model import Trace
from spanscope.collectors.service_map.graph import LinkRow, assemble, resolve_links
from spanscope.collectors.service_map.nodes import (
    CLIENT_NODE,
    KIND_CLIENT,
    KIND_INFERRED,
    KIND_SERVICE,
    UNKNOWN_SERVICE,
    EdgeKey,
    NodeKey,
    aws_type,
    remote_node,
    span_location,
)
from spanscope.collectors.service_map.stats import REFS, TOTAL_NS, bucket_slot
from spanscope.collectors.service_map.walk import MAX_SPAN_LINKS, Contribution, TraceWalker

__all__ = [
    "CLIENT_NODE",
    "KIND_CLIENT",
    "KIND_INFERRED",
    "KIND_SERVICE",
    "MAX_SPAN_LINKS",
    "UNKNOWN_SERVICE",
    "Contribution",
    "EdgeKey",
    "NodeKey",
    "Predicate",
    "ServiceMapAccumulator",
    "aws_type",
    "build_service_map",
    "rebuild_from_store",
    "remote_node",
    "span_location",
]

Predicate = Callable[[Trace], bool]


class _Store(Protocol):
    def iter_traces(self, *, since_ns: int | None = None, until_ns: int | None = None) -> Iterable[Trace]: ...


class _ChangingStore(Protocol):
    def changes_since(self, cursor: int) -> tuple[int, list[str]]: ...

    def iter_traces(self, *, trace_ids: Iterable[str] | None = None) -> Iterable[Trace]: ...


class ServiceMapAccumulator:
    """A service map kept current trace by trace; ``graph()`` builds the NetworkX view.

    ``add_trace`` replaces the earlier contribution of a trace id added before (an in-progress trace
    that has completed, late spans). Contributions of the ``retain_traces`` most recently added trace
    ids are remembered for that (``None``: all, ``0``: none, for one-shot maps), and no more than
    ``retain_events`` counting events in all (about two per span; oldest traces forgotten first), so
    memory stays bounded however big the traces; a trace re-added after it was forgotten is counted
    again on top (``rebuild_from_store`` resets the map exactly). A remembered trace costs about two
    small tuples per span (some 500 bytes per span measured in a collector). Link joins (producer spans and the
    links that point at them) are kept until the next rebuild, at most ``retain_links`` of each (oldest
    forgotten first; a link whose producer was forgotten counts as unresolved). A span's links beyond
    ``MAX_SPAN_LINKS`` are not followed (counted in ``dropped_links``), so a fan-out of any size is bounded.
    Thread-safe: a collector thread may add while a UI thread asks for the graph.

    Wiring it into a collector or a live view::

        acc = ServiceMapAccumulator(predicate=compile_filter(expr))   # or no predicate
        acc.rebuild_from_store(store, since_ns, until_ns)               # start from what is stored
        cursor = acc.update_from_store(store, cursor)                   # then, periodically
        acc.add_trace(trace)                                            # or push traces as they complete
        graph = acc.graph()                                             # a fresh DiGraph each time
    """

    def __init__(
        self,
        *,
        predicate: Predicate | None = None,
        retain_traces: int | None = 10_000,
        retain_events: int | None = 200_000,
        retain_links: int | None = 500_000,
    ) -> None:
        self.predicate = predicate
        self.retain_traces = retain_traces
        self.retain_links = retain_links
        # Also bounded by what is remembered (about two events per span), so big traces stay bounded.
        self.retain_events = retain_events
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._nodes: dict[NodeKey, list[int]] = {}
        self._edges: dict[EdgeKey, list[int]] = {}
        self._kinds: dict[NodeKey, str] = {}
        self._roots: dict[NodeKey, int] = {}
        self._locations: dict[NodeKey, dict[str, int]] = {}
        # trace id -> [(consumer node, linked trace id, linked span id, consumer start, slot, duration)]
        self._links: dict[str, list[LinkRow]] = {}
        self._link_entries = 0
        # (trace id, span id) of a producer span -> (node its work goes to, producer end ns)
        self._targets: dict[tuple[str, str], tuple[NodeKey, int]] = {}
        self._accounts: dict[NodeKey, str] = {}
        self.dropped_links = 0
        self._contributions: OrderedDict[str, Contribution] = OrderedDict()
        self._retained_events = 0
        self._walker = TraceWalker(
            self._nodes, self._edges, self._kinds, self._roots, self._locations, self._accounts, self._targets
        )
        self.trace_count = 0
        self.span_count = 0
        self.start_ns: int | None = None
        self.end_ns: int | None = None

    # --- adding ---------------------------------------------------------------------------------
    def add_trace(self, trace: Trace) -> bool:
        """Add (or replace) one trace; False when the predicate rejects it (an earlier version is removed)."""
        accepted = self.predicate is None or self.predicate(trace)
        with self._lock:
            old = self._contributions.pop(trace.trace_id, None)
            if old is not None:
                self._retained_events -= len(old.events)
                self._subtract(trace.trace_id, old)
            if not accepted:
                return False
            retain = self.retain_traces
            record = Contribution() if retain is None or retain > 0 else None
            self._count_trace(trace, record)
            if record is not None:
                self._contributions[trace.trace_id] = record
                self._retained_events += len(record.events)
                contributions, max_events = self._contributions, self.retain_events
                while (retain is not None and len(contributions) > retain) or (
                    max_events is not None and self._retained_events > max_events and contributions
                ):
                    self._retained_events -= len(contributions.popitem(last=False)[1].events)
            return True

    def add_traces(self, traces: Iterable[Trace]) -> int:
        """Add many traces; returns how many the predicate accepted."""
        return sum(1 for t in traces if self.add_trace(t))

    def rebuild_from_store(
        self, store: _Store, since_ns: int | None = None, until_ns: int | None = None
    ) -> ServiceMapAccumulator:
        """Forget everything and rebuild from the store's traces in the window; returns self."""
        with self._lock:
            self._reset()
        for trace in store.iter_traces(since_ns=since_ns, until_ns=until_ns):
            self.add_trace(trace)
        return self

    def update_from_store(self, store: _ChangingStore, cursor: int = 0) -> int:
        """Add (or replace) every trace the store wrote after ``cursor``; returns the new cursor.

        The live loop of a collector or a UI: ``cursor = acc.update_from_store(store, cursor)``.
        """
        new_cursor, trace_ids = store.changes_since(cursor)
        if trace_ids:
            for trace in store.iter_traces(trace_ids=trace_ids):
                self.add_trace(trace)
        return new_cursor

    def _subtract(self, trace_id: str, old: Contribution) -> None:
        for table, key, slot, duration in old.events:
            row = table[key]
            row[REFS] -= 1
            if slot >= 0:
                row[slot] -= 1
                row[TOTAL_NS] -= duration
                row[bucket_slot(duration)] -= 1
            if row[REFS] <= 0:
                del table[key]
                if table is self._nodes:
                    self._kinds.pop(key, None)
        for key in old.roots:
            left = self._roots.get(key, 0) - 1
            if left > 0:
                self._roots[key] = left
            else:
                self._roots.pop(key, None)
        for key, where in old.locations:
            counts = self._locations.get(key)
            if counts is not None:
                counts[where] -= 1
                if counts[where] <= 0:
                    del counts[where]
                if not counts:
                    del self._locations[key]
        if old.links:
            self._link_entries -= len(self._links.pop(trace_id, ()))
        for target in old.targets:
            self._targets.pop(target, None)
        self.dropped_links -= old.dropped_links
        self.trace_count -= 1

    def _count_trace(self, trace: Trace, record: Contribution | None) -> None:
        """Walk one trace into the rows (``walk.TraceWalker``), then keep what it received and the window."""
        if not trace.spans:
            return
        walker = self._walker
        n, start, end = walker.walk(trace, record, self.retain_links)
        received, dropped = walker.received, walker.dropped
        if received:
            self._links[trace.trace_id] = [entry[:6] for entry in received.values()]
            self._link_entries += len(received)
            if record is not None:
                record.links = True
            limit = self.retain_links
            while limit is not None and self._link_entries > limit and self._links:
                self._link_entries -= len(self._links.pop(next(iter(self._links))))
        if dropped:
            self.dropped_links += dropped
            if record is not None:
                record.dropped_links = dropped
        self.trace_count += 1
        self.span_count += n
        if self.start_ns is None or start < self.start_ns:
            self.start_ns = start
        if self.end_ns is None or end > self.end_ns:
            self.end_ns = end

    # --- the graph ------------------------------------------------------------------------------
    def graph(self) -> nx.DiGraph:
        """The map as a ``networkx.DiGraph`` (see the module docstring for nodes, edges and attributes).

        Node attributes: ``name``, ``type``, ``kind`` (service/inferred/client), ``root``, ``stats``
        (Statistics), ``location`` (dominant placement or None), ``locations`` ({placement: segments}),
        ``account`` (``cloud.account.id`` of its segments' resource, or None).
        Edge attributes: ``stats`` (synchronous calls, or None), ``link_stats`` and ``event_age``
        (asynchronous link traffic, or None), ``asynchronous`` (True when the edge is links only).
        Graph attributes: ``trace_count``, ``span_count``, ``start_ns``, ``end_ns``, ``unresolved_links``
        (links to spans not in the data), ``dropped_links`` (links beyond ``MAX_SPAN_LINKS`` on one span).
        A link that resolves to the consumer's own node (a call both parented and linked) adds nothing.
        """
        with self._lock:
            link_rows, age_rows, unresolved = resolve_links(self._links.values(), self._targets)
            node_rows = {key: list(row) for key, row in self._nodes.items()}
            edge_rows = {key: list(row) for key, row in self._edges.items()}
            kinds = dict(self._kinds)
            roots = set(self._roots)
            locations = {key: dict(v) for key, v in self._locations.items()}
            accounts = dict(self._accounts)
            meta = {
                "trace_count": self.trace_count,
                "span_count": self.span_count,
                "start_ns": self.start_ns,
                "end_ns": self.end_ns,
                "unresolved_links": unresolved,
                "dropped_links": self.dropped_links,
            }
        return assemble(node_rows, edge_rows, link_rows, age_rows, kinds, roots, locations, accounts, meta)


def build_service_map(traces: Iterable[Trace], *, predicate: Predicate | None = None) -> nx.DiGraph:
    """The service map of ``traces`` (those ``predicate`` accepts) as a ``networkx.DiGraph``.

    See the module docstring for what nodes and edges mean, and ``ServiceMapAccumulator.graph`` for
    their attributes.
    """
    accumulator = ServiceMapAccumulator(predicate=predicate, retain_traces=0)
    for trace in traces:
        accumulator.add_trace(trace)
    return accumulator.graph()


def rebuild_from_store(
    store: _Store,
    since_ns: int | None = None,
    until_ns: int | None = None,
    *,
    predicate: Predicate | None = None,
    retain_traces: int | None = 10_000,
) -> ServiceMapAccumulator:
    """A new accumulator filled from the store's traces in ``[since_ns, until_ns]``."""
    accumulator = ServiceMapAccumulator(predicate=predicate, retain_traces=retain_traces)
    return accumulator.rebuild_from_store(store, since_ns, until_ns)
