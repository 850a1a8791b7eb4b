"""Realtime benchmark: worker-side publish → browser-like WebSocket client, through one daphne.

    .venv/bin/python bench/bench_realtime.py [--clients 1,100,1000] [--messages 2000]

Each client is a signed-in user with one socket on /ws/events/ (session cookie + Origin header,
exactly as a browser connects). The publisher calls generation.events.publish() from a separate
OS process, as an RQ worker does, stamping each event with time.time(); clients record arrival.
Reports p50/p95/p99 latency and how many messages were lost. Loopback only.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_env(tmp: Path) -> None:
    os.environ.update(
        VAR_DIR=str(tmp),
        DJANGO_SETTINGS_MODULE="sora_site.settings",
        CHANNELS_PREFIX="bench-rt",
        # As in production: DEBUG off (DEBUG keeps every query of the process in memory).
        DEBUG="false",
        SECRET_KEY="bench-realtime-not-a-secret-" + "x" * 32,
        SECURE_SSL_REDIRECT="false",
        LOG_LEVEL="WARNING",
    )


def publisher(tmp: str, messages: int, rate: float, targets) -> None:
    """Publish `messages` events round-robin to the users whose ids arrive on `targets` (sent once
    every client is connected), at `rate` per second, as a worker process does."""
    setup_env(Path(tmp))
    import django

    django.setup()
    from generation.events import publish

    user_ids = targets.get()
    interval = 1.0 / rate
    for i in range(messages):
        user_id = user_ids[i % len(user_ids)]
        publish(user_id, {"kind": "bench", "seq": i, "sent": time.time()})
        time.sleep(interval)


async def open_sockets(url: str, cookies: list[str], batch: int) -> tuple[list, float]:
    """Connect one socket per cookie, `batch` handshakes at a time; returns (sockets, seconds),
    with None for a socket that could not be opened (after three tries).

    Batches keep each handshake well inside daphne's 5 s `--websocket_connect_timeout` on a busy
    machine (every connect runs its session and user lookups through Channels' one database
    thread); opening all 1000 at once also worked on this machine, in about the same time."""
    import websockets

    headers = {"Origin": "http://127.0.0.1"}

    async def connect(cookie: str):
        for attempt in range(3):
            try:
                return await websockets.connect(
                    url, additional_headers=dict(headers, Cookie=f"sessionid={cookie}"),
                    open_timeout=30, max_queue=None, ping_interval=None,
                )  # fmt: skip
            except (OSError, TimeoutError, websockets.exceptions.WebSocketException):
                await asyncio.sleep(0.2 * (attempt + 1))
        return None

    started = time.monotonic()
    sockets = []
    for first in range(0, len(cookies), batch):
        sockets += await asyncio.gather(*(connect(c) for c in cookies[first : first + batch]))
    return sockets, time.monotonic() - started


async def run_clients(url: str, cookies: list[str], total: int, settle: float, batch: int, connected_cb):
    """Open the sockets, call `connected_cb(indices of the open ones)`, collect latencies until
    `total` events arrived or `settle` seconds passed. Returns (latencies, failed, connect_s)."""
    latencies: list[float] = []
    opened, connect_s = await open_sockets(url, cookies, batch)
    sockets = [ws for ws in opened if ws is not None]

    async def listen(ws) -> None:
        async for raw in ws:
            now = time.time()
            event = json.loads(raw)
            if event.get("kind") == "bench":
                latencies.append(now - event["sent"])

    tasks = [asyncio.create_task(listen(ws)) for ws in sockets]
    connected_cb([i for i, ws in enumerate(opened) if ws is not None])
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline and len(latencies) < total:
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # anything still in flight (and duplicates, were there any)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return latencies, len(opened) - len(sockets), connect_s


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", default="1,100,1000")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0, help="events per second")
    parser.add_argument("--batch", type=int, default=50, help="WebSocket handshakes in flight at once")
    args = parser.parse_args()

    counts = [int(c) for c in args.clients.split(",")]
    raise_open_files_limit(max(counts) + 256)
    tmp = Path(tempfile.mkdtemp(prefix="bench-rt-"))
    setup_env(tmp)
    from sora_site import embedded_redis

    sock = tmp / "redis.sock"
    redis_proc = embedded_redis.start(sock, tmp / "redis.log")
    os.environ["REDIS_URL"] = f"unix://{sock}"
    users, cookies = signed_in_users(max(counts))
    port = free_port()
    daphne = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "sora_site.asgi:application"],
        cwd=ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_for_port(port)
    print(
        f"one daphne process, {os.cpu_count()} cores, {args.messages} events at {args.rate:.0f}/s per run, "
        f"handshakes {args.batch} at a time; load average {os.getloadavg()[0]:.1f}"
    )
    try:
        for n in counts:
            run_round(args, tmp, port, users[:n], cookies[:n])
    finally:
        daphne.terminate()
        redis_proc.terminate()


def signed_in_users(count: int) -> tuple[list, list[str]]:
    """Django set up and migrated, `count` users, and a session cookie for each."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from accounts.models import User

    call_command("migrate", verbosity=0)
    User.objects.bulk_create([User(handle=f"rt{i}", email=f"rt{i}@example.com") for i in range(count)])
    users = list(User.objects.order_by("pk"))
    cookies = []
    for u in users:
        c = Client()
        c.force_login(u)
        cookies.append(c.cookies["sessionid"].value)
    return users, cookies


def run_round(args: argparse.Namespace, tmp: Path, port: int, users: list, cookies: list[str]) -> None:
    """One run with len(users) clients: the publisher sends to those connected; print latencies."""
    n = len(users)
    targets = multiprocessing.Queue()
    pub = multiprocessing.Process(target=publisher, args=(str(tmp), args.messages, args.rate, targets))
    pub.start()

    def connected(indices):
        targets.put([users[i].pk for i in indices] or [users[0].pk])

    latencies, failed, connect_s = asyncio.run(
        run_clients(
            f"ws://127.0.0.1:{port}/ws/events/", cookies, args.messages,
            settle=args.messages / args.rate + 30, batch=args.batch, connected_cb=connected,
        )
    )  # fmt: skip
    pub.join()
    q = statistics.quantiles([x * 1000 for x in latencies], n=100) if len(latencies) > 1 else [0] * 99
    print(
        f"{n:5d} clients ({n - failed} connected in {connect_s:.1f} s, {failed} failed): "
        f"received {len(latencies)}/{args.messages}, lost {args.messages - len(latencies)}, "
        f"p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, p99 {q[98]:.1f} ms; "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )


def raise_open_files_limit(needed: int) -> None:
    """Each socket is a file descriptor, in this process and in daphne (which inherits the limit).
    With the common soft limit of 1024, connects past ~950 fail with EMFILE: that is what stopped
    the previous round's 1000-client run (and the old script then waited forever for the sockets
    that never opened). Raise the soft limit up to the hard one; failures are reported, not hung on."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        if target < needed:
            print(f"open files limited to {target} (hard limit): expect failed connections")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("daphne did not start")


if __name__ == "__main__":
    main()
