"""Opens a local file in headless Chromium through the DevTools protocol and reports what the page did.

A minimal DevTools client on aiohttp's websocket: Chromium listens on an ephemeral loopback port
(``--remote-debugging-port=0``, read back from ``DevToolsActivePort``), the page is loaded with the
Network, Runtime and Log domains enabled, and the result holds every network request the page made,
every console error or exception, the value of a probe expression, and PNG screenshots.

    .venv/bin/python -m tests.render.headless_chromium REPORT.html OUT.png [WIDTH [MAX_HEIGHT]]  # a screenshot
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import struct
import sys
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)
START_TIMEOUT_S = 60.0


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageResult:
    requests: list[str] = field(default_factory=list)  # every URL the page requested, the document first
    errors: list[str] = field(default_factory=list)  # console errors, exceptions, error log entries
    probe: Any = None
    screenshots: dict[str, bytes] = field(default_factory=dict)


class _DevTools:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            if "id" in data and data["id"] in self.waiting:
                self.waiting.pop(data["id"]).set_result(data)
            elif "method" in data:
                self.events.append(data)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[self.next_id] = future
        await self.ws.send_str(json.dumps({"id": self.next_id, "method": method, "params": params}))
        reply = await asyncio.wait_for(future, 60)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result


async def _loaded(tools: _DevTools, url: str) -> None:
    """Wait until the page at ``url`` (not the first about:blank) has finished loading."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT_S
    while loop.time() < deadline:
        state = await tools.call(
            "Runtime.evaluate", expression="[location.href, document.readyState]", returnByValue=True
        )
        if state.get("result", {}).get("value") == [url, "complete"]:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not finish loading")


async def _devtools_port(user_dir: Path, proc: asyncio.subprocess.Process) -> int:
    marker = user_dir / "DevToolsActivePort"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT_S
    while loop.time() < deadline:
        if proc.returncode is not None:
            raise RuntimeError(f"chromium exited with status {proc.returncode}")
        if marker.exists():
            lines = marker.read_text().split()
            if lines:
                return int(lines[0])
        await asyncio.sleep(0.05)
    raise RuntimeError("chromium did not open its DevTools port")


async def open_page(
    path: Path,
    *,
    probe: str = "null",
    width: int = 1300,
    height: int = 900,
    clips: dict[str, str] | None = None,
    full_page: bool = True,
    max_height: int | None = None,
) -> PageResult:
    """Load ``path`` (a file), evaluate ``probe`` (a JS expression returning JSON) and take screenshots.

    ``clips``: name -> CSS selector; each is shot at scale 0.5 (small enough to decode in Python).
    """
    binary = find_chromium()
    if binary is None:
        raise FileNotFoundError("chromium")
    result = PageResult()
    with tempfile.TemporaryDirectory(prefix="spanscope-chromium-") as tmp:
        user_dir = Path(tmp)
        proc = await asyncio.create_subprocess_exec(
            binary,
            *FLAGS,
            f"--user-data-dir={user_dir}",
            f"--window-size={width},{height}",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            port = await _devtools_port(user_dir, proc)
            async with aiohttp.ClientSession() as http:
                async with http.get(f"http://127.0.0.1:{port}/json/list") as reply:
                    targets = await reply.json()
                page = next(t for t in targets if t.get("type") == "page")
                async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                    tools = _DevTools(ws)
                    for domain in ("Page", "Network", "Runtime", "Log"):
                        await tools.call(f"{domain}.enable")
                    await tools.call(
                        "Emulation.setDeviceMetricsOverride",
                        width=width,
                        height=height,
                        deviceScaleFactor=1,
                        mobile=False,
                    )
                    url = path.resolve().as_uri()
                    await tools.call("Page.navigate", url=url)
                    await _loaded(tools, url)
                    value = await tools.call("Runtime.evaluate", expression=probe, returnByValue=True)
                    result.probe = value.get("result", {}).get("value")
                    for name, selector in (clips or {}).items():
                        box = await tools.call(
                            "Runtime.evaluate",
                            expression=(
                                f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
                                ".getBoundingClientRect(); return [r.left + scrollX, r.top + scrollY, r.width, "
                                "r.height]; })()"
                            ),
                            returnByValue=True,
                        )
                        x, y, w, h = box["result"]["value"]
                        shot = await tools.call(
                            "Page.captureScreenshot",
                            format="png",
                            captureBeyondViewport=True,
                            clip={"x": x, "y": y, "width": max(1, w), "height": max(1, h), "scale": 0.5},
                        )
                        result.screenshots[name] = _b64(shot["data"])
                    if full_page:
                        size = await tools.call(
                            "Runtime.evaluate",
                            expression="[document.documentElement.scrollWidth, document.documentElement.scrollHeight]",
                            returnByValue=True,
                        )
                        w, h = size["result"]["value"]
                        h = min(h, max_height) if max_height else h
                        shot = await tools.call(
                            "Page.captureScreenshot",
                            format="png",
                            captureBeyondViewport=True,
                            clip={"x": 0, "y": 0, "width": w, "height": h, "scale": 1},
                        )
                        result.screenshots["page"] = _b64(shot["data"])
                    tools.reader.cancel()
                    _collect(tools.events, result)
        finally:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
    return result


def _b64(data: str) -> bytes:
    import base64

    return base64.b64decode(data)


def _collect(events: list[dict[str, Any]], result: PageResult) -> None:
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Network.requestWillBeSent":
            result.requests.append(params["request"]["url"])
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            result.errors.append(json.dumps(params.get("args")))
        elif method == "Runtime.exceptionThrown":
            result.errors.append(json.dumps(params.get("exceptionDetails")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            result.errors.append(params["entry"].get("text", ""))


def decode_png(data: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, channels, raw pixel bytes) of an 8-bit, non-interlaced RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _c, _f, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0 and colour in (2, 6), (depth, colour, interlace)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    out = bytearray()
    previous = bytearray(stride)
    i = 0
    for _row in range(height):
        row_filter = raw[i]
        line = bytearray(raw[i + 1 : i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b = previous[x]
            c = previous[x - channels] if x >= channels else 0
            if row_filter == 1:
                line[x] = (line[x] + a) & 255
            elif row_filter == 2:
                line[x] = (line[x] + b) & 255
            elif row_filter == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif row_filter == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                predictor = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + predictor) & 255
        out += line
        previous = line
    return width, height, channels, bytes(out)


def colours(data: bytes) -> dict[tuple[int, int, int], int]:
    """Pixel count per RGB colour of a PNG."""
    width, height, channels, pixels = decode_png(data)
    counts: dict[tuple[int, int, int], int] = {}
    for k in range(0, width * height * channels, channels):
        rgb = (pixels[k], pixels[k + 1], pixels[k + 2])
        counts[rgb] = counts.get(rgb, 0) + 1
    return counts


def main(argv: list[str]) -> int:
    source, target = Path(argv[0]), Path(argv[1])
    width = int(argv[2]) if len(argv) > 2 else 1300
    max_height = int(argv[3]) if len(argv) > 3 else None
    result = asyncio.run(open_page(source, width=width, max_height=max_height))
    target.write_bytes(result.screenshots["page"])
    print(f"{target}: {len(result.requests)} requests, {len(result.errors)} errors", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main(sys.argv[1:]))
