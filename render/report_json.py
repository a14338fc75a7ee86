"""Renders a post-mortem Report as the JSON of ``spanscope analyze --format json`` (times in seconds)."""

from __future__ import annotations

from typing import Any

from spanscope.analysis.placement import PlacementSplit
from spanscope.analysis.report import Report

NS = 1e9


def _op(service: str, operation: str) -> dict[str, str]:
    return {"service": service, "operation": operation}


def report_to_json(report: Report) -> dict[str, Any]:
    """The report as plain JSON values: hotspots, failure_chains, stragglers and cold_starts, each ranked
    most important first, plus the window, the baseline comparison and the service map summary."""
    out: dict[str, Any] = {
        "traces": report.traces,
        "spans": report.spans,
        "failed_traces": report.failed_traces,
        "start": report.start_ns / NS if report.start_ns else None,
        "end": report.end_ns / NS if report.end_ns else None,
        "hotspots": [
            {
                **_op(h.service, h.operation),
                "critical_path_s": h.critical_path_ns / NS,
                "self_s": h.self_ns / NS,
                "count": h.count,
                "p50_s": h.p50_ns / NS,
                "p95_s": h.p95_ns / NS,
                "p99_s": h.p99_ns / NS,
            }
            for h in report.hotspots
        ],
        "failure_chains": [
            {
                "origin": _op(*c.origin),
                "path": [{**_op(h.service, h.operation), "via": h.via or None} for h in c.path],
                "stopped_by": _op(*c.stopped_by) if c.stopped_by else None,
                "count": c.count,
                "trace_ids": list(c.trace_ids),
            }
            for c in report.failure_chains
        ],
        "stragglers": [
            {
                "trace_id": s.trace_id,
                "span_id": s.span_id,
                "parent": _op(s.parent_service, s.parent_operation),
                **_op(s.service, s.operation),
                "label": s.label or None,
                "measure": s.measure,
                "value_s": s.value_ns / NS,
                "median_s": s.median_ns / NS,
                "mad_s": s.mad_ns / NS,
                "excess_s": s.excess_ns / NS,
                "score": s.score if s.score != float("inf") else None,
                "siblings": s.siblings,
                "lost_s": s.lost_ns / NS,
                "input_ratio": s.input_ratio,
                "explained_by_input": s.explained_by_input,
            }
            for s in report.stragglers
        ],
        "cold_starts": [
            {
                "function": c.function,
                "invocations": c.invocations,
                "cold_count": c.cold,
                "cold_start_rate": c.cold_rate,
                "cold_p50_s": c.cold_p50_ns / NS,
                "cold_p95_s": c.cold_p95_ns / NS,
                "warm_p50_s": c.warm_p50_ns / NS,
                "warm_p95_s": c.warm_p95_ns / NS,
                "init_s": c.init_ns / NS,
                "init_share": c.init_share,
                "penalty_s": c.penalty_ns / NS,
            }
            for c in report.cold_starts
        ],
        "workflows": [
            {
                **_op(w.service, w.operation),
                "count": w.count,
                "hops": w.hops,
                "p50_s": w.p50_ns / NS,
                "p95_s": w.p95_ns / NS,
                "p99_s": w.p99_ns / NS,
                "queue_wait_share": w.queue_wait_share,
                "cold_start_share": w.cold_start_share,
                "compute_share": w.compute_share,
                "other_wait_share": w.other_wait_share,
            }
            for w in report.workflows
        ],
        "stalling_ranks": [
            {
                "trace_id": r.trace_id,
                "service": r.service,
                "rank": r.rank,
                "steps_stalled": r.steps_stalled,
                "steps": r.steps,
                "wait_caused_s": r.wait_caused_ns / NS,
                "compute_s": r.compute_ns / NS,
                "median_step_compute_s": r.median_compute_ns / NS,
                "host": r.host or None,
                "placement_group": r.placement_group or None,
                "efa": r.efa,
            }
            for r in report.stalling_ranks
        ],
        "skew_adjusted_traces": report.skew_adjusted_traces,
        "baseline": None,
        "service_map": None,
        "notes": list(report.notes),
    }
    if report.baseline is not None:
        b = report.baseline
        out["baseline"] = {
            "traces": report.baseline_traces,
            "slow_threshold_s": b.slow_threshold_ns / NS,
            "slow_traces": b.slow_traces,
            "growth": [
                {
                    **_op(g.service, g.operation),
                    "critical_path_per_trace_s": g.critical_path_per_trace_ns / NS,
                    "baseline_per_trace_s": g.baseline_per_trace_ns / NS,
                    "growth_s": g.growth_ns / NS,
                }
                for g in b.growth
            ],
            "attributes": [
                {"key": a.key, "value": a.value, "slow_share": a.slow_share, "baseline_share": a.baseline_share}
                for a in b.attributes
            ],
        }
    if report.service_map is not None:
        out["service_map"] = {
            "nodes": [
                {
                    "name": n.name,
                    "type": n.type,
                    "kind": n.kind,
                    "root": n.root,
                    "requests": n.requests,
                    "ok": n.ok,
                    "errors": n.errors,
                    "throttles": n.throttles,
                    "faults": n.faults,
                    "total_response_time_s": n.total_response_time_s,
                }
                for n in report.service_map.nodes
            ],
            "edges": [
                {
                    "source": e.source,
                    "target": e.target,
                    "requests": e.requests,
                    "faults": e.faults,
                    "asynchronous": e.asynchronous,
                }
                for e in report.service_map.edges
            ],
        }
    if report.placement is not None:
        out["placement"] = _placement_json(report.placement)
    return out


def _placement_json(split: PlacementSplit) -> dict[str, Any]:
    """The edge-vs-region split (``analysis.placement``): critical-path seconds per scope and placement."""
    return {
        "region_s": split.region_ns / NS,
        "edge_s": split.edge_ns / NS,
        "crossing_s": split.crossing_ns / NS,
        "unplaced_s": split.unplaced_ns / NS,
        "traces": split.traces,
        "edge_traces": split.edge_traces,
        "locations": [{"location": w, "scope": scope, "critical_path_s": ns / NS} for w, scope, ns in split.locations],
        "crossings": [
            {
                "from": c.source,
                "to": c.target,
                "count": c.count,
                "total_s": c.total_ns / NS,
                "p50_s": c.p50_ns / NS,
                "p95_s": c.p95_ns / NS,
            }
            for c in split.crossings
        ],
    }
