"""One trace into a service map's counter rows: the walk (iterative, one pass) and the small rules it applies per span.

What the rules mean is X-Ray's trace map (see ``build``'s docstring). Per span, in this order:

- ``segment``: a span entering a service counts into the service node (``placement``: its type, location
  and account); at a trace root it is an ``entry`` (the client edge), else the caller → callee edge when no
  call span counted it already.
- ``receive``: a consumer (a segment or consumer span parented to a send) or a span with links: one message
  received by its node per producer span.
- a call (client or producer span, or one with a namespace) is a ``message`` when it sends one (producer →
  destination node; its children are the consumers), else ``downstream``: edges to its ``callees`` (child
  segments in another service), or an ``inferred`` node. Either may be a ``link_target``.
- ``count``: one request into a node's or an edge's counter row (the edge statistics; ``stats``).

The walk keeps a stack of (span, parent, parent's service, parent's node), never recursion over spans.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import Any

from spanscope.collectors.conventions import CLOUD_REGION, LOCATION, ORIGIN, ORIGIN_REMOTE, message_destination
from spanscope.collectors.model import Kind, Span, Trace
from spanscope.collectors.service_map.nodes import (
    ASYNC_SERVICES,
    CLIENT_NODE,
    KIND_INFERRED,
    KIND_SERVICE,
    UNKNOWN_SERVICE,
    NodeKey,
    remote_node,
    resource_facts,
)
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
    new_counts,
)

#: Links of one span that the map follows; the rest are counted in ``graph.graph["dropped_links"]``.
MAX_SPAN_LINKS = 1000
_CALL_KINDS = (Kind.CLIENT, Kind.PRODUCER)
_CACHE_LIMIT = 4096

#: (consumer node, linked trace id, linked span id, consumer start ns, status slot, duration ns, by a consumer span)
Received = tuple[NodeKey, str, str, int, int, int, bool]


class Contribution:
    """What one trace added, kept so that the trace can be replaced exactly."""

    __slots__ = ("dropped_links", "events", "links", "locations", "roots", "targets")

    def __init__(self) -> None:
        self.events: list[tuple[dict[Any, list[int]], Any, int, int]] = []
        self.roots: list[NodeKey] = []
        self.locations: list[tuple[NodeKey, str]] = []
        self.links: bool = False
        self.targets: list[tuple[str, str]] = []
        self.dropped_links = 0


class TraceWalker:
    """The rules over one accumulator's tables; ``walk`` applies them to a trace (see the module docstring)."""

    __slots__ = (
        "accounts",
        "bare_sends",
        "dropped",
        "edge_done",
        "edges",
        "events",
        "kinds",
        "locations",
        "max_targets",
        "nodes",
        "received",
        "record",
        "remote_cache",
        "resource_cache",
        "roots",
        "senders",
        "spans",
        "targets",
        "tid",
    )

    def __init__(
        self,
        nodes: dict[NodeKey, list[int]],
        edges: dict[Any, list[int]],
        kinds: dict[NodeKey, str],
        roots: dict[NodeKey, int],
        locations: dict[NodeKey, dict[str, int]],
        accounts: dict[NodeKey, str],
        targets: dict[tuple[str, str], tuple[NodeKey, int]],
    ) -> None:
        self.nodes, self.edges, self.kinds, self.roots = nodes, edges, kinds, roots
        self.locations, self.accounts, self.targets = locations, accounts, targets
        # Resources are shared by the spans of a process: what they say is computed once per dict.
        self.resource_cache: dict[int, tuple[Any, str, str | None, str | None, str | None]] = {}
        self.remote_cache: dict[tuple[str, str], tuple[NodeKey, bool]] = {}
        self.bare_sends: dict[str, tuple[str, str] | None] = {}  # remote service -> destination of a bare send
        self.spans: Sequence[Span] = ()
        self.tid = ""
        self.record: Contribution | None = None
        self.events: list[tuple[dict[Any, list[int]], Any, int, int]] | None = None
        self.max_targets: int | None = None
        # spans (indices) of this trace that send messages: their children in other services are consumers
        self.senders: set[int] = set()
        # (consumer node, linked trace id, linked span id) -> one received message (see ``receive``)
        self.received: dict[tuple[NodeKey, str, str], Received] = {}
        self.edge_done: set[int] = set()  # child segments whose edge a call span counted
        self.dropped = 0

    # --- the walk -------------------------------------------------------------------------------
    def walk(self, trace: Trace, record: Contribution | None, max_targets: int | None) -> tuple[int, int, int]:
        """Apply the rules to every span of ``trace``; returns (spans walked, trace start ns, trace end ns).

        What the trace received stays in ``received`` and the links not followed in ``dropped`` until the next walk.
        """
        spans = self.spans = trace.spans
        self.tid = trace.trace_id
        self.record = record
        self.events = record.events if record is not None else None
        self.max_targets = max_targets
        senders = self.senders = set()
        self.received = {}
        self.edge_done = set()
        self.dropped = 0
        if len(self.resource_cache) > _CACHE_LIMIT:
            self.resource_cache.clear()
        if len(self.remote_cache) > _CACHE_LIMIT:
            self.remote_cache.clear()
        if len(self.bare_sends) > _CACHE_LIMIT:
            self.bare_sends.clear()
        segment_rule, receive_rule, message_rule, downstream_rule = (
            self.segment,
            self.receive,
            self.message,
            self.downstream,
        )
        children = trace.children
        bare_sends = self.bare_sends
        slots, fine, first = STATUS_SLOT, FINE_BOUNDS_NS, FIRST_BUCKET
        server, producer, client, consumer = Kind.SERVER, Kind.PRODUCER, Kind.CLIENT, Kind.CONSUMER
        stack: list[tuple[int, int, str, NodeKey]] = [(r, -1, "", CLIENT_NODE) for r in trace.roots]
        n = 0
        start = end = spans[trace.roots[0]].start_ns if trace.roots else 0
        slot = duration = bucket = 0
        while stack:
            i, p, parent_service, parent_owner = stack.pop()
            span = spans[i]
            n += 1
            service = span.service or parent_service or UNKNOWN_SERVICE
            kind = span.kind
            links = span.links
            is_call = kind is client or kind is producer
            # a segment enters a service: a root, a child of another service, or a server under a call
            segment = p < 0 or service != parent_service or (kind is server and spans[p].kind in _CALL_KINDS)
            # a message consumer: a segment (or a consumer span) under a span that sent the message
            consumes = (p in senders and (segment or kind is consumer)) if senders else False
            if span.in_progress:
                slot, duration = -1, 0
            elif segment or is_call or links or consumes or span.namespace:
                slot = slots[span.status]
                duration = span.end_ns - span.start_ns
                if duration < 0:
                    duration = 0
                bucket = first + bisect_left(fine, duration)
            if segment:
                if p < 0:
                    if span.start_ns < start:
                        start = span.start_ns
                    if span.end_ns > end:
                        end = span.end_ns
                owner = segment_rule(span, i, p < 0, service, parent_owner, consumes, slot, duration, bucket)
            else:
                owner = parent_owner
            if (consumes or links) and slot >= 0:
                receive_rule(span, spans[p].span_id if consumes else None, owner, slot, duration)
            kids = children(i)
            if is_call or span.namespace:
                if span.attributes:
                    sent = message_destination(kind, span.attributes, span.remote_service)
                elif kind is producer:  # a bare producer span: named by its remote service alone
                    sent = bare_sends.get(span.remote_service)
                    if sent is None:
                        sent = bare_sends[span.remote_service] = message_destination(kind, {}, span.remote_service)
                else:
                    sent = None
                if sent is not None:
                    senders.add(i)
                    message_rule(span, owner, sent, slot, duration, bucket)
                else:
                    downstream_rule(span, service, owner, kids, is_call, slot, duration, bucket)
            if kids:
                for k in kids:
                    stack.append((k, i, service, owner))
        return n, start, end

    # --- the rules ------------------------------------------------------------------------------
    def count(self, table: dict[Any, list[int]], key: Any, slot: int, duration: int, bucket: int, start: int) -> bool:
        """One request into the row of ``key`` (slot -1: in progress, structure only); True when the row is new."""
        row = table.get(key)
        created = row is None
        if row is None:
            row = table[key] = new_counts()
        row[REFS] += 1
        if slot >= 0:
            row[slot] += 1
            row[TOTAL_NS] += duration
            row[bucket] += 1
            if duration < row[MIN_NS]:
                row[MIN_NS] = duration
            if duration > row[MAX_NS]:
                row[MAX_NS] = duration
            if start < row[START_NS]:
                row[START_NS] = start
            end = start + duration
            if end > row[END_NS]:
                row[END_NS] = end
        events = self.events
        if events is not None:
            events.append((table, key, slot, duration))
        return created

    def placement(self, span: Span) -> tuple[str, str | None, str | None]:
        """(origin, location, account) of a segment span; resource facts are computed once per resource."""
        resource = span.resource
        cached = self.resource_cache.get(id(resource))
        if cached is None or cached[0] is not resource:  # the entry holds the dict: ids are not reused
            cached = self.resource_cache[id(resource)] = (resource, *resource_facts(resource))
        origin = span.origin or cached[1]
        attributes = span.attributes
        if not attributes:
            return origin, cached[2] or cached[3], cached[4]
        explicit = attributes.get(ORIGIN)
        if not span.origin and isinstance(explicit, str) and explicit:
            origin = explicit
        where = attributes.get(LOCATION)
        if not (isinstance(where, str) and where):
            where = cached[2]
            if where is None:
                region = attributes.get(CLOUD_REGION)
                where = region if isinstance(region, str) and region else cached[3]
        return origin, where, cached[4]

    def segment(
        self,
        span: Span,
        i: int,
        root: bool,
        service: str,
        parent_owner: NodeKey,
        consumes: bool,
        slot: int,
        duration: int,
        bucket: int,
    ) -> NodeKey:
        """A span entering ``service``: its node, placement, account and the edge that leads to it; returns the node."""
        origin, where, account = self.placement(span)
        owner = (service, origin)
        if self.count(self.nodes, owner, slot, duration, bucket, span.start_ns):
            self.kinds.setdefault(owner, KIND_SERVICE)
        if account is not None:
            self.accounts[owner] = account
        if where is not None:
            self.place(owner, where)
        if root:
            self.entry(span, owner, slot, duration, bucket)
        elif not consumes and i not in self.edge_done:
            self.count(self.edges, (parent_owner, owner), slot, duration, bucket, span.start_ns)
        return owner

    def place(self, owner: NodeKey, where: str) -> None:
        """One segment of ``owner`` at placement ``where`` (the node's placement group)."""
        per_node = self.locations.get(owner)
        if per_node is None:
            per_node = self.locations[owner] = {}
        per_node[where] = per_node.get(where, 0) + 1
        if self.record is not None:
            self.record.locations.append((owner, where))

    def entry(self, span: Span, owner: NodeKey, slot: int, duration: int, bucket: int) -> None:
        """A trace root: ``owner`` serves a root; the client edge unless the root links to its producer."""
        self.roots[owner] = self.roots.get(owner, 0) + 1
        if self.record is not None:
            self.record.roots.append(owner)
        if not span.links:
            self.count(self.edges, (CLIENT_NODE, owner), slot, duration, bucket, span.start_ns)

    def receive(self, span: Span, sender_id: str | None, owner: NodeKey, slot: int, duration: int) -> None:
        """Messages received by ``owner``: from the parent send ``sender_id`` (a consumer) and from each link.

        A node counts a message once per producer span per trace, with the status of its consumer span when one
        was recorded; at most ``MAX_SPAN_LINKS`` links of a span are followed (the rest are ``dropped``).
        """
        received = self.received
        by_consumer = span.kind is Kind.CONSUMER
        found: list[tuple[str, str]] = [(self.tid, sender_id)] if sender_id is not None else []
        links = span.links
        if links:
            if len(links) > MAX_SPAN_LINKS:
                self.dropped += len(links) - MAX_SPAN_LINKS
                links = links[:MAX_SPAN_LINKS]
            found += [(link.trace_id, link.span_id) for link in links]
        for link_tid, link_sid in found:
            key = (owner, link_tid, link_sid)
            held = received.get(key)
            if held is None or (by_consumer and not held[6]):
                received[key] = (owner, link_tid, link_sid, span.start_ns, slot, duration, by_consumer)

    def message(self, span: Span, owner: NodeKey, sent: tuple[str, str], slot: int, duration: int, bucket: int) -> None:
        """A send: the edge producer → destination node (named by the destination, else as an inferred node)."""
        destination = (sent[0], sent[1] or ORIGIN_REMOTE) if sent[0] else self.inferred(span)[0]
        self.count_inferred(span, owner, destination, slot, duration, bucket)
        self.link_target(span, destination)

    def downstream(
        self,
        span: Span,
        service: str,
        owner: NodeKey,
        kids: Sequence[int],
        is_call: bool,
        slot: int,
        duration: int,
        bucket: int,
    ) -> None:
        """A call that sends no message: edges to its instrumented callees, else to an inferred node."""
        callees = self.callees(service, kids, is_call) if kids else None
        if callees:
            for callee in callees:
                self.count(self.edges, (owner, callee), slot, duration, bucket, span.start_ns)
            if span.kind is Kind.PRODUCER or span.remote_service.lower() in ASYNC_SERVICES:
                self.link_target(span, callees[0])
            return
        resolved = self.remote_cache.get((span.namespace, span.remote_service))
        destination, async_target = resolved if resolved is not None else self.inferred(span)
        self.count_inferred(span, owner, destination, slot, duration, bucket)
        if async_target or span.kind is Kind.PRODUCER:
            self.link_target(span, destination)

    def callees(self, service: str, kids: Sequence[int], is_call: bool) -> list[NodeKey]:
        """Nodes of the child segments of a call in another service (or servers under a client span), in order."""
        spans = self.spans
        found: list[NodeKey] = []
        for k in kids:
            child = spans[k]
            if (child.service and child.service != service) or (child.kind is Kind.SERVER and is_call):
                self.edge_done.add(k)
                callee = (child.service or service, self.placement(child)[0])
                if callee not in found:
                    found.append(callee)
        return found

    def inferred(self, span: Span) -> tuple[NodeKey, bool]:
        """(inferred downstream node, whether its work may be linked to) of a call without a callee."""
        cache_key = (span.namespace, span.remote_service)
        resolved = self.remote_cache.get(cache_key)
        if resolved is None:
            namespace, destination = remote_node(span)
            resolved = (destination, namespace == "aws" and destination[0].lower() in ASYNC_SERVICES)
            if cache_key[0] and cache_key[1]:
                self.remote_cache[cache_key] = resolved
        return resolved

    def count_inferred(
        self, span: Span, owner: NodeKey, destination: NodeKey, slot: int, duration: int, bucket: int
    ) -> None:
        """A call into an inferred node: the node's statistics are the calls' own, and so are the edge's."""
        if self.count(self.nodes, destination, slot, duration, bucket, span.start_ns):
            self.kinds.setdefault(destination, KIND_INFERRED)
        self.count(self.edges, (owner, destination), slot, duration, bucket, span.start_ns)

    def link_target(self, span: Span, destination: NodeKey) -> None:
        """A producer span that links may point at: remembered with the node its work goes to (oldest forgotten)."""
        target = (self.tid, span.span_id)
        targets = self.targets
        targets[target] = (destination, span.end_ns)
        if self.max_targets is not None and len(targets) > self.max_targets:
            del targets[next(iter(targets))]
        if self.record is not None:
            self.record.targets.append(target)
