"""`spanscope.tracer.force_flush()` reaches the store-and-forward exporter: spooled spans are forwarded by it."""

from __future__ import annotations

from pathlib import Path

import pytest
from spanscope.tracer import configure, force_flush, span

from tests.tracer.spool_loopback import Receiver, make_exporter
from tests.waiting import reached as wait_until


def test_tracer_flush_drains_the_spool(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    receiver = Receiver()  # not started: the collector is unreachable
    exporter = make_exporter(receiver, tmp_path / "spool")
    try:
        configure(service="greengrass-core", exporters=[exporter], sampling=1.0)
        for i in range(5):
            with span(f"reading-{i}"):
                pass
        assert not force_flush(2000)  # offline: kept on disk, not forwarded
        assert exporter.stats.spooled_spans == 5 and receiver.names() == []
        receiver.start()
        assert wait_until(lambda: force_flush(2000), timeout_s=30)
        assert sorted(receiver.names()) == [f"reading-{i}" for i in range(5)]
        assert exporter.stats.pending_batches == 0
    finally:
        configure(exporters=["memory"])
        receiver.stop()
