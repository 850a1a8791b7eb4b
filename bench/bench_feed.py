"""Feed benchmark: For You and Following under concurrent load through daphne, on PostgreSQL.

    .venv/bin/python bench/bench_feed.py --posts 10000
    .venv/bin/python bench/bench_feed.py --db bench_feed_1m --posts 1000000 --users 50000 --reuse
    git archive HEAD | tar -x -C /tmp/head   # then --before /tmp/head: the old code side by side

Steps: (re)create the database `--db` on the `--pg` server, migrate, `seed_demo`, collect static
files, then start two daphne processes (DEBUG off), the second with the For You ranking cache off
(bench/settings_feed_uncached.py), on free loopback ports. Each page is driven by `--connections`
simulated users on raw HTTP/1.1 keep-alive connections (one asyncio process), once per `--think`
value: 0 is saturation (each user sends its next request as soon as the last one is answered:
maximum throughput, and latency = users / throughput by Little's law); 1 makes each user wait
0.5-1.5 s between requests, like a person scrolling. Pages take turns (`--rounds`) so load from
elsewhere on a shared machine hits all of them alike. A trivial view (`/healthz`, no database) is
the baseline for the server itself, in the same run. Queries per page are counted in-process with
Django's test client on the same database. `--before DIR` adds a daphne serving another copy of
the code (same settings and database), `--pooled` one with pooled database connections.

Prints Markdown tables: p50, p99 latency (ms), requests/s and its share of the trivial view's
(over the whole run, and the median of the turns' shares: each page measured within seconds of
the trivial view in the same turn, the figure least moved by load from elsewhere), the server's
CPU time per request and the trivial view's as a share of it, errors (>= 400 or no answer in
10 s), fast 503s ("shed"), queries per page. `--pages` picks pages. All on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
sys.path.insert(0, str(ROOT))

from bench.http_load import load_async, merge, summarize  # noqa: E402


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
    # Steering and search need the posts' vectors (the CPU queue makes them as posts are posted;
    # seed_demo writes rows directly).
    timings["embed_s"] = run([PYTHON, "manage.py", "embed_posts", "--skip-checks"], env)
    run([PYTHON, "manage.py", "collectstatic", "--noinput", "-v0", "--skip-checks"], env)
    return timings


def setup_django(env: dict) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def viewer_and_cookie(steering: str = "") -> tuple[str, str, int]:
    """An adult who follows the most people, logged in, steering their feed with `steering`:
    (handle, session cookie, follows)."""
    from django.db.models import Count
    from django.test import Client

    from accounts.models import User

    adults = [u for u in User.objects.annotate(n=Count("following_set")).order_by("-n")[:20] if not u.is_teen]
    viewer = adults[0]
    from feed.actions import save_feed_settings

    save_feed_settings(viewer, steering=steering)
    client = Client()
    client.force_login(viewer)
    return viewer.handle, client.cookies["sessionid"].value, viewer.n


def cookie_from(checkout: Path, env: dict, handle: str) -> str:
    """A session for `handle` made by the code in `checkout` (--before): a session names its sign-in
    backend, which round 6 moved, so each server gets one its own code made."""
    code = "import django; django.setup(); from django.test import Client; from accounts.models import User; "
    code += f"c = Client(); c.force_login(User.objects.get(handle={handle!r})); print(c.cookies['sessionid'].value)"
    out = subprocess.run([PYTHON, "-c", code], env=env, cwd=checkout, capture_output=True, text=True).stdout
    return out.split()[-1]


def check_signed_in(pages: list, servers: dict, cookies: dict) -> None:
    """A session a server doesn't accept gets the anonymous page (or a redirect to log in), which
    would be measured in the signed-in page's place without a word."""
    for name, path, logged_in, server in pages:
        request = urllib.request.Request(servers[server][1] + path, headers={"Cookie": cookies[server]})
        if logged_in and "data-events-url" not in urllib.request.urlopen(request, timeout=30).read().decode():
            raise RuntimeError(f"{name}: not served signed in")


def keep_csrf_cookie(servers: dict, cookies: dict) -> None:
    """Send back the CSRF cookie the first signed-in page set, as a browser does. Without it
    (rounds 1-6) every request made and signed a new CSRF secret and set it again, work a
    browser's second page doesn't cause."""
    for server, (_, base) in servers.items():
        if server not in cookies:
            continue
        request = urllib.request.Request(base + "/", headers={"Cookie": cookies[server]})
        with urllib.request.urlopen(request, timeout=30) as response:
            for header in response.headers.get_all("Set-Cookie") or []:
                if header.startswith("csrftoken="):
                    cookies[server] += "; " + header.split(";", 1)[0]


def count_queries(pages: list[tuple[str, str, bool, str]], cookie: str) -> dict[str, str]:
    """Queries per page, counted in this process: "hit (miss)" where the ranking cache matters."""
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for name, path, logged_in, server in pages:
        if server == "before":  # other code: its own tests pin its counts
            counts[name] = "-"
            continue
        cache.clear()
        client = Client(HTTP_HOST="127.0.0.1")
        if logged_in:
            client.cookies["sessionid"] = cookie
        seen = []
        ttl = 0 if server == "uncached" else 30  # (the pool doesn't change the count)
        for _ in range(2):  # a cold ranking cache, then a warm one
            with override_settings(FEED_RANKING_CACHE_SECONDS=ttl), CaptureQueriesContext(connection) as ctx:
                response = client.get(path)
            assert response.status_code == 200, (name, response.status_code)
            seen.append(len(ctx.captured_queries))
        counts[name] = str(seen[0]) if seen[0] == seen[1] else f"{seen[1]} ({seen[0]} on a miss)"
    return counts


def start_daphne(env: dict, log: Path, cwd: Path = ROOT) -> tuple[subprocess.Popen, str]:
    port = free_port()
    fh = open(log, "wb")
    proc = subprocess.Popen(
        [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "sora_site.asgi:application"],
        env=env, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT,
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=0, help="default: posts/20, at least 50")
    parser.add_argument("--db", default="bench_feed")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/3"))
    parser.add_argument("--duration", type=int, default=15, help="seconds of load per page and mode")
    parser.add_argument("--rounds", type=int, default=3, help="split --duration into this many turns")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--connections", type=int, default=50, help="concurrent users")
    parser.add_argument(
        "--think", default="0,1", help="seconds each user waits between requests, one run per value "
        "(0: saturation, the next request at once)",
    )  # fmt: skip
    parser.add_argument("--reuse", action="store_true", help="keep an already seeded database")
    parser.add_argument(
        "--no-csrf-cookie",
        action="store_true",
        help="send only the session cookie, as rounds 1-6 did (a new CSRF secret on every request)",
    )
    parser.add_argument(
        "--before", default="", help="also serve the pages from this other checkout (a copy of the "
        "code before a change: `git archive HEAD | tar -x -C DIR`), side by side",
    )  # fmt: skip
    parser.add_argument(
        "--pooled", action="store_true", help="also measure a third daphne with pooled connections "
        "(bench/settings_feed_pooled.py; needs psycopg-pool)",
    )  # fmt: skip
    parser.add_argument(
        "--pages", default="", help="only these of the main pages, by number (1 For You, 2 ranked every "
        "request, 3 Following, 4 anonymous, 5 anonymous ranked every request; healthz always runs)",
    )  # fmt: skip
    parser.add_argument(
        "--steering", default="more cooking and animals, less pranks",
        help="the logged-in viewer's steering line ('' for none)",
    )  # fmt: skip
    return parser.parse_args()


def bench_pages(args) -> list[tuple[str, str, bool, str]]:
    """(name, path, logged in, server): the "uncached" server ranks For You on every request."""
    pages = [
        ("healthz (baseline)", "/healthz", False, "main"),
        ("For You", "/", True, "main"),
        ("For You, ranked every request", "/", True, "uncached"),
        ("Following", "/following/", True, "main"),
        ("For You, anonymous", "/", False, "main"),
        ("For You, anonymous, ranked every request", "/", False, "uncached"),
    ]
    if args.pages:
        wanted = args.pages.split(",")
        pages = [p for i, p in enumerate(pages) if i == 0 or str(i) in wanted]
    if args.before:
        pages += [
            ("For You, before (code in --before)", "/", True, "before"),
            ("Following, before (code in --before)", "/following/", True, "before"),
        ]
    if args.pooled:
        pages += [
            ("For You, pooled DB connections", "/", True, "pooled"),
            ("Following, pooled DB connections", "/following/", True, "pooled"),
        ]
    return pages


def start_servers(args, env: dict, pages: list) -> dict:
    var, needed = ROOT / "var", {server for *_, server in pages}
    servers = {"main": start_daphne(env, var / "bench-daphne.log")}
    if "uncached" in needed:
        uncached = dict(env, DJANGO_SETTINGS_MODULE="bench.settings_feed_uncached")
        servers["uncached"] = start_daphne(uncached, var / "bench-daphne-uncached.log")
    if args.before:
        # Same settings and database, another copy of the code (e.g. `git archive HEAD`).
        servers["before"] = start_daphne(env, var / "bench-daphne-before.log", cwd=Path(args.before))
    if args.pooled:
        pooled = dict(env, DJANGO_SETTINGS_MODULE="bench.settings_feed_pooled")
        servers["pooled"] = start_daphne(pooled, var / "bench-daphne-pooled.log")
    return servers


def stop_servers(servers: dict) -> None:
    for proc, _ in servers.values():
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # daphne waits for in-flight requests; don't
            proc.kill()
            proc.wait()


def drive(args, pages: list, servers: dict, cookies: dict, think: float, results: dict, loads: list) -> None:
    """Load every page in turns (`--rounds`), so a burst of load from elsewhere on a shared
    machine hits all of them rather than one; each turn's requests/s is kept, so each page's
    share of the trivial view's can also be taken turn by turn (the turns run back to back)."""
    load = load_async
    for _, path, logged_in, server in pages:  # warm-up
        load(
            servers[server][1] + path,
            cookies[server] if logged_in else "",
            args.warmup,
            args.connections,
            think,
        )
    for _ in range(args.rounds):
        for name, path, logged_in, server in pages:
            proc, base = servers[server]
            cpu = cpu_seconds(proc.pid)
            seconds = args.duration / args.rounds
            r = load(base + path, cookies[server] if logged_in else "", seconds, args.connections, think)
            r["server_cpu"] = cpu_seconds(proc.pid) - cpu
            loads.append(os.getloadavg()[0])
            empty = {"raw": [], "errors": 0, "shed": 0, "seconds": 0.0, "cpu": 0.0, "turns": []}
            merge(results.setdefault((name, think), empty), r)
            print(name, think, {k: round(v, 1) for k, v in r.items() if k != "raw"}, flush=True)


def print_table(args, pages: list, results: dict, queries: dict, think: float) -> None:
    mode = "saturation (no think time)" if not think else f"think time {think:g} s (0.5-1.5x)"
    print(f"\n{args.connections} users, {mode}\n")
    print(
        "| page | p50 ms | p99 ms | req/s | vs healthz | vs healthz, turn by turn | server CPU ms/req "
        "| CPU vs healthz | errors | shed (503) | queries/page |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    base = results[(pages[0][0], think)]
    base_rps = len(base["raw"]) / base["seconds"]
    base_cpu = 1000 * base["cpu"] / max(1, len(base["raw"]))
    for name, *_ in pages:
        total = results[(name, think)]
        r = summarize(total["raw"], total["errors"], total["seconds"], total["shed"])
        cpu_ms = 1000 * total["cpu"] / max(1, r["requests"])
        # With think time the users, not the server, set the pace: a share would mean nothing.
        share = turns = "-"
        if not think:
            share = f"{100 * r['rps'] / base_rps:.0f} %"
            ratios = [a / b for a, b in zip(total["turns"], base["turns"], strict=True) if b]
            turns = (
                f"{100 * statistics.median(ratios):.0f} % ({100 * min(ratios):.0f}-{100 * max(ratios):.0f})"
            )
        print(
            f"| {name} | {r['p50']:.1f} | {r['p99']:.1f} | {r['rps']:.0f} | {share} | {turns} | "
            f"{cpu_ms:.1f} | {100 * base_cpu / max(cpu_ms, 1e-9):.0f} % | {r['errors']} | {r['shed']} | "
            f"{queries[name]} |"
        )


def main() -> None:
    args = parse_args()
    env = bench_env(args)
    timings = prepare(args, env)
    setup_django(env)
    from feed.models import Post

    posts = Post.objects.count()
    handle, cookie, follows = viewer_and_cookie(args.steering)
    pages = bench_pages(args)
    queries = count_queries(pages, cookie)
    servers = start_servers(args, env, pages)
    cookies = {server: f"sessionid={cookie}" for server in servers}
    if args.before:
        cookies["before"] = "sessionid=" + cookie_from(Path(args.before), env, handle)
    thinks = [float(t) for t in args.think.split(",")]
    results: dict[tuple[str, float], dict] = {}
    loads = [os.getloadavg()[0]]
    try:
        if not args.no_csrf_cookie:
            keep_csrf_cookie(servers, cookies)
        check_signed_in(pages, servers, cookies)
        for think in thinks:
            drive(args, pages, servers, cookies, think, results, loads)
    finally:
        stop_servers(servers)
    print(
        f"\n{posts} posts, viewer @{handle} follows {follows}; {args.connections} users, "
        f"{args.duration} s per page in {args.rounds} turns, daphne (1 process), "
        f"PostgreSQL; seeding took {timings.get('seed_s', 0):.0f} s, embedding {timings.get('embed_s', 0):.0f} s; "
        f"steering {args.steering!r}; {os.cpu_count()} cores, "
        f"load average during the runs {min(loads):.1f}-{max(loads):.1f}"
    )
    for think in thinks:
        print_table(args, pages, results, queries, think)


if __name__ == "__main__":
    main()
