"""Soak, short version of ``benchmarks/bench_soak.py``: a paced span stream into `spanscope collect`.

Every acknowledged span is in the store, the collector stays up and exits cleanly, RSS stays under
a bound (256 MiB; the idle collector is about 55 MiB). The 10-minute run at 5,000 spans/s with its
RSS slope and acknowledgement p99 is the benchmark; no timing is asserted here.
"""

from __future__ import annotations

from pathlib import Path

from tests.load import run_benchmark

RSS_BOUND_MB = 256


def test_short_soak_loses_nothing_and_stays_bounded(tmp_path: Path) -> None:
    r = run_benchmark(
        "bench_soak", "--rate", "1000", "--duration", "10", "--workers", "2", "--spans-per-request", "50",
        "--tmp", str(tmp_path),
    )  # fmt: skip
    assert r["spans_acked"] > 0
    assert r["lost_acked_spans"] == 0
    assert r["errors"] == 0
    assert r["collector_alive_at_end"] and r["collector_exit_code"] == 0
    assert r["stats_writer_spans"] >= r["spans_acked"]
    assert r["peak_rss_mb"] < RSS_BOUND_MB, r
