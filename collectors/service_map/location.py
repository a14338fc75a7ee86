"""The placement model: where a node runs (region, Local Zone, Wavelength zone, Outpost, Snowball device,
CloudFront edge location, device), and the clusters the map draws per placement.

A node's location is the placement most of its segments report (``spanscope.location`` on the span or
its resource, else ``cloud.region``); an inferred node takes its callers' location when they all agree.
``spanscope.location`` values (written by ``spanscope.tracer.placement`` from what each platform tells) are
``"us-east-1"`` (a region; its availability zone is ``cloud.availability_zone``), ``"localzone:<zone>"``,
``"wavelength:<zone>"``, ``"outpost:<id>"``, ``"snowball:<id>"``, ``"edge:<pop>"`` (a CloudFront edge
location) or ``"device:<id>"`` (a Greengrass core or another device). Every kind but ``region`` is at
the *edge* (``placement_scope``): the latency split in ``analyze`` compares the two.

>>> describe_location("edge:IAD89-C1")
('edge', 'edge location IAD89-C1')
>>> describe_location("wavelength:us-east-1-wl1-bos-wlz-1")
('wavelength', 'Wavelength zone us-east-1-wl1-bos-wlz-1')
>>> describe_location("us-east-1"), placement_scope("snowball:JID-1"), placement_scope("us-east-1")
(('region', 'region us-east-1'), 'edge', 'region')
"""

from __future__ import annotations

import networkx as nx
from spanscope.collectors.service_map.build import NodeKey

_PREFIXES = {
    "region": "region",
    "localzone": "Local Zone",
    "wavelength": "Wavelength zone",
    "outpost": "Outpost",
    "snowball": "Snowball device",
    "edge": "edge location",
    "device": "device",
}
#: Placement kinds in the order the map draws their clusters.
PLACEMENT_KINDS: tuple[str, ...] = tuple(_PREFIXES)


def describe_location(location: str) -> tuple[str, str]:
    """(kind, label) of a placement: kind is one of ``PLACEMENT_KINDS``."""
    prefix, sep, rest = location.partition(":")
    if sep and prefix in _PREFIXES:
        return prefix, f"{_PREFIXES[prefix]} {rest}"
    return "region", f"region {location}"


def placement_scope(location: str | None) -> str | None:
    """``"region"`` for a region, ``"edge"`` for every other placement, None when unknown."""
    if location is None:
        return None
    return "region" if describe_location(location)[0] == "region" else "edge"


def location_clusters(graph: nx.DiGraph, order: list[NodeKey] | None = None) -> dict[str | None, list[NodeKey]]:
    """Nodes per location (``None``: no known placement, e.g. the client node), in ``order``.

    Clusters are sorted by kind (``PLACEMENT_KINDS``: regions, Local Zones, Wavelength zones, Outposts,
    Snowball devices, edge locations, devices) then name; the unplaced group comes first.
    """
    nodes = order if order is not None else list(graph.nodes)
    groups: dict[str | None, list[NodeKey]] = {}
    for key in nodes:
        groups.setdefault(graph.nodes[key].get("location"), []).append(key)
    rank = {kind: i for i, kind in enumerate(PLACEMENT_KINDS)}

    def sort_key(item: tuple[str | None, list[NodeKey]]) -> tuple[int, int, str]:
        where = item[0]
        if where is None:
            return (0, 0, "")
        return (1, rank[describe_location(where)[0]], where)

    return dict(sorted(groups.items(), key=sort_key))
