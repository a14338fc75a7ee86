"""The collect command's garbage-collector tuning: start-up objects frozen, young generation collected less often."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from spanscope.collectors.collector import GC_THRESHOLDS, tune_gc_for_ingest


@pytest.fixture
def restore_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_tune_gc_freezes_start_up_objects_and_raises_thresholds(restore_gc: None) -> None:
    gc.unfreeze()
    tune_gc_for_ingest()
    assert gc.get_threshold() == GC_THRESHOLDS
    assert gc.get_freeze_count() > 1000  # the modules and objects alive at start-up
    garbage: list[object] = []
    garbage.append(garbage)  # a cycle is still collected, only less often
    del garbage
    assert gc.collect() >= 1
