"""Fuzz benchmark: malformed X-Ray datagrams and OTLP bodies against a `spanscope collect` process.

Run ``python -m benchmarks.bench_fuzz [--count 100000] [--quick]``. Inputs are mutated valid bodies
(bit flips, byte overwrites, truncation, insertion, deletion, duplication, splices, random bytes,
protobuf length prefixes inflated to ~4 GiB, deep JSON nesting, huge numbers, broken gzip streams),
sent to every endpoint: X-Ray UDP, OTLP/HTTP protobuf, OTLP/HTTP JSON, OTLP/HTTP gzip and OTLP/gRPC.
Then the hostile specials: a gzip bomb (1 GiB of zeros in ~1 MiB), an absurd ``Content-Length``,
a chunked body declaring an absurd chunk size, protobuf length prefixes of 2^32 on HTTP and gRPC.

It checks and reports: the collector is still running and answers a valid request; every input is
accounted for in its counters (UDP: sent = received + kernel drops, received = accepted + rejected +
dropped; HTTP and gRPC: requests = accepted + rejected, and the client saw the same split); no 5xx
other than 503-with-Retry-After and no gRPC code other than OK / INVALID_ARGUMENT / RESOURCE_EXHAUSTED;
peak RSS (VmHWM) of the collector against its idle RSS (the baseline measured in the same run).
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import random
import socket
import tempfile
import threading
import time
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson

from benchmarks.collector_process import CollectorProc

HEADER = b'{"format":"json","version":1}\n'
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
ENDPOINTS = ("xray_udp", "otlp_http_protobuf", "otlp_http_json", "otlp_http_gzip", "otlp_grpc")


# --- inputs -------------------------------------------------------------------------------------------


def _spans(n: int, seed: int) -> list[Any]:
    from spanscope.collectors.model import Kind, Span, SpanEvent, SpanException, SpanLink, Status

    rng = random.Random(seed)
    base = 1_763_700_000_000_000_000
    out = []
    for i in range(n):
        trace_id = f"{base // 10**9:08x}{rng.randrange(1, 2**96):024x}"
        out.append(
            Span(
                trace_id,
                f"{rng.randrange(1, 2**64):016x}",
                None if i % 3 == 0 else f"{rng.randrange(1, 2**64):016x}",
                f"svc{i % 4}",
                f"op {i}",
                list(Kind)[i % 5],
                base + i,
                base + i + 1000,
                status=list(Status)[i % 4],
                attributes={"http.response.status_code": 500, "s": "x" * (i % 50), "n": i, "f": 0.5, "l": [1, 2]},
                annotations={"a": i},
                resource={"service.name": f"svc{i % 4}", "cloud.platform": "aws_lambda"},
                events=[SpanEvent("e", base + i, {"k": "v"})],
                exceptions=[SpanException("E", "m", "stack")],
                links=[SpanLink(trace_id, "1" * 16, {"k": 1})],
            )
        )
    return out


def valid_samples() -> dict[str, list[bytes]]:
    from spanscope.collectors.formats.otlp_json_out import request_from_spans
    from spanscope.collectors.formats.otlp_proto import spans_to_request
    from spanscope.collectors.formats.xray_out import document_from_span

    spans = _spans(40, 1)
    chunks = [spans[i : i + 5] for i in range(0, len(spans), 5)]
    proto = [spans_to_request(c).SerializeToString() for c in chunks]
    docs = [HEADER + orjson.dumps(document_from_span(s)) for s in spans]
    nested = dict(orjson.loads(docs[0][len(HEADER) :]))
    nested["subsegments"] = [
        {"id": f"{k + 1:016x}", "name": f"sub{k}", "start_time": 1.5, "end_time": 2.5, "namespace": "aws"}
        for k in range(5)
    ]
    docs.append(HEADER + orjson.dumps(nested))
    return {
        "xray_udp": docs,
        "otlp_http_protobuf": proto,
        "otlp_http_json": [orjson.dumps(request_from_spans(c)) for c in chunks],
        "otlp_http_gzip": proto,
        "otlp_grpc": proto,
    }


_INTERESTING = [
    b"\x00",
    b"\xff",
    b"\x80",
    b"\x7f",
    b"{",
    b"}",
    b"[",
    b"]",
    b'"',
    b"\\",
    b"\n",
    b"-1",
    b"1e999",
    b"null",
]


def _inflate_length_prefix(rng: random.Random, data: bytes) -> bytes:
    """Replace a protobuf length-delimited field's length with a ~4 GiB varint (or a 10-byte one)."""
    positions = [i for i in range(len(data) - 1) if data[i] & 0x07 == 2 and data[i] >> 3 in (1, 2, 3, 4, 5, 6, 7)]
    if not positions:
        return data
    i = rng.choice(positions)
    huge = rng.choice([b"\xff\xff\xff\xff\x0f", b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", b"\x80\x80\x80\x80\x08"])
    # skip the old varint length
    j = i + 1
    while j < len(data) and data[j] & 0x80:
        j += 1
    return data[: i + 1] + huge + data[j + 1 :]


def mutate(rng: random.Random, data: bytes, pool: list[bytes], kind: str) -> bytes:
    """One malformed (or, by chance, still valid) variant of ``data``."""
    op = rng.randrange(13)
    b = bytearray(data)
    if op == 0 and b:  # bit flips
        for _ in range(rng.randrange(1, 9)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    elif op == 1 and b:  # overwrite bytes
        for _ in range(rng.randrange(1, 5)):
            b[rng.randrange(len(b))] = rng.randrange(256)
    elif op == 2:  # truncate
        del b[rng.randrange(len(b) + 1) :]
    elif op == 3:  # insert
        i = rng.randrange(len(b) + 1)
        b[i:i] = rng.choice(_INTERESTING) * rng.randrange(1, 20)
    elif op == 4 and b:  # delete a range
        i = rng.randrange(len(b))
        del b[i : i + rng.randrange(1, 64)]
    elif op == 5 and b:  # duplicate a range
        i = rng.randrange(len(b))
        b[i:i] = b[i : i + rng.randrange(1, 256)]
    elif op == 6:  # splice with another sample
        other = rng.choice(pool)
        b = bytearray(data[: rng.randrange(len(data) + 1)] + other[rng.randrange(len(other) + 1) :])
    elif op == 7:  # random bytes
        b = bytearray(rng.randbytes(rng.randrange(0, 2048)))
    elif op == 8 and kind in ("otlp_http_protobuf", "otlp_grpc", "otlp_http_gzip"):
        b = bytearray(_inflate_length_prefix(rng, data))
    elif op == 9 and kind in ("otlp_http_json", "xray_udp"):  # deep nesting at a random place
        i = rng.randrange(len(b) + 1)
        depth = rng.choice([100, 1000, 5000, 20000])
        b[i:i] = b"[" * depth + b"]" * depth
    elif op == 10 and kind in ("otlp_http_json", "xray_udp"):  # absurd values after a random key
        value = rng.choice([b"1e999999", b"-" + b"9" * 400, b'"\\ud800"', b'"' + b"x" * 30000 + b'"', b"nul", b"1.2.3"])
        colons = [k for k, c in enumerate(data) if c == ord(":")]
        if colons:
            k = rng.choice(colons) + 1
            b = bytearray(data[:k] + value + b',"zz":' + data[k:])
    elif op == 11 and kind == "xray_udp":  # header games
        b = bytearray(
            rng.choice([b"", b"{}\n", b'{"format":"json","version":2}\n', b"\n", b"{" * 100]) + data.split(b"\n", 1)[-1]
        )
    else:  # valid sample with a random tail
        b += rng.randbytes(rng.randrange(0, 16))
    out = bytes(b)
    if kind == "otlp_http_gzip":
        packed = gzip.compress(out, compresslevel=1)
        if rng.random() < 0.3:  # break the gzip stream itself
            cut = bytearray(packed)
            if rng.random() < 0.5:
                del cut[rng.randrange(len(cut)) :]
            else:
                cut[rng.randrange(len(cut))] ^= 0xFF
            packed = bytes(cut)
        return packed
    if kind == "xray_udp" and len(out) > 65_000:
        out = out[:65_000]
    return out


def generate(kind: str, count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    pool = valid_samples()[kind]
    return [mutate(rng, rng.choice(pool), pool, kind) for _ in range(count)]


# --- senders ------------------------------------------------------------------------------------------


def _vmhwm(pid: int) -> int:
    """Peak resident set (VmHWM) of a process in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _send_http(collector: CollectorProc, bodies: list[bytes], headers: dict[str, str], threads: int) -> Counter[int]:
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    retry_after_missing = 0

    def worker(part: list[bytes]) -> None:
        nonlocal retry_after_missing
        conn = collector.http()
        local: Counter[int] = Counter()
        for body in part:
            for _attempt in range(3):
                try:
                    conn.request("POST", "/v1/traces", body, headers)
                    reply = conn.getresponse()
                    reply.read()
                    break
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = collector.http()
            else:
                local[-1] += 1
                continue
            local[reply.status] += 1
            if reply.status in (429, 503) and not reply.getheader("Retry-After"):
                retry_after_missing += 1
            if reply.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = collector.http()
        conn.close()
        with lock:
            statuses.update(local)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, [bodies[i::threads] for i in range(threads)]))
    if retry_after_missing:
        statuses[-2] = retry_after_missing
    return statuses


def _send_grpc(collector: CollectorProc, bodies: list[bytes], threads: int) -> Counter[str]:
    import grpc

    codes: Counter[str] = Counter()
    target = "{}:{}".format(*collector.addresses["otlp-grpc"])
    with grpc.insecure_channel(target) as channel:
        export = channel.unary_unary(EXPORT, request_serializer=None, response_deserializer=None)

        def one(body: bytes) -> str:
            try:
                export(body, timeout=60)
                return "OK"
            except grpc.RpcError as err:
                return str(err.code().name)

        with ThreadPoolExecutor(threads) as pool:
            codes.update(pool.map(one, bodies))
    return codes


def _send_udp(collector: CollectorProc, datagrams: list[bytes]) -> int:
    target = collector.addresses["xray-udp"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for n, data in enumerate(datagrams):
            sock.sendto(data, target)
            if n % 200 == 199:
                time.sleep(0.002)  # paced; drops in the kernel buffer are counted anyway
        # The kernel reports its drop count with the next datagram read: end with one after a pause.
        time.sleep(0.5)
        sock.sendto(valid_samples()["xray_udp"][0], target)
    return len(datagrams) + 1


def _wait_quiet(collector: CollectorProc, key: str, timeout_s: float = 60) -> dict[str, int]:
    deadline = time.monotonic() + timeout_s
    last = -1
    while time.monotonic() < deadline:
        stats = collector.stats()
        if stats.get(key, 0) == last and stats.get("writer.queue_spans", 0) == 0:
            return stats
        last = stats.get(key, 0)
        time.sleep(0.5)
    return collector.stats()


def _sum(stats: dict[str, int], prefix: str) -> int:
    return sum(v for k, v in stats.items() if k.startswith(prefix))


def _counted(before: dict[str, int], after: dict[str, int], receiver: str, sent: int) -> dict[str, int]:
    """The requests ``receiver`` counted, accepted and rejected between two stats snapshots, beside ``sent``."""
    return {
        "sent": sent,
        "requests": after.get(f"{receiver}.requests", 0) - before.get(f"{receiver}.requests", 0),
        "accepted": after.get(f"{receiver}.accepted", 0) - before.get(f"{receiver}.accepted", 0),
        "rejected": _sum(after, f"{receiver}.rejected:") - _sum(before, f"{receiver}.rejected:"),
    }


def _accounted(counted: dict[str, int]) -> bool:
    """Every request sent was counted, and each was accepted or rejected."""
    return counted["requests"] == counted["sent"] == counted["accepted"] + counted["rejected"]


# --- specials -----------------------------------------------------------------------------------------


def gzip_bomb(inflated_bytes: int) -> bytes:
    """``inflated_bytes`` of zeros, gzip-compressed in a streaming way (never held inflated)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1 << 20)
    parts = [comp.compress(chunk) for _ in range(inflated_bytes >> 20)]
    parts.append(comp.flush())
    return b"".join(parts)


def specials(collector: CollectorProc, bomb_bytes: int) -> dict[str, Any]:
    """Gzip bomb, absurd Content-Length, absurd chunk size, absurd protobuf lengths: replies and RSS."""
    out: dict[str, Any] = {}
    host, port = collector.addresses["otlp-http"]
    bomb = gzip_bomb(bomb_bytes)
    before = _vmhwm(collector.proc.pid)
    conn = collector.http()
    conn.request("POST", "/v1/traces", bomb, {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"})
    reply = conn.getresponse()
    reply.read()
    conn.close()
    out["gzip_bomb"] = {
        "compressed_bytes": len(bomb),
        "inflated_bytes": bomb_bytes,
        "status": reply.status,
        "vmhwm_growth_mb": round((_vmhwm(collector.proc.pid) - before) / 2**20, 1),
    }
    # Content-Length far beyond the body and the cap
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(
            b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
            b"Content-Length: 1000000000000000\r\n\r\n" + b"\x0a\x05hello"
        )
        sock.settimeout(30)
        first = sock.recv(200)
    out["absurd_content_length_status_line"] = first.split(b"\r\n", 1)[0].decode(errors="replace")
    # a chunked body declaring a 2^48-byte chunk, then the client goes away
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(
            b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
            b"Transfer-Encoding: chunked\r\n\r\nffffffffffff\r\n" + b"\x00" * 4096
        )
        time.sleep(0.5)
    # protobuf length prefixes of ~2^32 on HTTP and gRPC
    absurd = [
        b"\x0a\xff\xff\xff\xff\x0f\x12\x00",
        b"\x0a\x07\x12\x05\x12\xff\xff\xff\xff\x0f",
        b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
        b"\x0a\x80\x80\x80\x80\x10" + b"\x00" * 64,
    ]
    statuses = _send_http(collector, absurd, {"Content-Type": "application/x-protobuf"}, 1)
    out["absurd_protobuf_http"] = {str(k): v for k, v in statuses.items()}
    out["absurd_protobuf_grpc"] = dict(_send_grpc(collector, absurd, 1))
    out["vmhwm_after_specials_mb"] = round(_vmhwm(collector.proc.pid) / 2**20, 1)
    return out


# --- run ----------------------------------------------------------------------------------------------


def run(count: int, *, tmp: Path, seed: int = 11, bomb_bytes: int = 1 << 30, threads: int = 4) -> dict[str, Any]:
    """Fuzz every endpoint with ``count`` inputs; returns the accounting and memory figures."""
    collector = CollectorProc(tmp / "fuzz.db")
    report: dict[str, Any] = {"count_per_endpoint": count}
    try:
        time.sleep(0.5)
        report["idle_rss_mb"] = round(collector.rss() / 2**20, 1)
        t0 = time.monotonic()
        for kind in ENDPOINTS:
            inputs = generate(kind, count, seed + ENDPOINTS.index(kind))
            t = time.monotonic()
            if kind == "xray_udp":
                sent = _send_udp(collector, inputs)
                stats = _wait_quiet(collector, "xray_udp.received")
                received = stats.get("xray_udp.received", 0)
                kernel = stats.get("xray_udp.dropped:kernel_buffer", 0)
                accepted = stats.get("xray_udp.accepted", 0)
                rejected = _sum(stats, "xray_udp.rejected:")
                dropped = stats.get("xray_udp.dropped:overload", 0)
                report[kind] = {
                    "sent": sent,
                    "received": received,
                    "kernel_drops": kernel,
                    "accepted": accepted,
                    "rejected": rejected,
                    "dropped_overload": dropped,
                    "receive_errors": stats.get("xray_udp.receive_errors", 0),
                    "accounted": sent == received + kernel and received == accepted + rejected + dropped,
                    "reasons": {k.split(":", 1)[1]: v for k, v in stats.items() if k.startswith("xray_udp.rejected:")},
                }
            elif kind == "otlp_grpc":
                before = collector.stats()
                codes = _send_grpc(collector, inputs, threads)
                counted = _counted(before, collector.stats(), "otlp_grpc", len(inputs))
                report[kind] = {
                    **counted,
                    "client_codes": dict(codes),
                    "accounted": _accounted(counted) and codes["OK"] == counted["accepted"],
                    "unexpected_codes": {
                        c: n for c, n in codes.items() if c not in ("OK", "INVALID_ARGUMENT", "RESOURCE_EXHAUSTED")
                    },
                }
            else:
                headers = {"Content-Type": "application/json" if kind == "otlp_http_json" else "application/x-protobuf"}
                if kind == "otlp_http_gzip":
                    headers["Content-Encoding"] = "gzip"
                before = collector.stats()
                statuses = _send_http(collector, inputs, headers, threads)
                counted = _counted(before, collector.stats(), "otlp_http", len(inputs))
                report[kind] = {
                    **counted,
                    "client_statuses": {str(k): v for k, v in sorted(statuses.items())},
                    "accounted": _accounted(counted) and statuses[200] == counted["accepted"],
                    "unexpected_statuses": {
                        str(s): n for s, n in statuses.items() if s not in (200, 400, 413, 415, 429, 503)
                    },
                }
            report[kind]["seconds"] = round(time.monotonic() - t, 1)
            report[kind]["rss_mb"] = round(collector.rss() / 2**20, 1)
        report["fuzz_seconds"] = round(time.monotonic() - t0, 1)
        report["specials"] = specials(collector, bomb_bytes)
        # still running and still taking valid data
        good = valid_samples()["otlp_http_protobuf"][0]
        statuses = _send_http(collector, [good], {"Content-Type": "application/x-protobuf"}, 1)
        report["valid_after"] = statuses[200] == 1
        report["alive_after"] = collector.alive()
        report["peak_rss_mb"] = round(_vmhwm(collector.proc.pid) / 2**20, 1)
        report["internal_errors"] = {
            k: v for k, v in collector.stats().items() if "internal" in k or "converter_error" in k or "errors" in k
        }
    finally:
        report["exit_code"] = collector.stop()
    return report


def _line(kind: str, r: dict[str, Any]) -> str:
    if kind == "xray_udp":
        return (
            f"{kind}: {r['sent']:,} sent = {r['received']:,} received + {r['kernel_drops']:,} kernel drops; "
            f"{r['accepted']:,} accepted + {r['rejected']:,} rejected + {r['dropped_overload']} dropped; "
            f"accounted {r['accounted']}; {r['seconds']} s; RSS {r['rss_mb']} MiB"
        )
    codes = r.get("client_statuses") or r.get("client_codes")
    return (
        f"{kind}: {r['sent']:,} sent, {r['requests']:,} counted = {r['accepted']:,} accepted + {r['rejected']:,} "
        f"rejected; client saw {codes}; accounted {r['accounted']}; {r['seconds']} s; RSS {r['rss_mb']} MiB"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="inputs per endpoint (default 100,000)")
    parser.add_argument("--quick", action="store_true", help="2,000 inputs per endpoint, 256 MiB bomb")
    parser.add_argument("--bomb-mib", type=int, default=None, help="inflated size of the gzip bomb (default 1024)")
    parser.add_argument("--tmp", type=Path, default=None, help="folder for the store (default a temporary one)")
    args = parser.parse_args(argv)
    count = 2000 if args.quick else args.count
    bomb = (256 << 20) if args.quick else (1 << 30)
    if args.bomb_mib is not None:
        bomb = args.bomb_mib << 20
    with tempfile.TemporaryDirectory(prefix="spanscope-fuzz-", dir=args.tmp) as tmp:
        r = run(count, tmp=Path(tmp), bomb_bytes=bomb)
    for kind in ENDPOINTS:
        print(_line(kind, r[kind]))
    sp = r["specials"]
    print(
        f"gzip bomb {sp['gzip_bomb']['inflated_bytes'] / 2**20:,.0f} MiB in {sp['gzip_bomb']['compressed_bytes']:,} B: "
        f"{sp['gzip_bomb']['status']}, VmHWM +{sp['gzip_bomb']['vmhwm_growth_mb']} MiB; absurd Content-Length: "
        f"{sp['absurd_content_length_status_line']!r}; absurd protobuf lengths: HTTP {sp['absurd_protobuf_http']}, "
        f"gRPC {sp['absurd_protobuf_grpc']}"
    )
    print(
        f"collector alive {r['alive_after']}, valid request after {r['valid_after']}, exit {r['exit_code']}; "
        f"RSS idle {r['idle_rss_mb']} MiB, peak (VmHWM) {r['peak_rss_mb']} MiB "
        f"({r['peak_rss_mb'] / r['idle_rss_mb']:.2f}x idle); {r['fuzz_seconds']} s of fuzzing"
    )
    print(orjson.dumps(r).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
