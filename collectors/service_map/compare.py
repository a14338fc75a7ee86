"""Compares a service map with a baseline window: what appeared, disappeared, or changed significantly.

Rules (all thresholds are keyword options of ``compare_maps``):

- **Appeared / disappeared**: a node or edge present in one window only. Ranked by the requests it
  carries in the window where it exists.
- **Failure rate** (errors, throttles and faults over requests, X-Ray's Error + Fault counts): a
  two-proportion z-test with pooled variance,
  ``z = (p1 - p0) / sqrt(p (1 - p) (1/n1 + 1/n0))``. The change is reported when
  ``|z| >= z_threshold`` (3.0 by default: two-sided p < 0.0027), the rate moved by at least
  ``min_rate_delta`` (1 percentage point) *and* by a factor of at least ``rate_ratio`` (1.5×, either
  way; from 0 counts as infinite), with ``min_requests`` (20) requests in each window.
- **p95 latency**: the change is reported when the p95 moved by a factor of at least
  ``latency_ratio`` (1.25×, either way; far beyond the 4.4 % bucket resolution) and an exceedance test
  agrees: under "same distribution" a share q0 of the current window's requests would exceed the
  baseline's p95 (q0 is the baseline's own share above that bound, about 5 %); the one-proportion
  z-test ``z = (k/n - q0) / sqrt(q0 (1 - q0) / n)`` on the k of n current requests above it must give
  ``|z| >= z_threshold``. A fall is tested the same way with the windows swapped (z is then
  negative). Needs ``min_requests`` requests in each window.

Ranking: structural changes first (by traffic), then significant metric changes by ``|z|``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import networkx as nx
from spanscope.collectors.service_map.build import CLIENT_NODE, EdgeKey, NodeKey
from spanscope.collectors.service_map.stats import Statistics

NODE_APPEARED = "node_appeared"
NODE_DISAPPEARED = "node_disappeared"
EDGE_APPEARED = "edge_appeared"
EDGE_DISAPPEARED = "edge_disappeared"
FAILURE_RATE = "failure_rate"
P95 = "p95"


@dataclass(frozen=True, slots=True)
class MapChange:
    """One difference between the baseline and the current map."""

    change: str
    node: NodeKey | None = None
    edge: EdgeKey | None = None
    baseline: float | None = None
    current: float | None = None
    baseline_requests: int = 0
    current_requests: int = 0
    z: float | None = None
    ratio: float | None = None

    @property
    def structural(self) -> bool:
        return self.change in (NODE_APPEARED, NODE_DISAPPEARED, EDGE_APPEARED, EDGE_DISAPPEARED)

    @property
    def subject(self) -> str:
        """``name`` of a node, or ``caller -> callee`` of an edge (unsanitised: clean before printing)."""
        if self.node is not None:
            return self.node[0]
        assert self.edge is not None
        return f"{self.edge[0][0]} -> {self.edge[1][0]}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"change": self.change}
        if self.node is not None:
            out["node"] = {"name": self.node[0], "type": self.node[1]}
        if self.edge is not None:
            out["edge"] = {
                "from": {"name": self.edge[0][0], "type": self.edge[0][1]},
                "to": {"name": self.edge[1][0], "type": self.edge[1][1]},
            }
        out.update(
            baseline=self.baseline,
            current=self.current,
            baseline_requests=self.baseline_requests,
            current_requests=self.current_requests,
            z=None if self.z is None else round(self.z, 3),
            ratio=None if self.ratio is None or math.isinf(self.ratio) else round(self.ratio, 3),
        )
        return out


def two_proportion_z(k1: int, n1: int, k0: int, n0: int) -> float:
    """Pooled two-proportion z statistic of k1/n1 against k0/n0 (0 when undefined).

    >>> round(two_proportion_z(30, 100, 10, 100), 2)
    3.54
    """
    if n1 <= 0 or n0 <= 0:
        return 0.0
    pooled = (k1 + k0) / (n1 + n0)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n0)
    if variance <= 0:
        return 0.0
    return (k1 / n1 - k0 / n0) / math.sqrt(variance)


def _ratio(current: float, baseline: float) -> float:
    if baseline == 0:
        return math.inf if current > 0 else 1.0
    return current / baseline


def _edge_stats(data: dict[str, Any]) -> Statistics:
    stats: Statistics | None = data["stats"]
    if stats is None:
        stats = data["link_stats"]
    assert stats is not None
    return stats


def compare_maps(
    current: nx.DiGraph,
    baseline: nx.DiGraph,
    *,
    z_threshold: float = 3.0,
    rate_ratio: float = 1.5,
    min_rate_delta: float = 0.01,
    latency_ratio: float = 1.25,
    min_requests: int = 20,
) -> list[MapChange]:
    """Ranked differences of ``current`` against ``baseline`` (see the module docstring)."""
    structural: list[tuple[int, MapChange]] = []
    metric: list[MapChange] = []

    for key in current.nodes:
        if key not in baseline and key != CLIENT_NODE:
            n = current.nodes[key]["stats"].total_count
            structural.append((n, MapChange(NODE_APPEARED, node=key, current_requests=n)))
    for key in baseline.nodes:
        if key not in current and key != CLIENT_NODE:
            n = baseline.nodes[key]["stats"].total_count
            structural.append((n, MapChange(NODE_DISAPPEARED, node=key, baseline_requests=n)))
    for edge in current.edges:
        if not baseline.has_edge(*edge):
            n = _edge_stats(current.edges[edge]).total_count
            structural.append((n, MapChange(EDGE_APPEARED, edge=edge, current_requests=n)))
    for edge in baseline.edges:
        if not current.has_edge(*edge):
            n = _edge_stats(baseline.edges[edge]).total_count
            structural.append((n, MapChange(EDGE_DISAPPEARED, edge=edge, baseline_requests=n)))

    options = (z_threshold, rate_ratio, min_rate_delta, latency_ratio, min_requests)
    for key in current.nodes:
        if key in baseline and key != CLIENT_NODE:
            metric.extend(_metric_changes(current.nodes[key]["stats"], baseline.nodes[key]["stats"], options, node=key))
    for edge in current.edges:
        if baseline.has_edge(*edge):
            metric.extend(
                _metric_changes(_edge_stats(current.edges[edge]), _edge_stats(baseline.edges[edge]), options, edge=edge)
            )

    structural.sort(key=lambda item: (-item[0], item[1].change, item[1].subject))
    metric.sort(key=lambda c: (-abs(c.z or 0.0), c.change, c.subject))
    return [change for _, change in structural] + metric


def _exceedance_z(sample: Statistics, n: int, reference: Statistics, n_ref: int) -> float:
    """One-proportion z of ``sample``'s share above ``reference``'s p95 against ``reference``'s own share."""
    assert reference.p95_s is not None
    q0 = reference.count_above(reference.p95_s) / n_ref
    q0 = min(max(q0, 1 / (2 * n_ref)), 1 - 1 / (2 * n_ref))  # keep the variance positive
    k = sample.count_above(reference.p95_s)
    return (k / n - q0) / math.sqrt(q0 * (1 - q0) / n)


def _metric_changes(
    cur: Statistics,
    base: Statistics,
    options: tuple[float, float, float, float, int],
    *,
    node: NodeKey | None = None,
    edge: EdgeKey | None = None,
) -> list[MapChange]:
    z_threshold, rate_ratio, min_rate_delta, latency_ratio, min_requests = options
    n1, n0 = cur.total_count, base.total_count
    if n1 < min_requests or n0 < min_requests:
        return []
    out: list[MapChange] = []
    k1, k0 = cur.failed_count, base.failed_count
    p1, p0 = k1 / n1, k0 / n0
    z = two_proportion_z(k1, n1, k0, n0)
    ratio = _ratio(p1, p0)
    if abs(z) >= z_threshold and abs(p1 - p0) >= min_rate_delta and (ratio >= rate_ratio or ratio <= 1 / rate_ratio):
        out.append(
            MapChange(FAILURE_RATE, node=node, edge=edge, baseline=p0, current=p1, baseline_requests=n0,
                      current_requests=n1, z=z, ratio=ratio)
        )  # fmt: skip
    if cur.p95_s is not None and base.p95_s is not None:
        ratio = _ratio(cur.p95_s, base.p95_s)
        if ratio >= latency_ratio or ratio <= 1 / latency_ratio:
            # A rise: do more current requests exceed the baseline's p95 than the baseline's own share?
            # A fall: the same test with the windows swapped, and the sign turned so that z < 0.
            z = _exceedance_z(cur, n1, base, n0) if ratio > 1 else -_exceedance_z(base, n0, cur, n1)
            if abs(z) >= z_threshold:
                out.append(
                    MapChange(P95, node=node, edge=edge, baseline=base.p95_s, current=cur.p95_s,
                              baseline_requests=n0, current_requests=n1, z=z, ratio=ratio)
                )  # fmt: skip
    return out
