"""The stalling rank of a tightly coupled job (issue 19): six ranks, one ten times slower, as RankTracer records
them (every rank's run span named alike, steps with compute and barrier-wait), analysed by `analyze`."""

from __future__ import annotations

from spanscope.analysis.ranks import stalling_ranks
from spanscope.analysis.report import build_report
from spanscope.collectors.model import Kind, Span, Trace

from tests.builders import BASE_NS, MS, trace_id_for

TID = trace_id_for("hpc")


def job(ranks: int = 6, slow: int = 4, steps: int = 3) -> Trace:
    spans = [Span(TID, "f" * 16, None, "sim", "launch", Kind.INTERNAL, BASE_NS, BASE_NS + steps * 110 * MS)]
    for r in range(ranks):
        rid = f"{r + 1:04x}{'0' * 12}"
        compute = [(100 if r == slow else 10) * MS for _ in range(steps)]
        run_attrs = {
            "spanscope.origin": "spanscope::HPC::Rank",
            "spanscope.hpc.rank": r,
            "spanscope.hpc.compute_ns": sum(compute),
            "spanscope.hpc.barrier_wait_ns": sum(100 * MS - c for c in compute),
            "host.name": f"node-{r}",
            "aws.ec2.placement_group": "cluster-pg",
            "spanscope.hpc.efa": r != slow,
        }
        spans.append(
            Span(
                TID,
                rid,
                "f" * 16,
                "sim",
                "sim rank",
                Kind.SERVER,
                BASE_NS,
                BASE_NS + steps * 110 * MS,
                attributes=run_attrs,
            )
        )
        for s in range(steps):
            t0 = BASE_NS + s * 110 * MS
            spans.append(
                Span(
                    TID,
                    f"{r + 1:04x}{s + 1:012x}",
                    rid,
                    "sim",
                    f"step {s}",
                    Kind.INTERNAL,
                    t0,
                    t0 + 100 * MS,
                    attributes={
                        "spanscope.hpc.rank": r,
                        "spanscope.hpc.step": s,
                        "spanscope.hpc.compute_ns": compute[s],
                        "spanscope.hpc.barrier_wait_ns": 100 * MS - compute[s],
                    },
                )
            )
    return Trace(TID, spans)


def test_the_rank_the_others_wait_for_is_named_with_its_host_placement_and_efa() -> None:
    (stall,) = stalling_ranks([job()])
    assert (stall.rank, stall.steps_stalled, stall.steps) == ("4", 3, 3)
    assert stall.wait_caused_ns == 3 * 5 * 90 * MS  # five ranks wait 90 ms in each of three steps
    assert (stall.host, stall.placement_group, stall.efa) == ("node-4", "cluster-pg", False)


def test_analyze_reports_the_straggling_rank_and_the_stall() -> None:
    report = build_report([job()], service_map=False)
    assert report.stalling_ranks and report.stalling_ranks[0].rank == "4"
    (strag,) = report.stragglers  # the rank spans are siblings: compared by compute
    assert (strag.operation, strag.label, strag.measure) == ("sim rank", "4", "compute")


def test_fewer_than_five_ranks_are_compared_when_asked() -> None:
    small = job(ranks=3, slow=1)
    assert not build_report([small], service_map=False).stragglers
    report = build_report([small], service_map=False, min_group=3)
    assert [s.label for s in report.stragglers] == ["1"]
    assert report.stalling_ranks[0].rank == "1"  # the stall is found at any size
