"""A light HTTP/1.1 load client: raw asyncio streams, no HTTP library.

The fallback for bench/workorders.py when `wrk` is not installed (`apt-get install wrk`).
A Python client built on httpx costs about a core at ~300 req/s (DESIGN.md §7); this
one writes pre-built request bytes and parses only the status line and the headers it
needs, so it can drive a few thousand requests per second from one core.

    BENCH_AUTH="Bearer cl_..." python bench/httpload.py --url http://127.0.0.1:8765 \\
        --requests requests.tsv --duration 20 --concurrency 8

Same input (METHOD<TAB>PATH[<TAB>JSON BODY] per line) and the same measurement as
bench/requests.lua: latency from writing the request to reading the whole response
(connection setup excluded, as wrk does), keep-alive when the server allows it and a
new connection when it answers `Connection: close`. Prints one `BENCH_JSON {...}` line.
"""

import argparse
import asyncio
import json
import os
import time
from urllib.parse import urlsplit


def load_requests(path: str, host: str, auth: str) -> list[bytes]:
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not line:
                continue
            method, target, *rest = line.split("\t", 2)
            body = rest[0].encode() if rest and rest[0] else b""
            head = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Accept: application/json",
                    "Connection: keep-alive"]
            if auth:
                head.append(f"Authorization: {auth}")
            if body or method in ("POST", "PUT", "PATCH"):
                head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
            out.append(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    if not out:
        raise SystemExit(f"no requests in {path}")
    return out


class Stats:
    def __init__(self):
        self.latencies: list[int] = []  # ns
        self.ok = 0
        self.non2xx = 0
        self.errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
        self.first_error = ""


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, chunked, close = None, False, lines[0].startswith(b"HTTP/1.0")
    for h in lines[1:]:
        name, _, value = h.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection":
            close = value.strip().lower() == b"close"
    if chunked:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            parts.append(await reader.readexactly(size + 2))
            if size == 0:
                break
        body = b"".join(parts)
    elif length is not None:
        body = await reader.readexactly(length)
    else:
        body, close = await reader.read(), True
    return status, body, close


async def _worker(no: int, host: str, port: int, reqs: list[bytes], deadline: float, stats: Stats,
                  timeout: float) -> None:
    i = no * (len(reqs) // 8)
    reader = writer = None
    while time.monotonic() < deadline:
        if writer is None:
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
            except (OSError, TimeoutError):
                stats.errors["connect"] += 1
                await asyncio.sleep(0.01)
                continue
        req = reqs[i % len(reqs)]
        i += 1
        t0 = time.perf_counter_ns()
        try:
            writer.write(req)
            await writer.drain()
        except OSError:
            stats.errors["write"] += 1
            writer.close()
            writer = None
            continue
        try:
            status, body, close = await asyncio.wait_for(_read_response(reader), timeout)
        except TimeoutError:
            stats.errors["timeout"] += 1
            close = True
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, IndexError):
            stats.errors["read"] += 1
            close = True
        else:
            stats.latencies.append(time.perf_counter_ns() - t0)
            if 200 <= status < 300:
                stats.ok += 1
            else:
                stats.non2xx += 1
                if not stats.first_error:
                    stats.first_error = f"{status} {body[:300].decode(errors='replace')}".replace("\n", " ")
        if close:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


def percentile(sorted_values: list[int], p: float) -> int:
    if not sorted_values:
        return 0
    k = max(0, min(len(sorted_values) - 1, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


async def run(url: str, requests_file: str, duration: float, concurrency: int, timeout: float) -> dict:
    u = urlsplit(url)
    host, port = u.hostname, u.port or 80
    reqs = load_requests(requests_file, u.netloc, os.environ.get("BENCH_AUTH", ""))
    stats = Stats()
    t0 = time.monotonic()
    deadline = t0 + duration
    await asyncio.gather(*(_worker(n, host, port, reqs, deadline, stats, timeout) for n in range(concurrency)))
    elapsed = time.monotonic() - t0
    lat = sorted(stats.latencies)
    us = [v // 1000 for v in lat]
    return {
        "requests": len(lat), "duration_us": int(elapsed * 1e6), "ok": stats.ok, "non2xx": stats.non2xx,
        "socket_errors": stats.errors,
        "latency_us": {"min": us[0] if us else 0, "mean": round(sum(us) / len(us), 1) if us else 0,
                       "max": us[-1] if us else 0, "p50": percentile(us, 50), "p90": percentile(us, 90),
                       "p95": percentile(us, 95), "p99": percentile(us, 99), "p999": percentile(us, 99.9)},
        "first_error": stats.first_error,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True)
    p.add_argument("--requests", required=True, help="file of METHOD<TAB>PATH[<TAB>BODY] lines")
    p.add_argument("--duration", type=float, default=20)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--timeout", type=float, default=10)
    args = p.parse_args()
    result = asyncio.run(run(args.url, args.requests, args.duration, args.concurrency, args.timeout))
    err = result.pop("first_error")
    print("BENCH_JSON " + json.dumps(result), flush=True)
    if err:
        print("BENCH_ERROR " + err, flush=True)


if __name__ == "__main__":
    main()
