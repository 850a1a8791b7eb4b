"""What steering costs: embedding one post, and ranking a For You page with and without a
steering line, in-process on bench_feed.py's database (run that first, or pass --db).

    .venv/bin/python bench/bench_steering.py --db bench_feed_h18

Targets (issue 18): embedding a post <= 10 ms on this machine; steering adds <= 2 ms of server
time per page. A page ranks only on a ranking-cache miss (feed.ranking), so the second figure is
the cost on the miss path, the worst case; cached pages don't rank at all. Both variants run
interleaved, `--runs` times each, for the same viewer; the medians are printed, as wall time
and as this process's CPU time (`time.process_time`, BLAS and tokenizer threads included): on
a shared, busy machine wall time stretches with whatever else runs, while CPU time is the
server's own cost. The embedding figures are wall time (it is the job's latency).
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_feed import bench_env, setup_django  # noqa: E402


def time_embedding(runs: int) -> tuple[list[float], list[float]]:
    """Wall ms to embed the newest `runs` posts' text, and to run their whole embed_post job."""
    from feed import jobs, semantics
    from feed.models import Post

    semantics.model()  # loaded once per process; not part of a post's cost
    embed_ms, job_ms = [], []
    for pk in Post.objects.order_by("-pk").values_list("pk", flat=True)[:runs]:
        post = Post.objects.select_related("generation").get(pk=pk)
        started = time.perf_counter()
        semantics.pack(semantics.embed([post.embedding_text()])[0])
        embed_ms.append(1000 * (time.perf_counter() - started))
        started = time.perf_counter()
        jobs.embed_post(pk)  # the whole job: read the row, embed, write the vector
        job_ms.append(1000 * (time.perf_counter() - started))
    return embed_ms, job_ms


def print_table(embed_ms, job_ms, timings: dict, steer_ms, steer_cpu) -> None:
    median = {name: statistics.median(values) for name, values in timings.items()}
    print("| figure | median ms (wall) | median ms (CPU) | target |")
    print("|---|---:|---:|---|")
    print(f"| embed one post (caption + visible prompt) | {statistics.median(embed_ms):.2f} | | <= 10 ms |")
    print(f"| embed_post job (read, embed, write) | {statistics.median(job_ms):.2f} | | |")
    for name in ("plain", "steered"):
        label = "no steering" if name == "plain" else "steered"
        print(f"| rank For You, {label} | {median[name]:.2f} | {median[name + ' cpu']:.2f} | |")
    print(
        f"| difference of the two | {median['steered'] - median['plain']:.2f} | "
        f"{median['steered cpu'] - median['plain cpu']:.2f} | <= 2 ms |"
    )
    print(
        f"| steering's own work per ranked page (ranking.steer) | {statistics.median(steer_ms):.2f} | "
        f"{statistics.median(steer_cpu):.2f} | <= 2 ms |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default="bench_feed")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/3")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--steering", default="more cooking and animals, less pranks")
    args = parser.parse_args()
    setup_django(bench_env(args))

    from django.db.models import Count
    from django.utils import timezone

    from accounts.models import User
    from feed import ranking
    from feed.models import FeedSettings, Post

    embed_ms, job_ms = time_embedding(args.runs)
    viewer = User.objects.annotate(n=Count("following_set")).order_by("-n").first()
    plain = FeedSettings(user=viewer)
    steered = FeedSettings(user=viewer, steering=args.steering)
    timings = {"plain": [], "steered": [], "plain cpu": [], "steered cpu": []}
    for _ in range(args.runs):
        for name, prefs in (("plain", plain), ("steered", steered)):
            as_of = timezone.now()
            started, cpu = time.perf_counter(), time.process_time()
            ranking.rank(viewer, as_of, prefs=prefs)
            timings[name].append(1000 * (time.perf_counter() - started))
            timings[f"{name} cpu"].append(1000 * (time.process_time() - cpu))
    # What steering adds on top of an unsteered ranking is `ranking.steer` (the candidate queries
    # are the same): timed alone, because on a busy machine the two rankings' difference drowns in
    # their noise.
    weights, taste = ranking.Weights.from_settings(), ranking.taste_of(viewer, steered)
    candidates = ranking.candidates(viewer, timezone.now(), weights, taste)
    steer_ms, steer_cpu = [], []
    for _ in range(args.runs):
        started, cpu = time.perf_counter(), time.process_time()
        ranking.steer(candidates, taste, weights)
        steer_ms.append(1000 * (time.perf_counter() - started))
        steer_cpu.append(1000 * (time.process_time() - cpu))
    pool = len(candidates)
    print(
        f"{Post.objects.count()} posts; viewer @{viewer.handle}; {pool} candidates; steering {args.steering!r}"
    )
    print()
    print_table(embed_ms, job_ms, timings, steer_ms, steer_cpu)


if __name__ == "__main__":
    main()
