"""The hostile-data benchmark's shapes are what they claim and go through every step (small n, no timings)."""

from __future__ import annotations

from pathlib import Path

import pytest
from spanscope.collectors.model import Trace

from benchmarks.bench_hostile import SHAPES, STEPS, make, one


@pytest.mark.parametrize("shape", SHAPES)
def test_shape_runs_every_step(tmp_path: Path, shape: str) -> None:
    r = one(shape, 400, tmp_path, repeat=1)
    assert all(r[step] >= 0 for step in STEPS)
    assert r["report_spans"] >= r["stored_spans"] > 0 and r["map_nodes"] > 0


def test_shapes_are_hostile() -> None:
    n = 400
    cycle = Trace(make("cycle", n)[0].trace_id, make("cycle", n))
    assert cycle.cycle_breaks
    deep = Trace(make("deep", n)[0].trace_id, make("deep", n))
    assert max(depth for _i, depth in deep.preorder()) == n - 1
    assert sum(1 for s in make("fanout", n) if s.parent_id == make("fanout", n)[0].span_id) == n - 1
    dup = make("duplicates", n)
    assert len(dup) == 2 * n and len({s.span_id for s in dup}) == n
    assert all(s.end_ns < s.start_ns for s in make("negative", n)[1:])
    assert all(len(s.attributes["blob"]) == 65_536 for s in make("huge_attributes", n))
