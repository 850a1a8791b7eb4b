"""Job-path benchmark on the tiny model: real Redis (embedded), real RQ worker processes.

    .venv/bin/python bench/bench_jobs.py [--jobs 6] [--seconds 2] [--workers 1,2]

Measures, per job: queue pickup latency (created → claimed), whole-job overhead (claimed → done
minus the pipeline's own denoise+decode time), time to first step, and, for the scale-out
figure, how long one vs two worker processes take to drain the same N queued jobs. The overhead
is split using the job's own timings (engine time outside denoise+decode, output check, the rest:
encode, poster, sprite, storage, DB, events), and the draft encode is timed side by side with the
old preset (veryfast) vs media.DRAFT_PRESET on one clip from the same engine, in this process.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=2)
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()

    redis_proc = start_site()
    from accounts.models import User

    owner = User.objects.create_user(handle="bencher", email="b@example.com", password="x")
    results = {}
    for workers in [int(w) for w in args.workers.split(",")]:
        results[workers] = run_batch(owner, workers, jobs=args.jobs, seconds=args.seconds)
    encode = compare_encodes(args.seconds)
    report(results, encode, jobs=args.jobs, seconds=args.seconds)
    redis_proc.terminate()


def start_site() -> subprocess.Popen:
    """Settings for the bench (a fresh VAR_DIR, the tiny model, embedded Redis), then Django, the
    database and the model. Returns the Redis process."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    os.environ.update(
        VAR_DIR=str(tmp),
        DJANGO_SETTINGS_MODULE="sora_site.settings",
        SORA_VIDEO_MODEL=str(ROOT / "var" / "models" / "tiny-ltx2-bench"),
        SORA_VIDEO_PROFILE="tiny",
        GENERATION_MAX_ACTIVE_PER_USER="1000",
        # One thread per worker: two workers then stand for two one-core machines.
        OMP_NUM_THREADS="1",
    )
    from sora_site import embedded_redis

    sock = tmp / "redis.sock"
    redis_proc = embedded_redis.start(sock, tmp / "redis.log")
    os.environ["REDIS_URL"] = f"unix://{sock}"

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if not Path(settings.SORA_VIDEO_MODEL).exists():
        call_command("build_tiny_model", settings.SORA_VIDEO_MODEL)
    return redis_proc


def run_batch(owner, workers: int, *, jobs: int, seconds: int) -> dict:
    """Start `workers` RQ workers, warm each with one job, then time draining `jobs` queued jobs."""
    from django.conf import settings

    from generation.actions import start_generation
    from generation.models import Generation

    argv = [
        sys.executable, "manage.py", "rqworker", settings.GENERATION_QUEUE,
        "--worker-class", "rq.worker.SimpleWorker", "--skip-checks",
    ]  # fmt: skip
    procs = [
        subprocess.Popen(
            argv, cwd=ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(workers)
    ]
    # Warm every worker with one job each so the batch measures warm workers.
    warm = [
        start_generation(owner, prompt="warm up", seconds=seconds, orientation="portrait", seed=i)
        for i in range(workers)
    ]
    wait([g.pk for g in warm])
    first = Generation.objects.filter(pk__in=[g.pk for g in warm]).order_by("created")[0]
    started = time.monotonic()
    batch = [
        start_generation(owner, prompt=f"job {i}", seconds=seconds, orientation="portrait", seed=100 + i)
        for i in range(jobs)
    ]
    wait([g.pk for g in batch])
    drain = time.monotonic() - started
    for p in procs:
        p.terminate()
        p.wait()
    rows = list(Generation.objects.filter(pk__in=[g.pk for g in batch]))
    assert all(r.status == "succeeded" for r in rows), [
        r.error_detail for r in rows if r.status != "succeeded"
    ]
    return {"drain_s": drain, "cold": first, "rows": rows}


def wait(pks: list[int]) -> None:
    from generation.models import Generation

    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        if Generation.objects.filter(pk__in=pks).active().count() == 0:
            return
        time.sleep(0.05)
    raise SystemExit("jobs did not finish in time")


def report(results: dict, encode: dict, *, jobs: int, seconds: int) -> None:
    one = results[min(results)]
    rows = one["rows"]
    pickup = [(r.started - r.created).total_seconds() for r in rows if r.started]
    pipeline = [r.timings["pipeline_s"] for r in rows]
    job = [r.timings["job_s"] for r in rows]
    overhead = [j - p for j, p in zip(job, pipeline, strict=True)]
    submit_to_done = [(r.finished - r.created).total_seconds() for r in rows]
    cold = one["cold"].timings
    warm_first = statistics.median(r.timings["first_step_s"] for r in rows)

    print(f"tiny model, {seconds} s portrait clips, {jobs} jobs, CPU ({os.cpu_count()} cores)")
    print(f"pipeline (denoise+decode) median     {statistics.median(pipeline):.3f} s")
    print(f"job on worker (claim→done) median     {statistics.median(job):.3f} s")
    print(
        f"overhead (all but denoise+decode)     {statistics.median(overhead):.3f} s "
        f"= {100 * statistics.median(overhead) / statistics.median(pipeline):.0f}% of pipeline"
    )
    report_overhead(rows, encode)
    print(f"submit→done (one worker, queued) med  {statistics.median(submit_to_done):.3f} s")
    print(f"queue pickup of the first batch job   {min(pickup):.3f} s")
    print(
        f"time to first step: cold job {cold['first_step_s']:.3f} s (load {cold['load_s']:.3f} s), "
        f"warm job {warm_first:.3f} s = {100 * warm_first / cold['first_step_s']:.1f}% of cold"
    )
    for workers, result in sorted(results.items()):
        print(f"drain {jobs} jobs with {workers} worker(s): {result['drain_s']:.2f} s")
    if len(results) > 1:
        a, b = (results[k]["drain_s"] for k in sorted(results)[:2])
        print(f"scale-out speed-up: {a / b:.2f}x")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


def report_overhead(rows: list, encode: dict) -> None:
    """Where the overhead goes, and the draft encode with the old and current presets."""
    engine_rest = [r.timings["total_s"] - r.timings["pipeline_s"] for r in rows]
    check = [r.timings.get("check_s", 0.0) for r in rows]
    rest = [r.timings["job_s"] - r.timings["total_s"] - r.timings.get("check_s", 0.0) for r in rows]
    print(
        f"  of which: engine outside denoise+decode (prompt encoding, postprocess) "
        f"{statistics.median(engine_rest):.3f} s, output check {statistics.median(check):.3f} s, "
        f"encode + poster + sprite + storage + DB + events {statistics.median(rest):.3f} s"
    )
    print(
        f"draft encode of one clip, median of {encode['runs']}, same frames side by side: veryfast "
        f"{encode['veryfast']:.3f} s ({encode['veryfast_kb']:.0f} kB), {encode['preset']} (now) "
        f"{encode['draft']:.3f} s ({encode['draft_kb']:.0f} kB) = {encode['veryfast'] / encode['draft']:.1f}x "
        f"faster; poster {encode['poster']:.3f} s, sprite {encode['sprite']:.3f} s"
    )


def compare_encodes(seconds: int, runs: int = 5) -> dict:
    """Encode one tiny-model clip with the old draft preset (veryfast) and the current one
    (media.DRAFT_PRESET), taking turns, in this process; also time the poster and sprite."""
    from generation import media
    from generation.engine.pipeline import GenerationRequest, Shot
    from generation.jobs import get_worker_engine

    engine = get_worker_engine()  # the worker's engine and settings, loaded in this process
    engine.load()
    request = GenerationRequest(
        shots=[Shot(prompt="encode me", seconds=float(seconds))], orientation="portrait", seed=5
    )
    out = engine.generate(request)
    times: dict[str, list[float]] = {"veryfast": [], "draft": [], "poster": [], "sprite": []}
    sizes = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(runs):
            for name, preset in [("veryfast", "veryfast"), ("draft", media.DRAFT_PRESET)]:
                path = Path(tmp) / f"{name}.mp4"
                started = time.perf_counter()
                media.write_mp4(path, out.frames, out.fps, out.audio, out.sample_rate, preset=preset)
                times[name].append(time.perf_counter() - started)
                sizes[name] = path.stat().st_size / 1000
            started = time.perf_counter()
            media.poster_jpeg(out.frames)
            times["poster"].append(time.perf_counter() - started)
            started = time.perf_counter()
            media.sprite_sheet_jpeg(out.frames)
            times["sprite"].append(time.perf_counter() - started)
    result = {name: statistics.median(values) for name, values in times.items()}
    return dict(
        result, runs=runs, preset=media.DRAFT_PRESET, veryfast_kb=sizes["veryfast"], draft_kb=sizes["draft"]
    )


if __name__ == "__main__":
    main()
