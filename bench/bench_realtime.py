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
        DEBUG="true",
    )


def publisher(tmp: str, user_ids: list[int], messages: int, rate: float, ready) -> None:
    setup_env(Path(tmp))
    import django

    django.setup()
    from generation.events import publish

    ready.wait()
    interval = 1.0 / rate
    for i in range(messages):
        user_id = user_ids[i % len(user_ids)]
        publish(user_id, {"kind": "bench", "seq": i, "sent": time.time()})
        time.sleep(interval)


async def run_clients(url: str, cookies: list[str], expected: dict[int, int], settle: float, connected_cb):
    import websockets

    latencies: list[float] = []
    received: dict[int, int] = {}

    async def client(cookie: str, index: int):
        async with websockets.connect(
            url, additional_headers={"Cookie": f"sessionid={cookie}", "Origin": "http://127.0.0.1"},
            open_timeout=60, max_queue=None,
        ) as ws:  # fmt: skip
            await connected.put(1)
            while True:
                raw = await ws.recv()
                now = time.time()
                event = json.loads(raw)
                if event.get("kind") == "bench":
                    latencies.append(now - event["sent"])
                    received[index] = received.get(index, 0) + 1

    connected: asyncio.Queue = asyncio.Queue()
    tasks = []
    for i, cookie in enumerate(cookies):
        tasks.append(asyncio.create_task(client(cookie, i)))
        if i % 50 == 49:
            await asyncio.sleep(0.05)  # don't stampede the accept loop
    for _ in cookies:
        await connected.get()
    connected_cb()
    total = sum(expected.values())
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline and len(latencies) < total:
        await asyncio.sleep(0.1)
    for t in tasks:
        t.cancel()
    return latencies, total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", default="1,100,1000")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0, help="events per second")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-rt-"))
    setup_env(tmp)
    from sora_site import embedded_redis

    sock = tmp / "redis.sock"
    redis_proc = embedded_redis.start(sock, tmp / "redis.log")
    os.environ["REDIS_URL"] = f"unix://{sock}"
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from accounts.models import User

    call_command("migrate", verbosity=0)
    counts = [int(c) for c in args.clients.split(",")]
    users = [User(handle=f"rt{i}", email=f"rt{i}@example.com") for i in range(max(counts))]
    User.objects.bulk_create(users)
    users = list(User.objects.order_by("pk"))
    cookies = []
    for u in users:
        c = Client()
        c.force_login(u)
        cookies.append(c.cookies["sessionid"].value)

    port = 8765
    daphne = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "sora_site.asgi:application"],
        cwd=ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(4)
    print(f"one daphne process, {os.cpu_count()} cores, {args.messages} events at {args.rate:.0f}/s per run")
    try:
        for n in counts:
            ids = [u.pk for u in users[:n]]
            expected = {i: 0 for i in range(n)}
            for m in range(args.messages):
                expected[m % n] += 1
            ready = multiprocessing.Event()
            pub = multiprocessing.Process(
                target=publisher, args=(str(tmp), ids, args.messages, args.rate, ready)
            )
            pub.start()
            latencies, total = asyncio.run(
                run_clients(
                    f"ws://127.0.0.1:{port}/ws/events/", cookies[:n], expected,
                    settle=args.messages / args.rate + 20, connected_cb=ready.set,
                )
            )  # fmt: skip
            pub.join()
            q = statistics.quantiles([x * 1000 for x in latencies], n=100) if len(latencies) > 1 else [0] * 99
            print(
                f"{n:5d} clients: received {len(latencies)}/{total}, lost {total - len(latencies)}, "
                f"p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, p99 {q[98]:.1f} ms"
            )
    finally:
        daphne.terminate()
        redis_proc.terminate()


if __name__ == "__main__":
    main()
