"""A `spanscope collect` process for the benchmarks: ephemeral ports, RSS sampling, CPU time, counters.

Shared by ``bench_collector``, ``bench_soak`` and ``bench_fuzz``; ``Endpoints`` is the picklable part
a load-generator process needs.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import psutil

RECEIVERS = ("xray-udp", "otlp-http", "otlp-grpc")


class Endpoints:
    """The collector's addresses: what a client process needs (picklable)."""

    def __init__(self, addresses: dict[str, tuple[str, int]]) -> None:
        self.addresses = dict(addresses)

    def http(self) -> http.client.HTTPConnection:
        host, port = self.addresses["otlp-http"]
        return http.client.HTTPConnection(host, port, timeout=60)

    @property
    def url(self) -> str:
        host, port = self.addresses["otlp-http"]
        return f"http://{host}:{port}"


class CollectorProc(Endpoints):
    """``spanscope collect`` on ephemeral ports in a child process, its RSS sampled every ``sample_s``."""

    def __init__(
        self,
        db: Path,
        *extra: str,
        receivers: tuple[str, ...] = RECEIVERS,
        sample_s: float = 0.25,
        stderr_path: Path | None = None,
    ) -> None:
        args = []
        for name in RECEIVERS:
            args += [f"--{name}", "127.0.0.1:0" if name in receivers else "off"]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("SPANSCOPE_TOKEN", None)
        cmd = [sys.executable, "-m", "spanscope.cli.main", "collect", "--db", str(db), *args]
        self._stderr = stderr_path.open("w") if stderr_path is not None else None  # the collector's log
        self.proc = subprocess.Popen(
            [*cmd, "--log-interval", "0", *extra],
            stdout=subprocess.PIPE,
            stderr=self._stderr if self._stderr is not None else subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self.db = db
        addresses: dict[str, tuple[str, int]] = {}
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 180
        while len(addresses) < len(receivers):
            line = self.proc.stdout.readline()
            if not line or time.monotonic() > deadline:
                raise RuntimeError("collector did not start")
            if line.startswith("listening "):
                _, name, address = line.split()
                host, port = address.rsplit(":", 1)
                addresses[name] = (host, int(port))
        super().__init__(addresses)
        self.ps = psutil.Process(self.proc.pid)
        self.samples: list[tuple[float, int]] = []  # (monotonic, rss)
        self._sample_s = sample_s
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic(), self.ps.memory_info().rss))
            except psutil.Error:
                return
            self._stop.wait(self._sample_s)

    @property
    def peak_rss(self) -> int:
        return max((r for _, r in self.samples), default=0)

    def rss(self) -> int:
        return int(self.ps.memory_info().rss)

    def cpu_s(self) -> float:
        t = self.ps.cpu_times()
        return float(t.user + t.system)

    def alive(self) -> bool:
        return self.proc.poll() is None

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints(self.addresses)

    def stats(self) -> dict[str, int]:
        conn = self.http()
        try:
            conn.request("GET", "/v1/stats")
            stats: dict[str, int] = orjson.loads(conn.getresponse().read())
            return stats
        finally:
            conn.close()

    def wait_drained(self, timeout_s: float = 60) -> dict[str, int]:
        """The counters once the write queue is empty and nothing more arrives (or after ``timeout_s``)."""
        deadline = time.monotonic() + timeout_s
        last = None
        while time.monotonic() < deadline:
            stats = self.stats()
            key = (stats.get("writer.spans", 0), stats.get("xray_udp.received", 0))
            idle = stats.get("writer.queue_spans", 0) == 0 and stats.get("writer.inflight_spans", 0) == 0
            if key == last and idle:
                return stats
            last = key
            time.sleep(0.5)
        return self.stats()

    def stop(self) -> int:
        self._stop.set()
        if self.proc.poll() is None:
            self.proc.terminate()
        code = self.proc.wait(120)
        if self._stderr is not None:
            self._stderr.close()
        return code
