"""The collector's service map stays bounded however big the traces (found by ``bench_soak --poll-map``).

Before the fix the accumulator remembered the last 10,000 traces whatever their size: a collector whose
map was read every 15 s grew from 58 to 577 MiB in five minutes of 100-span traces. It now also
bounds the counting events it remembers (about two per span), forgetting the oldest traces first.
"""

from __future__ import annotations

from spanscope.collectors.model import Kind, Span, Trace
from spanscope.collectors.service_map import ServiceMapAccumulator, build_service_map

BASE = 1_763_700_000_000_000_000


def big_trace(t: int, spans: int) -> Trace:
    tid = f"{BASE // 10**9:08x}{t + 1:024x}"
    out = [Span(tid, f"{1:016x}", None, "api", "GET /", Kind.SERVER, BASE, BASE + 10**6)]
    out += [
        Span(tid, f"{i + 2:016x}", f"{1:016x}", "api", "query", Kind.CLIENT, BASE + i, BASE + i + 100,
             attributes={"peer.service": f"db{i % 3}"})
        for i in range(spans - 1)
    ]  # fmt: skip
    return Trace(tid, out)


def test_remembered_events_are_bounded_and_the_map_still_counts_everything() -> None:
    acc = ServiceMapAccumulator(retain_events=20_000)
    traces = [big_trace(t, 2_000) for t in range(30)]
    for trace in traces:
        acc.add_trace(trace)
        assert acc._retained_events <= 20_000
        assert acc._retained_events == sum(len(c.events) for c in acc._contributions.values())
    assert 0 < len(acc._contributions) < 30
    graph = acc.graph()
    assert graph.nodes[next(iter(n for n in graph.nodes if "api" in str(n)))]  # the map is whole
    one_shot = build_service_map(traces)
    assert sorted(map(str, graph.nodes)) == sorted(map(str, one_shot.nodes))
    assert sorted(map(str, graph.edges)) == sorted(map(str, one_shot.edges))


def test_replacing_a_remembered_trace_keeps_the_tally_exact() -> None:
    acc = ServiceMapAccumulator(retain_events=10**9)
    trace = big_trace(1, 50)
    acc.add_trace(trace)
    before = acc._retained_events
    acc.add_trace(trace)  # replaced, not added twice
    assert acc._retained_events == before
    once = ServiceMapAccumulator()
    once.add_trace(trace)
    assert str(sorted(acc.graph().edges(data=True))) == str(sorted(once.graph().edges(data=True)))
