"""An engine run keeps CPython's full collections off its archive's spans and gives the thresholds back."""

from __future__ import annotations

import gc
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from spanscope.collectors.archive import write_traces
from spanscope.collectors.archive.writer import ArchiveError
from spanscope.engines import run_engine
from spanscope.engines.batch_gc import BATCH_THRESHOLDS, batch_gc

from tests.load import make_trace


@pytest.fixture
def default_thresholds() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # CPython's defaults, whatever the test process runs under
    try:
        yield
    finally:
        gc.set_threshold(*before)


def full_collections() -> int:
    return int(gc.get_stats()[2]["collections"])


@pytest.mark.usefixtures("default_thresholds")
def test_a_run_over_an_archive_does_no_full_collection(tmp_path: Path) -> None:
    rng = random.Random(3)
    write_traces([make_trace(k, rng) for k in range(2_000)], str(tmp_path))  # 40,000 spans in one file
    before = full_collections()
    report = run_engine("local", str(tmp_path))
    assert report.spans == 40_000
    assert full_collections() == before
    assert gc.get_threshold() == (700, 10, 10)


@pytest.mark.usefixtures("default_thresholds")
def test_the_thresholds_come_back_when_the_run_fails(tmp_path: Path) -> None:
    (tmp_path / "part-0-x.parquet").write_bytes(b"not parquet")
    with pytest.raises(ArchiveError, match="cannot read archive file"):
        run_engine("local", str(tmp_path))
    assert gc.get_threshold() == (700, 10, 10)
    with pytest.raises(ZeroDivisionError), batch_gc():
        assert gc.get_threshold() == BATCH_THRESHOLDS
        _ = 1 / 0
    assert gc.get_threshold() == (700, 10, 10)
