"""A full disk while collecting: retryable refusals, ``/healthz`` degraded with the cause, and no acknowledged span
stored with another span's resource once space is freed.

The disk is really full: the store lives on a small tmpfs mounted for the test (the tests run as root) and a
filler file takes every free byte. Where mounting is not possible, the same test runs with SQLite's
``max_page_count`` lowered to the store's current size, which makes SQLite fail the same way (SQLITE_FULL).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from spanscope.collectors.collector import BackgroundCollector
from spanscope.collectors.errors import StoreDiskFullError
from spanscope.collectors.formats.otlp_proto import spans_to_request
from spanscope.collectors.model import Span
from spanscope.collectors.store import Store, open_store

from tests.builders import collector_config, make_span

PROTOBUF = {"Content-Type": "application/x-protobuf"}


class SmallDisk:
    """A store directory whose filesystem can be filled and freed again."""

    def __init__(self, root: Path, mode: str) -> None:
        self.root = root
        self.mode = mode
        self.db = root / "spans.db"
        self.store: Store | None = None  # the max_page_count mode needs the store's own connection

    def fill(self) -> None:
        if self.mode == "max_page_count":
            assert self.store is not None
            conn = self.store._conn
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count={pages}")
            return
        with (self.root / "filler").open("wb", buffering=0) as handle:
            block = b"\0" * 65536
            with contextlib.suppress(OSError):
                while True:
                    handle.write(block)
            with contextlib.suppress(OSError):
                while True:
                    handle.write(b"\0" * 512)

    def free(self) -> None:
        if self.mode == "max_page_count":
            assert self.store is not None
            self.store._conn.execute("PRAGMA max_page_count=1073741823")
            return
        (self.root / "filler").unlink()


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[None]:
    path.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; the max_page_count variant covers the store logic")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()}); the max_page_count variant runs")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.fixture(params=["tmpfs", "max_page_count"])
def disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SmallDisk]:
    if request.param == "tmpfs":
        with tmpfs(tmp_path / "fs", "3m"):
            yield SmallDisk(tmp_path / "fs", "tmpfs")
    else:
        yield SmallDisk(tmp_path, "max_page_count")


def request_of(service: str, host: str, n: int, trace: str) -> list[Span]:
    """``n`` spans of one service and host, with enough attribute bytes that the write needs fresh pages."""
    resource = {"host.name": host, "service.instance.id": f"{service}-{host}", "pad": host * 200}
    return [
        make_span(
            f"{service}{i}",
            trace=trace,
            service=service,
            resource=resource,
            attributes={"http.url": f"https://{host}/{i}", "pad": "x" * 600},
        )
        for i in range(n)
    ]


def post(url: str, spans: list[Span]) -> requests.Response:
    body = spans_to_request(spans).SerializeToString()
    return requests.post(url + "/v1/traces", data=body, headers=PROTOBUF, timeout=30)


def health(url: str) -> dict[str, Any]:
    doc: dict[str, Any] = requests.get(url + "/healthz", timeout=10).json()
    return doc


def test_full_disk_refuses_retryably_reports_degraded_and_keeps_every_resource(disk: SmallDisk) -> None:
    store = disk.store = open_store(disk.db)
    cfg = collector_config(disk.db)
    # The collector owns the store in the tmpfs variant (so corruption recovery is armed, as in `collect`).
    own = disk.mode == "tmpfs"
    if own:
        store.close()
    with BackgroundCollector(cfg, store=None if own else store) as collector:
        url = "http://{}:{}".format(*collector.addresses["otlp_http"])
        sent: dict[tuple[str, str], dict[str, Any]] = {}

        def send(spans: list[Span]) -> requests.Response:
            reply = post(url, spans)
            if reply.status_code == 200:
                for span in spans:
                    sent[(span.trace_id, span.span_id)] = {**span.resource, "service.name": span.service}
            return reply

        assert send(request_of("seed", "seed-host", 5, "seed")).status_code == 200
        assert health(url)["status"] == "ok"

        disk.fill()
        a = request_of("alpha", "host-a", 200, "a")
        b = request_of("beta", "host-b", 200, "b")
        for spans in (a, b):
            reply = send(spans)
            assert reply.status_code == 503, reply.status_code
            assert "Retry-After" in reply.headers
        doc = health(url)
        assert doc["status"] == "degraded"
        assert doc["cause"].startswith(f"disk full: {disk.db}")
        assert collector.counters.get("store.moved_aside") == 0  # a full disk is not corruption

        disk.free()
        for spans in (b, a):  # beta first: it would take the id alpha's rolled-back resource row had
            assert send(spans).status_code == 200
        assert health(url)["status"] == "ok"
        assert "cause" not in health(url)
        assert not list(disk.root.glob("spans.db.corrupt-*"))

    with open_store(disk.db, readonly=True) as check:
        stored = {(s.trace_id, s.span_id): s.resource for t in check.iter_traces() for s in t.spans}
    assert len(sent) == 405
    for key, resource in sent.items():
        assert key in stored
        assert stored[key] == resource, (key, stored[key].get("service.name"), resource["service.name"])


def test_a_full_disk_is_a_disk_full_error_and_the_store_writes_again_once_freed(tmp_path: Path) -> None:
    """SQLite rolls the transaction back itself on SQLITE_FULL: the store must not ROLLBACK again (that
    raised "no transaction is active" and hid the real error) and must forget resource ids it assigned."""
    disk = SmallDisk(tmp_path, "max_page_count")
    with open_store(disk.db) as store:
        disk.store = store
        store.write_spans(request_of("seed", "seed-host", 2, "seed"))
        disk.fill()
        with pytest.raises(StoreDiskFullError, match=r"^disk full: "):
            store.write_spans(request_of("alpha", "host-a", 50, "a"))
        assert not store._conn.in_transaction
        disk.free()
        store.write_spans(request_of("beta", "host-b", 50, "b"))
        store.write_spans(request_of("alpha", "host-a", 50, "a"))
        services = {s.service: s.resource["host.name"] for t in store.iter_traces() for s in t.spans}
    assert services == {"seed": "seed-host", "alpha": "host-a", "beta": "host-b"}
