"""The NetworkX view of a service map's counter rows: link joins resolved into asynchronous edges, nodes and
edges with their ``Statistics``, inferred nodes placed with their callers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import networkx as nx
from spanscope.collectors.service_map.nodes import (
    CLIENT_NODE,
    KIND_CLIENT,
    KIND_INFERRED,
    KIND_SERVICE,
    EdgeKey,
    NodeKey,
)
from spanscope.collectors.service_map.stats import Statistics, add_duration, new_counts

#: (consumer node, linked trace id, linked span id, consumer start ns, status slot, duration ns)
LinkRow = tuple[NodeKey, str, str, int, int, int]


def resolve_links(
    links: Iterable[list[LinkRow]], targets: dict[tuple[str, str], tuple[NodeKey, int]]
) -> tuple[dict[EdgeKey, list[int]], dict[EdgeKey, list[int]], int]:
    """(link rows, event-age rows, unresolved links): each received message on the edge producer's node → consumer.

    A link that resolves to the consumer's own node (a call both parented and linked) adds nothing.
    """
    link_rows: dict[EdgeKey, list[int]] = {}
    age_rows: dict[EdgeKey, list[int]] = {}
    unresolved = 0
    for consumer_links in links:
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
    return link_rows, age_rows, unresolved


def assemble(
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
    """The graph of the rows (see ``ServiceMapAccumulator.graph`` for the attributes); ``meta`` are graph attributes."""
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
