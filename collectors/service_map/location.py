"""Placement of service-map nodes: clusters per region, edge location, Outpost or device.

A node's location is the placement most of its segments report (``spanscope.location`` on the span or
its resource, else ``cloud.region``); an inferred node takes its callers' location when they all agree.
``spanscope.location`` values are ``"us-east-1"`` (a region), ``"edge:IAD89-C1"`` (a CloudFront edge
location), ``"outpost:op-0abc"`` (an Outpost) or ``"device:thing-7"`` (an edge device).

>>> describe_location("edge:IAD89-C1")
('edge', 'edge location IAD89-C1')
>>> describe_location("us-east-1")
('region', 'region us-east-1')
"""

from __future__ import annotations

import networkx as nx
from spanscope.collectors.service_map.build import NodeKey

_PREFIXES = {"edge": "edge location", "outpost": "Outpost", "device": "device", "region": "region"}


def describe_location(location: str) -> tuple[str, str]:
    """(kind, label) of a placement: kind is region, edge, outpost or device."""
    prefix, sep, rest = location.partition(":")
    if sep and prefix in _PREFIXES:
        return prefix, f"{_PREFIXES[prefix]} {rest}"
    return "region", f"region {location}"


def location_clusters(graph: nx.DiGraph, order: list[NodeKey] | None = None) -> dict[str | None, list[NodeKey]]:
    """Nodes per location (``None``: no known placement, e.g. the client node), in ``order``.

    Clusters are sorted by kind (regions, Outposts, edge locations, devices) then name; the unplaced
    group comes first.
    """
    nodes = order if order is not None else list(graph.nodes)
    groups: dict[str | None, list[NodeKey]] = {}
    for key in nodes:
        groups.setdefault(graph.nodes[key].get("location"), []).append(key)
    rank = {"region": 0, "outpost": 1, "edge": 2, "device": 3}

    def sort_key(item: tuple[str | None, list[NodeKey]]) -> tuple[int, int, str]:
        where = item[0]
        if where is None:
            return (0, 0, "")
        return (1, rank[describe_location(where)[0]], where)

    return dict(sorted(groups.items(), key=sort_key))
