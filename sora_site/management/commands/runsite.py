import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from sora_site import embedded_redis


class Command(BaseCommand):
    help = (
        "Start the whole site: embedded Redis (unless REDIS_URL is set), migrations, the first-run "
        "staff account, the tiny model if none is configured, one RQ worker, the job sweeper and daphne. "
        "Ctrl-C stops everything."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=1, help="RQ worker processes to start")

    def handle(self, *args, host: str, port: int, workers: int, **options):
        children: list[subprocess.Popen] = []
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        env = os.environ.copy()
        if "REDIS_URL" not in os.environ:
            sock = settings.VAR_DIR / "redis.sock"
            children.append(embedded_redis.start(sock, settings.VAR_DIR / "redis.log"))
            env["REDIS_URL"] = f"unix://{sock}"
            self.stdout.write(f"Embedded Redis on {sock}")
        try:
            call_command("migrate", interactive=False, verbosity=0)
            call_command("bootstrap_site")
            if not Path(settings.C2PA_SIGNING_KEY).exists():
                call_command("make_signing_cert")
            if settings.SORA_VIDEO_PROFILE == "tiny" and not Path(settings.SORA_VIDEO_MODEL).exists():
                self.stdout.write("Building the tiny offline model (random weights: its videos are noise)…")
                call_command("build_tiny_model", settings.SORA_VIDEO_MODEL)
            manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
            # SimpleWorker runs jobs in the worker process itself, so the model loaded by the first
            # job stays in memory for every later one (the default worker forks per job).
            worker = [
                *manage, "rqworker", settings.GENERATION_QUEUE, settings.CPU_QUEUE,
                "--worker-class", "rq.worker.SimpleWorker",
            ]  # fmt: skip
            for _ in range(workers):
                children.append(subprocess.Popen(worker, env=env))
            children.append(subprocess.Popen([*manage, "sweep_generations", "--loop"], env=env))
            children.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "daphne",
                        "-b",
                        host,
                        "-p",
                        str(port),
                        "sora_site.asgi:application",
                    ],
                    env=env,
                    cwd=settings.BASE_DIR,
                )
            )
            self.stdout.write(self.style.SUCCESS(f"Serving on http://{host}:{port}/ (Ctrl-C to stop)"))
            signal.signal(signal.SIGTERM, lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            self.stderr.write("A child process exited; stopping the site.")
        except KeyboardInterrupt:
            self.stdout.write("Stopping…")
        finally:
            for child in reversed(children):
                if child.poll() is None:
                    child.terminate()
            deadline = time.monotonic() + 10
            for child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
