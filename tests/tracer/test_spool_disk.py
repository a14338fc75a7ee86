"""The spool's disk log alone: cursor, torn and damaged records, eviction, and a model-based FIFO check."""

from __future__ import annotations

import os
from collections import deque
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spanscope.tracer.spool import DiskSpool

from tests.tracer.spool_loopback import spool_files_bytes


def test_disk_spool_cursor_persists_partial_drain(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path)
    for i in range(5):
        assert spool.append(f"r{i}".encode()).stored
    records = spool.peek(max_records=2)
    assert [r.payload for r in records] == [b"r0", b"r1"]
    spool.commit(records[-1])
    spool.close()

    reopened = DiskSpool(tmp_path)
    assert [r.payload for r in reopened.peek()] == [b"r2", b"r3", b"r4"]
    reopened.commit(reopened.peek()[-1])
    reopened.append(b"r5")
    reopened.close()

    again = DiskSpool(tmp_path)
    assert [r.payload for r in again.peek()] == [b"r5"]
    again.commit(again.peek()[-1])
    again.close()
    assert len(DiskSpool(tmp_path)) == 0
    assert len(list(tmp_path.glob("seg-*.spool"))) <= 1


def test_disk_spool_torn_write_is_detected_and_skipped(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path)
    for i in range(3):
        spool.append(f"ok{i}".encode())
    spool.close()
    (segment,) = sorted(tmp_path.glob("seg-*.spool"))
    with open(segment, "ab") as handle:  # a write torn by power loss: header promises more than is there
        handle.write(b"SSP1" + (1000).to_bytes(4, "big") + (0).to_bytes(4, "big") + b"partial")
        handle.flush()
        os.fsync(handle.fileno())

    reopened = DiskSpool(tmp_path)
    assert reopened.corrupt_records == 1
    assert [r.payload for r in reopened.peek()] == [b"ok0", b"ok1", b"ok2"]
    reopened.append(b"ok3")  # appends go to a new file, never after the torn tail
    assert [r.payload for r in reopened.peek()] == [b"ok0", b"ok1", b"ok2", b"ok3"]
    reopened.close()


def test_disk_spool_damaged_record_is_skipped_keeping_the_rest(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path)
    for payload in (b"first", b"second", b"third"):
        spool.append(payload)
    spool.close()
    (segment,) = sorted(tmp_path.glob("seg-*.spool"))
    data = bytearray(segment.read_bytes())
    index = data.index(b"second")
    data[index] ^= 0xFF  # bit rot inside one payload
    segment.write_bytes(bytes(data))

    reopened = DiskSpool(tmp_path)
    assert reopened.corrupt_records == 1
    assert [r.payload for r in reopened.peek()] == [b"first", b"third"]
    reopened.close()


def test_disk_spool_eviction_counts_and_bounds(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path, max_bytes=4096, segment_bytes=1024)
    evicted = 0
    for i in range(200):
        result = spool.append(f"{i:04d}".encode() * 20)  # 80-byte payloads
        evicted += result.evicted_records
        assert spool.total_bytes() <= 4096
        assert spool_files_bytes(tmp_path) <= 4096
    pending = spool.pending()[0]
    assert evicted + pending == 200
    payloads = [r.payload for r in spool.peek(max_records=1000)]
    assert payloads == [f"{i:04d}".encode() * 20 for i in range(200 - pending, 200)]
    assert not spool.append(b"x" * 5000).stored  # larger than the whole spool: refused, counted
    spool.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("append"), st.integers(0, 700)),
            st.tuples(st.just("drain"), st.integers(1, 5)),
            st.tuples(st.just("reopen"), st.just(0)),
            st.tuples(st.just("tear"), st.integers(1, 30)),
        ),
        max_size=60,
    )
)
def test_disk_spool_behaves_like_a_bounded_fifo(tmp_path_factory: pytest.TempPathFactory, ops: list[Any]) -> None:
    directory = tmp_path_factory.mktemp("spool")
    max_bytes = 3000
    spool = DiskSpool(directory, max_bytes=max_bytes, segment_bytes=700, fsync=False)
    model: deque[bytes] = deque()
    counter = 0
    for op, arg in ops:
        if op == "append":
            payload = counter.to_bytes(4, "big") * (arg // 4 + 1)
            counter += 1
            result = spool.append(payload)
            for _ in range(result.evicted_records if result.stored else 0):
                model.popleft()  # evictions are always the oldest records
            if result.stored:
                model.append(payload)
            assert spool.total_bytes() <= max_bytes
        elif op == "drain":
            records = spool.peek(max_records=arg)
            assert [r.payload for r in records] == list(model)[: len(records)]
            assert len(records) == min(arg, len(model))
            if records:
                spool.commit(records[-1])
                for _ in records:
                    model.popleft()
        else:
            spool.close()
            files = sorted(directory.glob("seg-*.spool"))
            if op == "tear" and files:  # a crash mid-append: a partial record at the end of the newest file
                with open(files[-1], "ab") as handle:
                    handle.write((b"SSP1" + (500).to_bytes(4, "big") + b"\0" * 30)[:arg])
            spool = DiskSpool(directory, max_bytes=max_bytes, segment_bytes=700, fsync=False)
        assert spool.pending()[0] == len(model)
    assert [r.payload for r in spool.peek(max_records=10_000, max_bytes=10**9)] == list(model)
    spool.close()
