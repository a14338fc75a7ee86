"""Fuzzing, CI size of ``benchmarks/bench_fuzz.py``: malformed inputs on every endpoint of a collector process.

A few thousand mutated datagrams and bodies per endpoint (X-Ray UDP, OTLP/HTTP protobuf, JSON, gzip,
OTLP/gRPC), then a 256 MiB gzip bomb, an absurd Content-Length, an absurd chunk size and protobuf
length prefixes of ~4 GiB. The collector keeps running and takes a valid request afterwards; every
input is accounted for in its counters and matches what the client saw; no reply is a 5xx or an
unexpected gRPC code; the bomb gets 413 with the collector's peak RSS growing by far less than the
bomb; peak RSS stays under a bound.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.load import run_benchmark

ENDPOINTS = ("xray_udp", "otlp_http_protobuf", "otlp_http_json", "otlp_http_gzip", "otlp_grpc")
COUNT = int(os.environ.get("SPANSCOPE_FUZZ_COUNT", "1500"))
PEAK_RSS_BOUND_MB = 256


def test_fuzzed_inputs_are_all_accounted_for_and_harmless(tmp_path: Path) -> None:
    r = run_benchmark("bench_fuzz", "--count", str(COUNT), "--bomb-mib", "256", "--tmp", str(tmp_path))
    for kind in ENDPOINTS:
        assert r[kind]["accounted"], (kind, r[kind])
        assert not r[kind].get("unexpected_statuses") and not r[kind].get("unexpected_codes"), (kind, r[kind])
    assert r["xray_udp"]["rejected"] > 0 and r["xray_udp"]["accepted"] > 0
    assert r["xray_udp"]["receive_errors"] == 0
    sp = r["specials"]
    assert sp["gzip_bomb"]["status"] == 413
    assert sp["gzip_bomb"]["vmhwm_growth_mb"] < 100  # 256 MiB would be needed to inflate it
    assert "413" in sp["absurd_content_length_status_line"]
    assert sp["absurd_protobuf_http"] == {"400": 4}
    assert sp["absurd_protobuf_grpc"] == {"INVALID_ARGUMENT": 4}
    assert r["alive_after"] and r["valid_after"] and r["exit_code"] == 0
    assert not any("internal" in k or "converter_error" in k for k in r["internal_errors"]), r["internal_errors"]
    assert r["peak_rss_mb"] < PEAK_RSS_BOUND_MB, r
