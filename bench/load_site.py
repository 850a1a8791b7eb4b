"""Load test: N signed-in users browsing, liking, commenting and generating, all at once, on one
daphne with two RQ workers on the tiny model, over loopback.

    .venv/bin/python bench/load_site.py [--users 50] [--duration 180] [--posts 300]
    .venv/bin/python bench/load_site.py --database-url postgres://postgres@127.0.0.1:5432/loadbench

Each simulated user is a real account with a session written straight to the session store. Users
arrive at random during the first 10 s; each keeps one WebSocket open on /ws/events/ (as any page
of the site does; a refused handshake is retried with site.js's backoff, and counted) and loops:
pick an action
(For You, Following, a profile, a post page, like, comment, or now and then generate a 1 s video
and watch its progress over the socket until its final event), then think for 1-3 s. When the
duration is up, users finish what they are doing; those watching a job keep watching until it is
final or the drain deadline passes.

Counted: every HTTP answer by kind and outcome (ok; refused: a 4xx the site means, such as "you
already have videos in progress" or 429; error: any 5xx, unexpected 4xx or no answer), WebSocket
drops, and for every submitted job whether its final state reached the database and whether the
watching user heard the final event (and the same status). Prints p50/p95/p99 latency per page,
requests/s and the job tallies; exits 1 on any error, lost job or lost event.

The standalone run builds everything in a temporary folder: SQLite (or --database-url), the
test settings (`sora_site.settings_test`: DEBUG on, rate limits off), a private redis-server,
`seed_demo` posts, one daphne and two workers (one torch thread each). tests/reliability/
test_load.py drives the same code for a shorter time in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import re
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.reliability.live_stack import Response, Visitor  # noqa: E402

FINAL = ("succeeded", "failed", "cancelled")
PAGES = ("for_you", "following", "profile", "post", "job_page")
# Action weights per loop turn; "generate" ≈ 2 % of turns.
ACTIONS = {
    "for_you": 28,
    "following": 15,
    "profile": 15,
    "post": 22,
    "like": 10,
    "comment": 8,
    "generate": 2,
}
COMMENTS = ("love this", "how did you make the sound?", "again!", "the ending 😂", "so calm", "wow")
# A 400 from the create form with one of these is the site refusing on purpose, not a failure.
REFUSALS = re.compile(r"in progress|the limit is|per day|daily|quota", re.IGNORECASE)


@dataclass
class SimUser:
    handle: str
    session_key: str


@dataclass
class Targets:
    posts: list[str]  # codes of public posts
    handles: list[str]  # profiles to visit


@dataclass
class Sample:
    kind: str
    status: int
    seconds: float
    outcome: str  # ok | refused | error
    detail: str = ""


@dataclass
class Job:
    code: str
    handle: str
    submitted: float
    heard: str = ""  # the final status the watching user heard over the socket
    heard_after: float | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class LoadReport:
    users: int
    duration: float
    samples: list[Sample] = field(default_factory=list)
    jobs: dict[str, Job] = field(default_factory=dict)
    socket_errors: list[str] = field(default_factory=list)

    def by_outcome(self, outcome: str) -> list[Sample]:
        return [s for s in self.samples if s.outcome == outcome]

    def lost_events(self) -> list[str]:
        """Jobs whose watcher never heard a final event."""
        return [code for code, job in self.jobs.items() if not job.heard]

    def latencies(self, kinds) -> list[float]:
        return sorted(s.seconds for s in self.samples if s.kind in kinds and s.outcome != "error")

    def table(self) -> str:
        rows = ["| requests | count | p50 ms | p95 ms | p99 ms | max ms |", "|---|---:|---:|---:|---:|---:|"]
        groups = [(kind, (kind,)) for kind in (*PAGES, "like", "comment", "generate")]
        groups.append(("**all pages**", PAGES))
        for label, kinds in groups:
            values = self.latencies(kinds)
            if values:
                p50, p95, p99 = (percentile(values, q) for q in (50, 95, 99))
                rows.append(
                    f"| {label} | {len(values)} | {p50 * 1000:.0f} | {p95 * 1000:.0f} | "
                    f"{p99 * 1000:.0f} | {values[-1] * 1000:.0f} |"
                )
        return "\n".join(rows)

    def summary(self, statuses: dict[str, str] | None = None) -> str:
        total = len(self.samples)
        waits = [j.heard_after for j in self.jobs.values() if j.heard_after is not None]
        lines = [
            f"{self.users} users for {self.duration:.0f} s: {total} requests, "
            f"{total / self.duration:.1f} requests/s; ok {len(self.by_outcome('ok'))}, "
            f"refused {len(self.by_outcome('refused'))}, errors {len(self.by_outcome('error'))}; "
            f"socket drops {len(self.socket_errors)}",
            f"jobs submitted {len(self.jobs)}, final event heard {len(self.jobs) - len(self.lost_events())}"
            + (f", submit → final event median {statistics.median(waits):.1f} s" if waits else ""),
        ]
        if statuses is not None:
            counts = {
                status: list(statuses.values()).count(status) for status in sorted(set(statuses.values()))
            }
            lines.append(f"jobs in the database after the drain: {counts}")
        lines.append(self.table())
        return "\n".join(lines)

    def problems(self, statuses: dict[str, str]) -> list[str]:
        """Everything that counts as a failure of the run, given each job's final DB status."""
        found = [f"{s.kind}: {s.status} {s.detail}"[:300] for s in self.by_outcome("error")]
        found += [f"socket: {e}" for e in self.socket_errors]
        for code, job in self.jobs.items():
            status = statuses.get(code, "missing")
            if status != "succeeded":
                found.append(f"job {code}: {status} in the database")
            if not job.heard:
                found.append(f"job {code}: no final event heard")
            elif job.heard != status:
                found.append(f"job {code}: heard {job.heard}, database says {status}")
        return found


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    rank = max(1, math.ceil(q / 100 * len(values)))
    return values[min(rank, len(values)) - 1]


def error_title(body: str) -> str:
    """What went wrong, from an error page: its <title> (Django's debug page names the exception)."""
    match = re.search(r"<title>(.*?)</title>", body, re.DOTALL)
    return " ".join((match.group(1) if match else body[:200]).split())


def classify(kind: str, answer: Response) -> str:
    if answer.status == 0 or answer.status >= 500:
        return "error"
    if answer.status == 429 or (kind == "generate" and answer.status == 400 and REFUSALS.search(answer.body)):
        return "refused"
    if kind == "generate":
        return "ok" if answer.status == 302 and "/g/" in answer.headers.get("Location", "") else "error"
    return "ok" if 200 <= answer.status < 400 else "error"


class SimulatedUser:
    def __init__(self, run: LoadRun, user: SimUser, seed: int):
        self.run = run
        self.user = user
        self.rng = random.Random(seed)
        self.visitor = Visitor(run.base_url, user.session_key)
        self.socket = None
        self.jobs: dict[str, Job] = {}

    async def http(self, kind: str, method: str, path: str, data: dict | None = None, **kwargs) -> Response:
        loop = asyncio.get_running_loop()
        answer = await loop.run_in_executor(
            self.run.pool, lambda: self.visitor.request(method, path, data=data, **kwargs)
        )
        outcome = classify(kind, answer)
        detail = answer.error or (error_title(answer.body) if outcome == "error" else "")
        self.run.report.samples.append(Sample(kind, answer.status, answer.seconds, outcome, detail))
        return answer

    async def connect(self) -> None:
        from websockets.asyncio.client import connect

        ws_url = self.run.base_url.replace("http://", "ws://") + "/ws/events/"
        self.socket = await connect(
            ws_url,
            additional_headers={"Cookie": f"sessionid={self.user.session_key}", "Origin": self.run.base_url},
            open_timeout=60,
            max_queue=None,
        )

    async def listen(self) -> None:
        """Read events until closed; a drop that we didn't ask for is an error (and we reconnect,
        asking for the state of unfinished jobs, as a page's script re-fetches them)."""
        while True:
            try:
                async for message in self.socket:
                    self.heard(json.loads(message))
                return
            except Exception as exc:  # noqa: BLE001 - any drop is recorded, then we carry on
                if self.run.closing:
                    return
                self.run.report.socket_errors.append(f"{self.user.handle}: {type(exc).__name__}: {exc}")
                try:
                    await self.connect()
                    for code, job in self.jobs.items():
                        if not job.heard:
                            await self.socket.send(json.dumps({"type": "watch", "code": code}))
                except Exception as again:  # noqa: BLE001
                    self.run.report.socket_errors.append(f"{self.user.handle}: reconnect failed: {again}")
                    return

    def heard(self, event: dict) -> None:
        job = self.jobs.get(event.get("code", ""))
        if job is None or event.get("kind") != "generation" or event.get("status") not in FINAL:
            return
        if not job.heard:
            job.heard = event["status"]
            job.heard_after = time.monotonic() - job.submitted
            job.done.set()

    async def live(self) -> None:
        # Users arrive over the ramp-up, not all in the same millisecond.
        await asyncio.sleep(self.rng.uniform(0, self.run.ramp))
        for attempt in range(6):
            try:
                await self.connect()
                break
            except Exception as exc:  # noqa: BLE001 - counted, then retried as site.js does
                self.run.report.socket_errors.append(f"{self.user.handle}: connect failed: {exc}")
                await asyncio.sleep(min(10, 0.5 * 2**attempt))
        else:
            return
        listener = asyncio.create_task(self.listen())
        while time.monotonic() < self.run.stop_at:
            action = self.rng.choices(list(ACTIONS), weights=list(ACTIONS.values()))[0]
            await getattr(self, action)()
            await asyncio.sleep(self.rng.uniform(*self.run.think))
        # Keep watching unfinished jobs until they're final or the drain deadline passes.
        pending = [job.done.wait() for job in self.jobs.values() if not job.heard]
        if pending:
            remaining = max(0.0, self.run.drain_until - time.monotonic())
            try:
                await asyncio.wait_for(asyncio.gather(*pending), timeout=remaining)
            except TimeoutError:
                pass
        await self.socket.close()
        await listener

    # --- actions --------------------------------------------------------------------------

    async def for_you(self) -> None:
        await self.http("for_you", "GET", "/")

    async def following(self) -> None:
        await self.http("following", "GET", "/following/")

    async def profile(self) -> None:
        await self.http("profile", "GET", f"/@{self.rng.choice(self.run.targets.handles)}")

    async def post(self) -> None:
        await self.http("post", "GET", f"/p/{self.rng.choice(self.run.targets.posts)}/")

    async def like(self) -> None:
        code = self.rng.choice(self.run.targets.posts)
        await self.http("like", "POST", f"/p/{code}/like", {"like": "1"}, headers={"HX-Request": "true"})

    async def comment(self) -> None:
        code = self.rng.choice(self.run.targets.posts)
        await self.http("comment", "POST", f"/p/{code}/comments", {"body": self.rng.choice(COMMENTS)})

    async def generate(self) -> None:
        if any(not job.heard for job in self.jobs.values()):
            return  # a person watching one video doesn't start another from the same page
        form = {
            "prompt": f"{self.rng.choice(COMMENTS)} — waves at dusk, gulls calling",
            "seconds": "1",
            "orientation": self.rng.choice(["portrait", "landscape"]),
            "shots-TOTAL_FORMS": "0",
            "shots-INITIAL_FORMS": "0",
        }
        submitted = time.monotonic()
        answer = await self.http("generate", "POST", "/create/", form)
        match = re.search(r"/g/([^/]+)/$", answer.headers.get("Location", ""))
        if answer.status != 302 or not match:
            return
        job = Job(code=match.group(1), handle=self.user.handle, submitted=submitted)
        self.jobs[job.code] = job
        self.run.report.jobs[job.code] = job
        await self.http("job_page", "GET", f"/g/{job.code}/")
        remaining = max(0.0, self.run.drain_until - time.monotonic())
        try:
            await asyncio.wait_for(job.done.wait(), timeout=remaining)
        except TimeoutError:
            pass


class LoadRun:
    def __init__(self, base_url, users, targets, duration, think, drain, seed, ramp):
        self.base_url = base_url.rstrip("/")
        self.ramp = ramp
        self.users = users
        self.targets = targets
        self.think = think
        self.duration = duration
        self.drain = drain
        self.seed = seed
        self.report = LoadReport(users=len(users), duration=duration)
        self.closing = False
        # One thread per user: a user has at most one request in flight, so nobody waits for a thread.
        self.pool = ThreadPoolExecutor(max_workers=len(users))

    async def run(self) -> LoadReport:
        started = time.monotonic()
        self.stop_at = started + self.duration
        self.drain_until = self.stop_at + self.drain
        simulated = [SimulatedUser(self, user, self.seed + i) for i, user in enumerate(self.users)]
        try:
            await asyncio.gather(*(user.live() for user in simulated))
        finally:
            self.closing = True
            self.pool.shutdown(wait=True)
        return self.report


def run_load(
    base_url: str,
    users: list[SimUser],
    targets: Targets,
    *,
    duration: float,
    think: tuple[float, float] = (1.0, 3.0),
    drain: float = 240.0,
    seed: int = 1,
    ramp: float = 10.0,
) -> LoadReport:
    """Drive the site at `base_url` with `users` for `duration` seconds (users arrive at random
    during the first `ramp` seconds); see the module docstring.

    Jobs still unfinished get up to `drain` more seconds for their final event. Blocks; runs its
    own event loop, so call it from synchronous code.
    """
    return asyncio.run(LoadRun(base_url, users, targets, duration, think, drain, seed, ramp).run())


# --- database side (needs Django set up) ----------------------------------------------------


def make_load_users(count: int, follow: int = 15, prefix: str = "load") -> list[SimUser]:
    """`count` adult accounts that each follow `follow` posting people, with a live session each."""
    from datetime import date

    from accounts.models import User
    from feed.models import Follow, Post
    from tests.reliability.live_stack import session_key_for

    authors = list(Post.objects.values_list("author_id", flat=True).distinct()[:200])
    rng = random.Random(7)
    users = []
    for i in range(count):
        user = User.objects.create_user(
            handle=f"{prefix}{i}",
            email=f"{prefix}{i}@load.invalid",
            password=None,
            birth_date=date(1990, 1, 1),
        )
        Follow.objects.bulk_create(
            [Follow(follower=user, followee_id=a) for a in rng.sample(authors, min(follow, len(authors)))],
            ignore_conflicts=True,
        )
        users.append(SimUser(user.handle, session_key_for(user)))
    return users


def load_targets(limit: int = 400) -> Targets:
    """Public posts and their authors, as an anonymous visitor would find them."""
    from django.contrib.auth.models import AnonymousUser

    from feed.models import Post

    rows = list(
        Post.objects.visible_to(AnonymousUser())
        .order_by("-created")
        .values_list("code", "author__handle")[:limit]
    )
    return Targets(posts=[code for code, _ in rows], handles=sorted({handle for _, handle in rows}))


def wait_for_jobs(codes, timeout: float) -> dict[str, str]:
    """Each job's status once all are final, or as they stand when `timeout` runs out."""
    from generation.models import Generation

    deadline = time.monotonic() + timeout
    while True:
        statuses = dict(Generation.objects.filter(code__in=list(codes)).values_list("code", "status"))
        if all(statuses.get(code) in FINAL for code in codes) or time.monotonic() > deadline:
            return statuses
        time.sleep(0.5)


# --- standalone run -------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=float, default=180, help="Seconds of load (default 180).")
    parser.add_argument("--posts", type=int, default=300, help="Posts seed_demo makes first.")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--drain", type=float, default=300, help="Seconds jobs may take after the load.")
    parser.add_argument("--database-url", default="", help="Default: SQLite in the temporary folder.")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="load-site-"))
    os.environ.update(
        VAR_DIR=str(tmp),
        DJANGO_SETTINGS_MODULE="sora_site.settings_test",
        SORA_TEST_MODEL=str(ROOT / "var" / "models" / "tiny-ltx2-bench"),
        LOG_LEVEL="WARNING",
    )
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from tests.reliability.live_stack import Stack

    call_command("migrate", verbosity=0)
    if not Path(settings.SORA_VIDEO_MODEL).exists():
        call_command("build_tiny_model", settings.SORA_VIDEO_MODEL)
    call_command("seed_demo", users=max(20, args.users), posts=args.posts, verbosity=0)
    users = make_load_users(args.users)
    targets = load_targets()
    (tmp / "logs").mkdir()
    stack = Stack(tmp / "logs").start()
    try:
        for _ in range(args.workers):
            stack.start_worker(OMP_NUM_THREADS="1")  # one core each: two workers = two small machines
        stack.wait_for_workers()
        print(
            f"{args.users} users, {args.duration:.0f} s, {len(targets.posts)} posts; site {stack.url}",
            flush=True,
        )
        report = run_load(stack.url, users, targets, duration=args.duration, drain=args.drain)
        statuses = wait_for_jobs(list(report.jobs), timeout=args.drain)
    finally:
        stack.stop()
    print(report.summary(statuses))
    problems = report.problems(statuses)
    for problem in problems[:50]:
        print("PROBLEM", problem)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
