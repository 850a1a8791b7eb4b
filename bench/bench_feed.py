"""Feed benchmark: For You and Following under concurrent load through daphne, on PostgreSQL.

    .venv/bin/python bench/bench_feed.py --posts 10000
    .venv/bin/python bench/bench_feed.py --posts 1000000 --users 50000 --reuse

Steps: (re)create the database `--db` on the `--pg` server, migrate, `seed_demo`, collect static
files, then start daphne (DEBUG off, persistent DB connections) on a free loopback port and drive
each page for `--duration` seconds with `--connections` concurrent keep-alive connections (wrk if
installed, else a thread-per-connection urllib loader), after a short warm-up. A trivial view
(`/healthz`, no database) is measured in the same run as the baseline for the server itself.
Queries per page are counted in-process with Django's test client on the same database.

Prints a Markdown table: p50, p99 latency (ms), requests/s, errors, queries per page.
Everything stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_env(args) -> dict:
    var = ROOT / "var"
    env = os.environ.copy()
    env.update(
        DATABASE_URL=f"{args.pg.rstrip('/')}/{args.db}",
        REDIS_URL=args.redis,
        DEBUG="false",
        SECRET_KEY="bench-feed-not-a-secret-" + "x" * 32,
        SECURE_SSL_REDIRECT="false",
        DB_CONN_MAX_AGE="0",  # ASGI runs each request in its own thread: persistent connections would pile up,
        MEDIA_ROOT=str(var / "bench-media"),
        STATIC_ROOT=str(var / "bench-static"),
        CHANNELS_PREFIX="bench-feed",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="sora_site.settings",
        PYTHONUNBUFFERED="1",
    )
    return env


def run(cmd: list[str], env: dict) -> float:
    started = time.monotonic()
    subprocess.run(cmd, env=env, cwd=ROOT, check=True)
    return time.monotonic() - started


def create_database(args) -> bool:
    """Create the benchmark database; returns False when --reuse found it already seeded."""
    import psycopg

    with psycopg.connect(f"{args.pg.rstrip('/')}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [args.db]).fetchone()
        if exists and args.reuse:
            return False
        if exists:
            conn.execute(f'DROP DATABASE "{args.db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.db}"')
    return True


def prepare(args, env: dict) -> dict:
    """Migrate and seed (unless reused); returns timings."""
    timings = {}
    fresh = create_database(args)
    if fresh:
        # System checks are the test suite's business, not the benchmark's.
        run([PYTHON, "manage.py", "migrate", "-v0", "--skip-checks"], env)
        users = args.users or max(50, args.posts // 20)
        cmd = [PYTHON, "manage.py", "seed_demo", "--skip-checks", "--seed", "1"]
        cmd += ["--users", str(users), "--posts", str(args.posts)]
        timings["seed_s"] = run(cmd, env)
        import psycopg

        with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
    run([PYTHON, "manage.py", "collectstatic", "--noinput", "-v0", "--skip-checks"], env)
    return timings


def setup_django(env: dict) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def viewer_and_cookie() -> tuple[str, str, int]:
    """An adult who follows the most people, logged in: (handle, session cookie, follows)."""
    from django.db.models import Count
    from django.test import Client

    from accounts.models import User

    adults = [u for u in User.objects.annotate(n=Count("following_set")).order_by("-n")[:20] if not u.is_teen]
    viewer = adults[0]
    client = Client()
    client.force_login(viewer)
    return viewer.handle, client.cookies["sessionid"].value, viewer.n


def count_queries(paths: dict[str, str], cookie: str) -> dict[str, int]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for name, path in paths.items():
        client = Client(HTTP_HOST="127.0.0.1")
        if cookie and not name.endswith("anonymous"):
            client.cookies["sessionid"] = cookie
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(path)
        assert response.status_code == 200, (name, response.status_code)
        counts[name] = len(ctx.captured_queries)
    return counts


def start_daphne(env: dict, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    fh = open(log, "wb")
    proc = subprocess.Popen(
        [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "sora_site.asgi:application"],
        env=env, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=2).close()
            return proc, url
        except (urllib.error.URLError, OSError):
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("daphne did not start; see " + str(log))


# --- load generators ------------------------------------------------------------------------


def parse_wrk_time(text: str) -> float:
    """'12.34ms' / '1.2s' / '850us' -> milliseconds."""
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000}[unit]


def load_wrk(url: str, cookie: str, seconds: int, connections: int) -> dict:
    cmd = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", "--timeout", "10s"]
    if cookie:
        cmd += ["-H", f"Cookie: sessionid={cookie}"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    p50 = parse_wrk_time(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = parse_wrk_time(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = (int(bad.group(1)) if bad else 0) + (sum(map(int, errors.groups())) if errors else 0)
    return {"p50": p50, "p99": p99, "rps": rps, "requests": total, "errors": failed}


def load_threads(url: str, cookie: str, seconds: int, connections: int) -> dict:
    """Fallback loader: one thread per connection, urllib (new connection per request)."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    headers = {"Cookie": f"sessionid={cookie}"} if cookie else {}

    def worker():
        mine = []
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
                    r.read()
                mine.append((time.perf_counter() - started) * 1000)
            except OSError:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "p50": q[49],
        "p99": q[98],
        "rps": len(latencies) / seconds,
        "requests": len(latencies),
        "errors": errors[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=0, help="default: posts/20, at least 50")
    parser.add_argument("--db", default="bench_feed")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/3"))
    parser.add_argument("--duration", type=int, default=15, help="seconds of load per page")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--reuse", action="store_true", help="keep an already seeded database")
    parser.add_argument("--loader", choices=["auto", "wrk", "threads"], default="auto")
    args = parser.parse_args()

    env = bench_env(args)
    timings = prepare(args, env)
    setup_django(env)
    from feed.models import Post

    posts = Post.objects.count()
    handle, cookie, follows = viewer_and_cookie()
    paths = {
        "healthz (baseline)": "/healthz",
        "For You": "/",
        "Following": "/following/",
        "For You, anonymous": "/",
    }
    queries = count_queries(paths, cookie)

    use_wrk = args.loader == "wrk" or (args.loader == "auto" and shutil.which("wrk"))
    load = load_wrk if use_wrk else load_threads
    log = ROOT / "var" / "bench-daphne.log"
    proc, base = start_daphne(env, log)
    results = {}
    try:
        for name, path in paths.items():
            jar = "" if name.endswith("anonymous") or name.startswith("healthz") else cookie
            load(base + path, jar, args.warmup, args.connections)
            results[name] = load(base + path, jar, args.duration, args.connections)
            print(name, results[name], flush=True)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # daphne waits for in-flight requests; don't
            proc.kill()
            proc.wait()

    print()
    print(
        f"{posts} posts, viewer @{handle} follows {follows}; {args.connections} connections, "
        f"{args.duration} s per page, loader {'wrk' if use_wrk else 'threads'}, daphne (1 process), "
        f"PostgreSQL; seeding took {timings.get('seed_s', 0):.0f} s"
    )
    print()
    print("| page | p50 ms | p99 ms | req/s | requests | errors | queries/page |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        print(
            f"| {name} | {r['p50']:.1f} | {r['p99']:.1f} | {r['rps']:.0f} | {r['requests']} | "
            f"{r['errors']} | {queries[name]} |"
        )


if __name__ == "__main__":
    main()
