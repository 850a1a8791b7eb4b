"""The feed benchmark's load client: simulated users on raw HTTP/1.1 keep-alive connections, one
asyncio process (bench/bench_feed.py drives it), and the sums of its turns."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
import urllib.parse


def summarize(latencies: list[float], errors: int, seconds: float, shed: int = 0) -> dict:
    """`errors`: answers >= 400 other than 503, and no answer within 10 s; `shed`: 503s
    (LoadSheddingMiddleware's fast "busy, retry")."""
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "p50": q[49],
        "p99": q[98],
        "rps": len(latencies) / seconds,
        "requests": len(latencies),
        "errors": errors,
        "seconds": seconds,
        "raw": latencies,
        "shed": shed,
    }


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response (Content-Length or chunked body); returns the status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)  # the chunk and its CRLF
            if size == 0:
                break
    if headers.get("connection", "").lower() == "close":
        raise ConnectionResetError("server closed the connection")
    return status


async def _load_async(url: str, cookie: str, seconds: float, connections: int, think: float) -> dict:
    parts = urllib.parse.urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request = f"GET {target} HTTP/1.1\r\nHost: {parts.hostname}\r\nUser-Agent: bench-feed\r\n"
    if cookie:
        request += f"Cookie: {cookie}\r\n"
    request = (request + "\r\n").encode()
    latencies: list[float] = []
    errors = shed = 0
    stop = time.monotonic() + seconds

    async def user(index: int) -> None:
        nonlocal errors, shed
        reader = writer = None
        if think:  # spread the users' first requests over one think time
            await asyncio.sleep(think * index / connections)
        while time.monotonic() < stop:
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
                started = time.perf_counter()
                writer.write(request)
                status = await asyncio.wait_for(_read_response(reader), timeout=10)
                latencies.append((time.perf_counter() - started) * 1000)
                if status == 503:
                    shed += 1
                elif status >= 400:
                    errors += 1
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                if writer is not None:
                    writer.close()
                reader = writer = None
            if think:
                await asyncio.sleep(random.uniform(0.5, 1.5) * think)
        if writer is not None:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(user(i) for i in range(connections)))
    return summarize(latencies, errors, time.monotonic() - started, shed)


def load_async(url: str, cookie: str, seconds: int, connections: int, think: float = 0.0) -> dict:
    """Default loader: one asyncio task per user on a raw HTTP/1.1 keep-alive connection.

    One process, a few percent of a core at a few hundred requests/s, so on a two-core machine
    it leaves the CPU to the server it measures. `think` > 0 makes each user wait
    uniform(0.5, 1.5) x `think` seconds between requests (a person scrolling) instead of firing
    the next request at once (saturation)."""
    return asyncio.run(_load_async(url, cookie, seconds, connections, think))


def merge(total: dict, r: dict) -> None:
    total["raw"].extend(r["raw"])
    total["errors"] += r["errors"]
    total["shed"] += r.get("shed", 0)
    total["seconds"] += r["seconds"]
    total["cpu"] += r["server_cpu"]
    total["turns"].append(r["rps"])
