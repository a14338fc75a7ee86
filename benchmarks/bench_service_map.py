"""Benchmark: the service map over 1,000,000 spans (~200 services) against plain-dict aggregations.

A child process pinned to one core generates a deterministic workload (traces of ~20 spans through
~200 services with a fixed call topology: Lambda entry points, instrumented service-to-service
calls, DynamoDB/S3/SQS calls, SQS producer→consumer links) and times the variants interleaved,
``--repeat`` rounds, best CPU time (``process_time``, robust on a shared machine) and wall time
reported. Peak RSS comes from one more child per variant that runs only that variant once.

- ``minimal``: the least any map needs, in plain dicts: per span, find the parent (``Trace.get``),
  count segments per (service, origin) and calls per (parent service, service) and per inferred
  target with X-Ray's ok/error/throttle/fault counters, total time and a histogram bucket. No
  client/async/location rules, no percentiles, no graph.
- ``aggregate``: the map's own aggregation (``ServiceMapAccumulator.add_trace``: every X-Ray rule,
  fine percentile buckets, links, placements) into plain dicts and lists, without building a graph.
- ``map``: ``build_service_map``: the same aggregation, then one ``networkx.DiGraph`` built from the
  counter rows (never a NetworkX call per span).

The target (≤ 1.2×) is ``map`` against the dict aggregation of the same statistics (``aggregate``):
the cost of delivering the map as a graph. ``map`` against ``minimal`` shows what X-Ray's rules cost
on top of the least possible aggregation. Peak RSS includes the generated spans (about 1 GB for a
million); its growth during the pass is ``ru_maxrss`` minus the RSS before.

    .venv/bin/python -m benchmarks.bench_service_map            # 1,000,000 spans, best of 3
    .venv/bin/python -m benchmarks.bench_service_map --quick    # 100,000 spans, best of 2
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import subprocess
import sys
import time
from bisect import bisect_left
from typing import Any

from spanscope.collectors.model import Attributes, Kind, Span, SpanLink, Status, Trace

N_SERVICES = 200
SPANS_PER_TRACE = 20
BASE_NS = 1_763_700_000_000_000_000
_STATUSES = [Status.OK] * 95 + [Status.ERROR] * 2 + [Status.THROTTLE] + [Status.FAULT] * 2
_AWS = ["DynamoDB", "S3", "SQS"]
_REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]


def generate(n_spans: int, seed: int = 7) -> list[Trace]:
    """Deterministic traces of about SPANS_PER_TRACE spans each, ``n_spans`` in all."""
    rng = random.Random(seed)
    traces: list[Trace] = []
    resources: list[Attributes] = [
        {"cloud.platform": "aws_lambda", "cloud.region": _REGIONS[i % 3], "service.name": f"svc{i:03d}"}
        for i in range(N_SERVICES)
    ]
    # a fixed topology, as in real systems: each service calls 3 others and 2 AWS services
    topology = [[(s * 7 + 13 * k + 1) % N_SERVICES for k in range(3)] for s in range(N_SERVICES)]
    made = 0
    t = 0
    producers: list[tuple[str, str]] = []
    while made < n_spans:
        tid = f"{0x6920A000 + t:08x}{rng.getrandbits(96):024x}"
        spans: list[Span] = []
        start = BASE_NS + t * 1_000_000
        next_id = 1

        def new_id() -> str:
            nonlocal next_id
            next_id += 1
            return f"{next_id:016x}"

        entry = rng.randrange(20)
        root = Span(
            tid,
            new_id(),
            None,
            f"svc{entry:03d}",
            "GET /",
            Kind.SERVER,
            start,
            start + rng.randrange(5, 500) * 1_000_000,
            rng.choice(_STATUSES),
            resource=resources[entry],
        )
        if producers and rng.random() < 0.1:
            p_tid, p_sid = producers[rng.randrange(len(producers))]
            root.links.append(SpanLink(p_tid, p_sid))
        spans.append(root)
        frontier = [(root, entry)]
        while len(spans) < SPANS_PER_TRACE:
            parent, service = frontier[rng.randrange(len(frontier))]
            roll = rng.random()
            s0 = parent.start_ns + 1000
            e0 = s0 + rng.randrange(1, 200) * 100_000
            if roll < 0.3:  # instrumented call: client span + server segment of another service
                callee = topology[service][rng.randrange(3)]
                client = Span(
                    tid,
                    new_id(),
                    parent.span_id,
                    parent.service,
                    "call",
                    Kind.CLIENT,
                    s0,
                    e0,
                    rng.choice(_STATUSES),
                    namespace="remote",
                    remote_service=f"svc{callee:03d}",
                )
                server = Span(
                    tid,
                    new_id(),
                    client.span_id,
                    f"svc{callee:03d}",
                    "handle",
                    Kind.SERVER,
                    s0 + 500,
                    e0 - 500,
                    client.status,
                    resource=resources[callee],
                )
                spans += [client, server]
                frontier.append((server, callee))
            elif roll < 0.55:  # AWS SDK call
                target = _AWS[(service + rng.randrange(2)) % 3]
                kind = Kind.PRODUCER if target == "SQS" else Kind.CLIENT
                call = Span(
                    tid,
                    new_id(),
                    parent.span_id,
                    parent.service,
                    target,
                    kind,
                    s0,
                    e0,
                    rng.choice(_STATUSES),
                    namespace="aws",
                    remote_service=target,
                )
                spans.append(call)
                if target == "SQS" and len(producers) < 10_000:
                    producers.append((tid, call.span_id))
            else:  # internal work
                inner = Span(tid, new_id(), parent.span_id, parent.service, "work", Kind.INTERNAL, s0, e0)
                spans.append(inner)
                frontier.append((inner, service))
        traces.append(Trace(tid, spans))  # building the tree index is not timed
        made += len(spans)
        t += 1
    return traces


_BOUNDS_NS = tuple(round(b * 1e9) for b in (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                                             2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 86400.0))  # fmt: skip
_SLOT = {Status.OK: 0, Status.ERROR: 1, Status.THROTTLE: 2, Status.FAULT: 3}


def plain_dict_map(traces: list[Trace]) -> tuple[dict[Any, list[int]], dict[Any, list[int]]]:
    """The baseline: X-Ray node and edge counters with plain dicts, no graph."""
    nodes: dict[Any, list[int]] = {}
    edges: dict[Any, list[int]] = {}
    n_buckets = len(_BOUNDS_NS) + 1
    for trace in traces:
        for span in trace.spans:
            parent = trace.get(span.parent_id) if span.parent_id else None
            duration = max(0, span.end_ns - span.start_ns)
            slot = _SLOT[span.status]
            bucket = 5 + bisect_left(_BOUNDS_NS, duration)
            if parent is None or parent.service != span.service:
                key = (span.service, span.origin)
                row = nodes.get(key)
                if row is None:
                    row = nodes[key] = [0] * (5 + n_buckets)
                row[slot] += 1
                row[4] += duration
                row[bucket] += 1
                edge = ((parent.service if parent else "client"), span.service)
                row = edges.get(edge)
                if row is None:
                    row = edges[edge] = [0] * (5 + n_buckets)
                row[slot] += 1
                row[4] += duration
                row[bucket] += 1
            if span.remote_service and span.kind is not Kind.INTERNAL:
                key = (span.remote_service, span.namespace)
                for table, k in ((nodes, key), (edges, (span.service, key))):
                    row = table.get(k)
                    if row is None:
                        row = table[k] = [0] * (5 + n_buckets)
                    row[slot] += 1
                    row[4] += duration
                    row[bucket] += 1
    return nodes, edges


def _rss_kb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


def _run_variant(variant: str, traces: list[Trace]) -> tuple[int, int]:
    from spanscope.collectors.service_map import ServiceMapAccumulator, build_service_map

    if variant == "minimal":
        nodes, edges = plain_dict_map(traces)
        return len(nodes), len(edges)
    if variant == "aggregate":
        accumulator = ServiceMapAccumulator(retain_traces=0)
        for trace in traces:
            accumulator.add_trace(trace)
        return len(accumulator._nodes), len(accumulator._edges)
    graph = build_service_map(traces)
    return graph.number_of_nodes(), graph.number_of_edges()


def child(variants: list[str], n_spans: int, repeat: int) -> None:
    """Generate once, then time the variants interleaved (so machine noise hits all alike)."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
    traces = generate(n_spans)
    spans = sum(len(t) for t in traces)
    gc.collect()
    gc.freeze()
    rss_before = _rss_kb()
    cpu: dict[str, list[float]] = {v: [] for v in variants}
    wall: dict[str, list[float]] = {v: [] for v in variants}
    shape = (0, 0)
    for _ in range(repeat):
        for variant in variants:
            started_wall, started_cpu = time.perf_counter(), time.process_time()
            shape = _run_variant(variant, traces)
            cpu[variant].append(time.process_time() - started_cpu)
            wall[variant].append(time.perf_counter() - started_wall)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"spans": spans, "traces": len(traces), "cpu": cpu, "wall": wall, "rss_before_kb": rss_before,
                      "peak_kb": peak, "growth_kb": max(0, peak - rss_before), "nodes": shape[0],
                      "edges": shape[1]}))  # fmt: skip


def run_child(variants: list[str], n_spans: int, repeat: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_service_map", "--child", ",".join(variants), "--spans",
         str(n_spans), "--repeat", str(repeat)],
        check=True,
        capture_output=True,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


VARIANTS = ("minimal", "aggregate", "map")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="service map benchmark (see the module docstring)")
    parser.add_argument("--quick", action="store_true", help="100,000 spans, best of 2")
    parser.add_argument("--spans", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    n_spans = args.spans or (100_000 if args.quick else 1_000_000)
    repeat = args.repeat or (2 if args.quick else 3)
    if args.child:
        child(args.child.split(","), n_spans, repeat)
        return 0
    timing = run_child(list(VARIANTS), n_spans, repeat)
    memory = {variant: run_child([variant], n_spans, 1) for variant in VARIANTS}
    cpu = {v: min(timing["cpu"][v]) for v in VARIANTS}
    wall = {v: min(timing["wall"][v]) for v in VARIANTS}
    spans = timing["spans"]
    print(f"service map over {spans:,} spans in {timing['traces']:,} traces ({timing['nodes']} nodes, "
          f"{timing['edges']} edges); one core, variants interleaved, best of {repeat}")  # fmt: skip
    for v in VARIANTS:
        m = memory[v]
        print(f"  {v:9s} cpu {cpu[v]:6.2f} s  wall {wall[v]:6.2f} s  {spans / cpu[v] / 1e6:5.2f} M spans/s  "
              f"peak RSS {m['peak_kb'] / 1024:6.0f} MiB (growth {m['growth_kb'] / 1024:5.1f} MiB)")  # fmt: skip
    for other, what in (("aggregate", "same statistics in dicts, no graph"), ("minimal", "least possible map")):
        print(f"  map / {other} ({what}): cpu {cpu['map'] / cpu[other]:.2f}x, wall {wall['map'] / wall[other]:.2f}x, "
              f"peak RSS {memory['map']['peak_kb'] / memory[other]['peak_kb']:.2f}x, RSS growth "
              f"{memory['map']['growth_kb'] / 1024:.1f} vs {memory[other]['growth_kb'] / 1024:.1f} MiB"
              + ("  (target <= 1.2x)" if other == "aggregate" else ""))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
