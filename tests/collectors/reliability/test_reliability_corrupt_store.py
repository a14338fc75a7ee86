"""`spanscope collect` on a corrupt store: moved aside and reported, never silently replaced.

The corrupt file (and its -wal/-shm) is renamed to ``<db>.corrupt-<UTC time>`` byte for byte, a
warning names both paths, and the collector starts on a fresh store that takes spans. Another
application's SQLite database at --db is refused and left untouched.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from spanscope.cli.cmd_collect import move_aside_if_corrupt
from spanscope.collectors.errors import StoreCorruptError
from spanscope.collectors.store import open_store

from tests.builders import make_span, post_otlp, trace_id_for

CLI = [sys.executable, "-m", "spanscope.cli.main", "collect", "--log-interval", "0"]
OFF = ["--xray-udp", "off", "--otlp-grpc", "off", "--otlp-http", "127.0.0.1:0"]


def _garbage(db: Path) -> bytes:
    data = b"\x00not a database\xff" * 512
    db.write_bytes(data)
    return data


def _damaged_sqlite(db: Path) -> bytes:
    """A real store whose pages after the header are overwritten: SQLite itself calls it malformed."""
    with open_store(db) as store:
        store.write_spans([make_span(f"s{i}", None, i, i + 1, trace="old") for i in range(200)])
    data = bytearray(db.read_bytes())
    for offset in range(100, len(data), 7):
        data[offset] = 0xA5
    db.write_bytes(bytes(data))
    return bytes(data)


@pytest.mark.parametrize("damage", [_garbage, _damaged_sqlite])
def test_move_aside_keeps_the_bytes_and_opens_fresh(tmp_path: Path, damage) -> None:
    db = tmp_path / "spans.db"
    original = damage(db)
    with pytest.raises(StoreCorruptError):
        open_store(db).close()
    (tmp_path / "spans.db-wal").write_bytes(b"wal bytes")
    warning = move_aside_if_corrupt(db)
    assert warning is not None
    moved = [p for p in tmp_path.glob("spans.db.corrupt-*") if not p.name.endswith(("-wal", "-shm"))]
    assert len(moved) == 1
    assert moved[0].read_bytes() == original  # moved, never rewritten
    assert (tmp_path / (moved[0].name + "-wal")).read_bytes() == b"wal bytes"
    assert str(db) in warning and str(moved[0]) in warning
    with open_store(db) as fresh:
        assert fresh.span_count() == 0
    assert move_aside_if_corrupt(db) is None  # a healthy store is left alone


def test_a_second_corruption_in_the_same_second_gets_its_own_name(tmp_path: Path) -> None:
    db = tmp_path / "spans.db"
    first, second = _garbage(db), None
    assert move_aside_if_corrupt(db)
    second = b"\x01other garbage" * 300
    db.write_bytes(second)
    assert move_aside_if_corrupt(db)
    kept = sorted(p.read_bytes() for p in tmp_path.glob("spans.db.corrupt-*"))
    assert kept == sorted([first, second])


def test_another_applications_database_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA application_id=12345")
        conn.execute("CREATE TABLE customers (id INTEGER)")
    before = db.read_bytes()
    with pytest.raises(StoreCorruptError):
        move_aside_if_corrupt(db)
    assert db.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["app.db"]
    proc = subprocess.run([*CLI, "--db", str(db), *OFF], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "not a spanscope store" in proc.stderr
    assert db.read_bytes() == before


def test_collect_moves_a_corrupt_store_aside_warns_and_collects(tmp_path: Path) -> None:
    db = tmp_path / "spans.db"
    original = _garbage(db)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("SPANSCOPE_TOKEN", None)
    proc = subprocess.Popen(
        [*CLI, "--db", str(db), *OFF], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        address = None
        deadline = time.monotonic() + 120
        while address is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, "collector exited early"
            if line.startswith("listening otlp-http "):
                address = line.split()[2]
        assert address is not None
        spans = [make_span("root", None, 0, 5, trace="fresh", service="web")]
        reply = post_otlp(address, spans, timeout=30)
        assert reply.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    moved = list(tmp_path.glob("spans.db.corrupt-*"))
    assert len(moved) == 1 and moved[0].read_bytes() == original
    warning = [line for line in err.splitlines() if "corrupt" in line]
    assert warning and str(db) in warning[0] and str(moved[0]) in warning[0], err
    with open_store(db, readonly=True) as store:
        assert len(store.get_trace(trace_id_for("fresh")).spans) == 1
