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

Aggregation runs on plain dicts and lists (one counter row per node and per edge, see ``stats``);
the NetworkX graph is built once from those rows in ``ServiceMapAccumulator.graph()``.

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
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import networkx as nx
from spanscope.collectors.conventions import (
    CLOUD_ACCOUNT,
    CLOUD_REGION,
    LOCATION,
    ORIGIN,
    ORIGIN_CLIENT,
    ORIGIN_REMOTE,
    message_destination,
    origin_from_resource,
    remote_from_attributes,
)
from spanscope.collectors.model import Kind, Span, Trace
from spanscope.collectors.service_map.stats import (
    END_NS,
    FINE_BOUNDS_NS,
    FIRST_BUCKET,
    MAX_NS,
    MIN_NS,
    REFS,
    START_NS,
    STATUS_SLOT,
    TOTAL_NS,
    Statistics,
    add_duration,
    bucket_slot,
    new_counts,
)

NodeKey = tuple[str, str]
EdgeKey = tuple[NodeKey, NodeKey]
Predicate = Callable[[Trace], bool]

CLIENT_NODE: NodeKey = ("client", ORIGIN_CLIENT)
UNKNOWN_SERVICE = "unknown"

#: Node kinds (the ``kind`` node attribute).
KIND_SERVICE = "service"
KIND_INFERRED = "inferred"
KIND_CLIENT = "client"

# X-Ray's resource types for AWS services called through an SDK (namespace "aws"), by lowercased name.
_AWS_TYPES: dict[str, str] = {
    "dynamodb": "AWS::DynamoDB::Table",
    "s3": "AWS::S3::Bucket",
    "sqs": "AWS::SQS::Queue",
    "sns": "AWS::SNS::Topic",
    "lambda": "AWS::Lambda",
    "kinesis": "AWS::Kinesis::Stream",
    "sfn": "AWS::StepFunctions::StateMachine",
    "stepfunctions": "AWS::StepFunctions::StateMachine",
    "states": "AWS::StepFunctions::StateMachine",
    "eventbridge": "AWS::Events::EventBus",
    "events": "AWS::Events::EventBus",
    "apigateway": "AWS::ApiGateway::Stage",
    "batch": "AWS::Batch::JobQueue",
    "emr": "AWS::EMR::Cluster",
}
# Calls whose span may be the target of a link (the producer side of asynchronous work).
_ASYNC_SERVICES = frozenset(
    {"sqs", "sns", "batch", "sfn", "stepfunctions", "states", "lambda", "kinesis", "eventbridge", "events"}
)
_CALL_KINDS = (Kind.CLIENT, Kind.PRODUCER)
_CACHE_LIMIT = 4096
#: Links of one span that the map follows; the rest are counted in ``graph.graph["dropped_links"]``.
MAX_SPAN_LINKS = 1000


def aws_type(service: str) -> str:
    """X-Ray's node type for an AWS service called through an SDK.

    >>> aws_type("DynamoDB"), aws_type("Textract")
    ('AWS::DynamoDB::Table', 'AWS::Textract')
    """
    known = _AWS_TYPES.get(service.lower().replace(" ", ""))
    return known or "AWS::" + "".join(service.split())


def remote_node(span: Span) -> tuple[str, NodeKey]:
    """(namespace, inferred node key) of a downstream call recorded by ``span``."""
    namespace, name = span.namespace, span.remote_service
    if not namespace or not name:
        derived_ns, derived_name = remote_from_attributes(span.attributes)
        namespace = namespace or derived_ns
        name = name or derived_name
    if not name:
        name = span.name or UNKNOWN_SERVICE
    if namespace == "aws":
        return namespace, (name, aws_type(name))
    return namespace, (name, ORIGIN_REMOTE)


def _resource_facts(resource: dict[str, Any]) -> tuple[str, str | None, str | None, str | None]:
    """(origin, spanscope.location, cloud.region, cloud.account.id) that a resource gives its spans."""
    where = resource.get(LOCATION)
    region = resource.get(CLOUD_REGION)
    account = resource.get(CLOUD_ACCOUNT)
    return (
        origin_from_resource(resource, {}),
        where if isinstance(where, str) and where else None,
        region if isinstance(region, str) and region else None,
        str(account) if isinstance(account, (str, int)) and not isinstance(account, bool) and account else None,
    )


def span_location(span: Span) -> str | None:
    """Placement of a span: ``spanscope.location``, else ``cloud.region``, from its attributes or resource."""
    for key in (LOCATION, CLOUD_REGION):
        for source in (span.attributes, span.resource):
            value = source.get(key)
            if isinstance(value, str) and value:
                return value
    return None


class _Contribution:
    """What one trace added, kept so that the trace can be replaced exactly."""

    __slots__ = ("dropped_links", "events", "links", "locations", "roots", "targets")

    def __init__(self) -> None:
        self.events: list[tuple[dict[Any, list[int]], Any, int, int]] = []
        self.roots: list[NodeKey] = []
        self.locations: list[tuple[NodeKey, str]] = []
        self.links: bool = False
        self.targets: list[tuple[str, str]] = []
        self.dropped_links = 0


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
        self._links: dict[str, list[tuple[NodeKey, str, str, int, int, int]]] = {}
        self._link_entries = 0
        # (trace id, span id) of a producer span -> (node its work goes to, producer end ns)
        self._targets: dict[tuple[str, str], tuple[NodeKey, int]] = {}
        self._accounts: dict[NodeKey, str] = {}
        self.dropped_links = 0
        self._contributions: OrderedDict[str, _Contribution] = OrderedDict()
        self._retained_events = 0
        # Resources are shared by the spans of a process: what they say is computed once per dict.
        self._resource_cache: dict[int, tuple[Any, str, str | None, str | None, str | None]] = {}
        self._remote_cache: dict[tuple[str, str], tuple[NodeKey, bool]] = {}
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
            record = _Contribution() if retain is None or retain > 0 else None
            self._walk(trace, record)
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

    def _subtract(self, trace_id: str, old: _Contribution) -> None:
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

    def _walk(self, trace: Trace, record: _Contribution | None) -> None:
        """Aggregate one trace into the counter rows: the hot loop, one pass over the spans."""
        spans = trace.spans
        if not spans:
            return
        nodes = self._nodes
        edges = self._edges
        kinds = self._kinds
        locations = self._locations
        roots = self._roots
        children = trace.children
        slots = STATUS_SLOT
        fine = FINE_BOUNDS_NS
        first = FIRST_BUCKET
        server, producer, client, consumer = Kind.SERVER, Kind.PRODUCER, Kind.CLIENT, Kind.CONSUMER
        events = record.events if record is not None else None
        tid = trace.trace_id
        edge_done: set[int] = set()
        remote_cache = self._remote_cache
        resource_cache = self._resource_cache
        if len(resource_cache) > _CACHE_LIMIT:
            resource_cache.clear()
        if len(remote_cache) > _CACHE_LIMIT:
            remote_cache.clear()
        accounts = self._accounts
        targets = self._targets
        max_targets = self.retain_links
        # spans (indices) of this trace that send messages: their children in other services are consumers
        senders: set[int] = set()
        # (consumer node, linked trace id, linked span id) -> one received message (see ``receive``)
        received: dict[tuple[NodeKey, str, str], tuple[NodeKey, str, str, int, int, int, bool]] = {}
        dropped = 0

        def add(table: dict[Any, list[int]], key: Any, slot: int, duration: int, start_ns: int) -> None:
            """Count one request (slot -1: an in-progress span, structure only) into a row."""
            row = table.get(key)
            if row is None:
                row = table[key] = new_counts()
            row[REFS] += 1
            if slot >= 0:
                row[slot] += 1
                row[TOTAL_NS] += duration
                row[first + bisect_left(fine, duration)] += 1
                if duration < row[MIN_NS]:
                    row[MIN_NS] = duration
                if duration > row[MAX_NS]:
                    row[MAX_NS] = duration
                if start_ns < row[START_NS]:
                    row[START_NS] = start_ns
                if start_ns + duration > row[END_NS]:
                    row[END_NS] = start_ns + duration
            if events is not None:
                events.append((table, key, slot, duration))

        def receive(owner: NodeKey, link_tid: str, link_sid: str, span: Span, slot: int, duration: int) -> None:
            """One message received by ``owner`` from the producer span (link_tid, link_sid); a node counts a
            message once per trace, with the status of its consumer span when one was recorded."""
            key = (owner, link_tid, link_sid)
            consumer = span.kind is Kind.CONSUMER
            held = received.get(key)
            if held is None or (consumer and not held[6]):
                received[key] = (owner, link_tid, link_sid, span.start_ns, slot, duration, consumer)

        def placement(span: Span) -> tuple[str, str | None, str | None]:
            """(origin, location, account) of a segment span; resource facts are computed once per resource."""
            resource = span.resource
            cached = resource_cache.get(id(resource))
            if cached is None or cached[0] is not resource:  # the entry holds the dict: ids are not reused
                cached = resource_cache[id(resource)] = (resource, *_resource_facts(resource))
            facts = cached[1:]
            origin = span.origin or facts[0]
            attributes = span.attributes
            if not attributes:
                return origin, facts[1] or facts[2], facts[3]
            explicit = attributes.get(ORIGIN)
            if not span.origin and isinstance(explicit, str) and explicit:
                origin = explicit
            where = attributes.get(LOCATION)
            if not (isinstance(where, str) and where):
                where = facts[1]
                if where is None:
                    region = attributes.get(CLOUD_REGION)
                    where = region if isinstance(region, str) and region else facts[2]
            return origin, where, facts[3]

        def inferred(span: Span) -> tuple[NodeKey, bool]:
            """(inferred downstream node, whether its work may be linked to) of a call without a callee."""
            cache_key = (span.namespace, span.remote_service)
            resolved = remote_cache.get(cache_key)
            if resolved is None:
                namespace, destination = remote_node(span)
                resolved = (destination, namespace == "aws" and destination[0].lower() in _ASYNC_SERVICES)
                if cache_key[0] and cache_key[1]:
                    remote_cache[cache_key] = resolved
            return resolved

        # (span index, parent index or -1, parent's effective service, parent's owning node)
        stack: list[tuple[int, int, str, NodeKey]] = [(r, -1, "", CLIENT_NODE) for r in trace.roots]
        n = 0
        start = end = spans[trace.roots[0]].start_ns if trace.roots else 0
        while stack:
            i, p, parent_service, parent_owner = stack.pop()
            span = spans[i]
            n += 1
            service = span.service or parent_service or UNKNOWN_SERVICE
            kind = span.kind
            is_call = kind is client or kind is producer
            # a segment enters a service: a root, a child of another service, or a server under a call
            segment = p < 0 or service != parent_service or (kind is server and spans[p].kind in _CALL_KINDS)
            # a message consumer: a segment (or a consumer span) under a span that sent the message
            consumes = (p in senders and (segment or kind is consumer)) if senders else False
            if span.in_progress:
                slot, duration = -1, 0
            elif segment or is_call or span.namespace or span.links or consumes:
                slot = slots[span.status]
                duration = span.end_ns - span.start_ns
                if duration < 0:
                    duration = 0
            if segment:
                origin, where, account = placement(span)
                owner = (service, origin)
                if owner not in nodes:
                    kinds.setdefault(owner, KIND_SERVICE)
                add(nodes, owner, slot, duration, span.start_ns)
                if account is not None:
                    accounts[owner] = account
                if where is not None:
                    per_node = locations.get(owner)
                    if per_node is None:
                        per_node = locations[owner] = {}
                    per_node[where] = per_node.get(where, 0) + 1
                    if record is not None:
                        record.locations.append((owner, where))
                if p < 0:
                    if span.start_ns < start:
                        start = span.start_ns
                    if span.end_ns > end:
                        end = span.end_ns
                    roots[owner] = roots.get(owner, 0) + 1
                    if record is not None:
                        record.roots.append(owner)
                    if not span.links:
                        add(edges, (CLIENT_NODE, owner), slot, duration, span.start_ns)
                elif not consumes and i not in edge_done:
                    add(edges, (parent_owner, owner), slot, duration, span.start_ns)
            else:
                owner = parent_owner
            if (consumes or span.links) and slot >= 0:
                if consumes:
                    receive(owner, tid, spans[p].span_id, span, slot, duration)
                if span.links:
                    followed = span.links
                    if len(followed) > MAX_SPAN_LINKS:
                        dropped += len(followed) - MAX_SPAN_LINKS
                        followed = followed[:MAX_SPAN_LINKS]
                    for link in followed:
                        receive(owner, link.trace_id, link.span_id, span, slot, duration)
            kids = children(i)
            if is_call or span.namespace:
                sent = (
                    message_destination(kind, span.attributes, span.remote_service)
                    if kind is producer or span.attributes
                    else None
                )
                callees: list[NodeKey] = []
                if sent is not None:  # a message: producer -> destination node; consumers are linked from it
                    senders.add(i)
                    destination = (sent[0], sent[1] or ORIGIN_REMOTE) if sent[0] else inferred(span)[0]
                    async_target = True
                else:
                    for k in kids:
                        child = spans[k]
                        if (child.service and child.service != service) or (child.kind is server and is_call):
                            edge_done.add(k)
                            callee = (child.service or service, placement(child)[0])
                            if callee not in callees:
                                callees.append(callee)
                if callees:
                    for callee in callees:
                        add(edges, (owner, callee), slot, duration, span.start_ns)
                    destination = callees[0]
                    async_target = kind is producer or span.remote_service.lower() in _ASYNC_SERVICES
                else:
                    if sent is None:
                        resolved = remote_cache.get((span.namespace, span.remote_service))
                        destination, async_target = resolved if resolved is not None else inferred(span)
                        async_target = async_target or kind is producer
                    if destination not in nodes:
                        kinds.setdefault(destination, KIND_INFERRED)
                    add(nodes, destination, slot, duration, span.start_ns)
                    add(edges, (owner, destination), slot, duration, span.start_ns)
                if async_target:
                    target = (tid, span.span_id)
                    targets[target] = (destination, span.end_ns)
                    if max_targets is not None and len(targets) > max_targets:
                        del targets[next(iter(targets))]
                    if record is not None:
                        record.targets.append(target)
            if kids:
                for k in kids:
                    stack.append((k, i, service, owner))
        if received:
            self._links[tid] = [entry[:6] for entry in received.values()]
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
            link_rows: dict[EdgeKey, list[int]] = {}
            age_rows: dict[EdgeKey, list[int]] = {}
            unresolved = 0
            targets = self._targets
            for consumer_links in self._links.values():
                for consumer, link_tid, link_sid, consumer_start, slot, duration in consumer_links:
                    found = targets.get((link_tid, link_sid))
                    if found is None:
                        unresolved += 1
                        continue
                    source, produced_end = found
                    if source == consumer:
                        continue
                    key = (source, consumer)
                    row = link_rows.get(key)
                    if row is None:
                        row = link_rows[key] = new_counts()
                        age_rows[key] = new_counts()
                    add_duration(row, slot, duration, start_ns=consumer_start)
                    add_duration(age_rows[key], slot, max(0, consumer_start - produced_end))
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
        return _assemble(node_rows, edge_rows, link_rows, age_rows, kinds, roots, locations, accounts, meta)


def _assemble(
    node_rows: dict[NodeKey, list[int]],
    edge_rows: dict[EdgeKey, list[int]],
    link_rows: dict[EdgeKey, list[int]],
    age_rows: dict[EdgeKey, list[int]],
    kinds: dict[NodeKey, str],
    roots: set[NodeKey],
    locations: dict[NodeKey, dict[str, int]],
    accounts: dict[NodeKey, str],
    meta: dict[str, Any],
) -> nx.DiGraph:
    graph = nx.DiGraph(**meta)

    def add_node(key: NodeKey) -> None:
        if key in graph:
            return
        row = node_rows.get(key)
        where = locations.get(key, {})
        graph.add_node(
            key,
            name=key[0],
            type=key[1],
            kind=KIND_CLIENT if key == CLIENT_NODE else kinds.get(key, KIND_SERVICE),
            root=key in roots,
            stats=Statistics.from_counts(row) if row is not None else Statistics(),
            location=max(sorted(where), key=lambda w: where[w]) if where else None,
            locations=where,
            account=accounts.get(key),
        )

    for key in node_rows:
        add_node(key)
    for (caller, callee), row in edge_rows.items():
        add_node(caller)
        add_node(callee)
        graph.add_edge(
            caller, callee, stats=Statistics.from_counts(row), link_stats=None, event_age=None, asynchronous=False
        )
    for link_key, row in link_rows.items():
        source, consumer = link_key
        add_node(source)
        add_node(consumer)
        link_stats = Statistics.from_counts(row)
        event_age = Statistics.from_counts(age_rows[link_key])
        if graph.has_edge(source, consumer):
            graph.edges[source, consumer].update(link_stats=link_stats, event_age=event_age)
        else:
            graph.add_edge(source, consumer, stats=None, link_stats=link_stats, event_age=event_age, asynchronous=True)
    # Inferred nodes sit where all their callers sit, when the callers agree.
    for node, data in graph.nodes(data=True):
        if data["kind"] != KIND_INFERRED or data["location"] is not None:
            continue
        placed = {graph.nodes[caller]["location"] for caller in graph.predecessors(node)}
        if len(placed) == 1:
            data["location"] = placed.pop()
    return graph


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
