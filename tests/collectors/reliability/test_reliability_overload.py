"""Overload at five times the sustainable rate against a `spanscope collect` process (CI size).

``test_collect_overload.py`` proves the codes with a gated store in-process; this drives the real
process: the sustainable rate is measured first (closed-loop senders), then open-loop clients (a new
request on schedule whatever the answers, queued client-side) offer five times that over OTLP/HTTP
and OTLP/gRPC against a small write queue, honouring every retry hint. Every answer is 200/OK or
429/503/UNAVAILABLE with a retry hint (Retry-After, RetryInfo), never 500; every request is finally
acknowledged and every acknowledged span is in the store; peak RSS stays under 256 MiB.
``python -m benchmarks.bench_soak --overload`` is the longer run with figures.
"""

from __future__ import annotations

from pathlib import Path

from tests.load import run_benchmark

RSS_BOUND_MB = 256


def test_five_times_the_sustainable_rate_is_refused_retryably_and_nothing_is_lost(tmp_path: Path) -> None:
    r = run_benchmark(
        "bench_soak", "--overload", "--factor", "5", "--duration", "4", "--clients", "24", "--processes", "1",
        "--spans-per-request", "100", "--max-queue-spans", "300", "--tmp", str(tmp_path),
    )  # fmt: skip
    assert r["offered_spans_per_s"] >= 4.5 * r["sustainable_spans_per_s"], r  # open loop: offered whatever the answers
    assert r["unexpected"] == {}, r
    assert r["hints_missing"] == 0, r
    refused = sum(r["codes"].get(k, 0) for k in ("429", "503", "UNAVAILABLE"))
    assert refused > 0, r  # the load really was too much
    assert r["never_acked_requests"] == 0 and r["lost_acked_spans"] == 0, r
    assert r["collector_alive_at_end"] and r["collector_exit_code"] == 0
    assert r["peak_rss_mb"] < RSS_BOUND_MB, r
