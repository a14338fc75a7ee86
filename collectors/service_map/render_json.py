"""The service map as JSON in the shape of X-Ray's GetServiceGraph response (``map --format json``).

Keys and types follow botocore's model of ``GetServiceGraph`` (``Services`` of ``Service``, each with
``Edges`` of ``Edge``); timestamps are Unix seconds (float), as X-Ray's JSON protocol sends them.
Per service and per edge, ``StartTime``/``EndTime`` are the first start and the last end of the requests
counted (the client node: of its edges); a service's ``State`` is ``"active"`` when it served requests in
the window, else ``"unknown"``; ``AccountId`` is the ``cloud.account.id`` its segments' resource reports
(left out when none does, as are the times of a node without requests). What X-Ray has no key for
(percentiles, placement, node kind) is under one extra key, ``Spanscope``, at the service and edge
level. A service's synchronous and asynchronous traffic to the same node are
two edge entries with the same ``ReferenceId``; the asynchronous one has ``EdgeType: "link"`` and a
``ReceivedEventAgeHistogram`` (and, as X-Ray documents, an empty ``ResponseTimeHistogram``).
"""

from __future__ import annotations

from typing import Any

import networkx as nx
from spanscope.collectors.service_map.build import CLIENT_NODE, NodeKey
from spanscope.collectors.service_map.location import describe_location, placement_scope
from spanscope.collectors.service_map.stats import Statistics


def node_order(graph: nx.DiGraph) -> list[NodeKey]:
    """Nodes in a stable order: the client node first, then by (name, type)."""
    return sorted(graph.nodes, key=lambda key: (key != CLIENT_NODE, key[0], key[1]))


def _extras(stats: Statistics) -> dict[str, Any]:
    return {
        "Percentiles": stats.percentiles_json(),
        "ErrorRate": round(stats.error_rate, 6),
        "FaultRate": round(stats.fault_rate, 6),
    }


def _seconds(ns: int | None) -> float | None:
    return None if ns is None else ns / 1e9


def _window(*stats: Statistics | None) -> dict[str, float]:
    """``StartTime``/``EndTime`` (Unix seconds) spanning the requests counted in ``stats`` (none: no keys)."""
    starts = [s.first_start_ns for s in stats if s is not None and s.first_start_ns is not None]
    ends = [s.last_end_ns for s in stats if s is not None and s.last_end_ns is not None]
    return {"StartTime": min(starts) / 1e9, "EndTime": max(ends) / 1e9} if starts and ends else {}


def _edges_window(graph: nx.DiGraph, key: NodeKey) -> dict[str, float]:
    """The client node's window: that of the requests on its edges."""
    return _window(
        *(graph.edges[key, target][name] for target in graph.successors(key) for name in ("stats", "link_stats"))
    )


def service_graph_json(graph: nx.DiGraph, *, start_ns: int | None = None, end_ns: int | None = None) -> dict[str, Any]:
    """The GetServiceGraph-shaped document of a map; ``start_ns``/``end_ns`` default to the data's span."""
    order = node_order(graph)
    ref = {key: i for i, key in enumerate(order)}
    services: list[dict[str, Any]] = []
    for key in order:
        data = graph.nodes[key]
        stats: Statistics = data["stats"]
        edges: list[dict[str, Any]] = []
        for target in sorted(graph.successors(key), key=lambda k: ref[k]):
            edge = graph.edges[key, target]
            sync: Statistics | None = edge["stats"]
            if sync is not None:
                edges.append(
                    {
                        "ReferenceId": ref[target],
                        **_window(sync),
                        "SummaryStatistics": sync.summary_json(),
                        "ResponseTimeHistogram": sync.histogram_json(),
                        "Aliases": [],
                        "Spanscope": {**_extras(sync), "Asynchronous": False},
                    }
                )
            link: Statistics | None = edge["link_stats"]
            if link is not None:
                age: Statistics = edge["event_age"]
                edges.append(
                    {
                        "ReferenceId": ref[target],
                        **_window(link),
                        "EdgeType": "link",
                        "SummaryStatistics": link.summary_json(),
                        "ResponseTimeHistogram": [],
                        "ReceivedEventAgeHistogram": age.histogram_json(),
                        "Aliases": [],
                        "Spanscope": {
                            **_extras(link),
                            "Asynchronous": True,
                            "EventAgePercentiles": age.percentiles_json(),
                        },
                    }
                )
        entry: dict[str, Any] = {
            "ReferenceId": ref[key],
            "Name": key[0],
            "Names": [key[0]],
            "Type": key[1],
            "Root": bool(data["root"]),
            **(_window(stats) if stats.total_count or key != CLIENT_NODE else _edges_window(graph, key)),
            "State": "active" if stats.total_count or (key == CLIENT_NODE and edges) else "unknown",
            **({"AccountId": data["account"]} if data.get("account") else {}),
            "Edges": edges,
            "SummaryStatistics": stats.summary_json(),
            "ResponseTimeHistogram": stats.histogram_json(),
            "DurationHistogram": stats.histogram_json(),
            "Spanscope": {
                **_extras(stats),
                "Kind": data["kind"],
                "Location": data["location"],
                "Placement": describe_location(data["location"])[0] if data["location"] else None,
                "PlacementScope": placement_scope(data["location"]),
                "Locations": dict(sorted(data["locations"].items())),
            },
        }
        services.append(entry)
    start = start_ns if start_ns is not None else graph.graph.get("start_ns")
    end = end_ns if end_ns is not None else graph.graph.get("end_ns")
    document: dict[str, Any] = {"Services": services, "ContainsOldGroupVersions": False}
    if start is not None:
        document["StartTime"] = _seconds(start)
    if end is not None:
        document["EndTime"] = _seconds(end)
    return document
