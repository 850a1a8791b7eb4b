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
from sora_site.settings import served_url


class Command(BaseCommand):
    help = (
        "Start the whole site: embedded Redis (unless REDIS_URL is set), migrations, the first-run "
        "staff account, the tiny model if none is configured, one RQ worker, the job sweeper and daphne. "
        "Workers and the sweeper are restarted if they die. Ctrl-C stops everything."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.HOST)
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--workers", type=int, default=1, help="RQ worker processes to start")

    def handle(self, *args, host: str, port: int, workers: int, **options):
        children: list[subprocess.Popen] = []
        # Before any child starts: a SIGTERM at any point (during migrate too) must reach the
        # `finally` below, or the embedded Redis outlives us.
        signal.signal(signal.SIGTERM, _interrupt)
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        env = os.environ.copy()
        if not env.get("SITE_URL") and not env.get("SITE_URL_FILE"):
            # --host/--port may differ from HOST/PORT: links (invites printed below, emails, C2PA
            # manifests made by the workers) must name the address actually served.
            settings.SITE_URL = env["SITE_URL"] = served_url(host, str(port))
        if "REDIS_URL" not in os.environ:
            sock = settings.VAR_DIR / "redis.sock"
            children.append(embedded_redis.start(sock, settings.VAR_DIR / "redis.log"))
            env["REDIS_URL"] = f"unix://{sock}"
            self.stdout.write(f"Embedded Redis on {sock}")
        try:
            self.prepare()
            supervised = self.start_children(children, env, host=host, port=port, workers=workers)
            self.stdout.write(self.style.SUCCESS(f"Serving on http://{host}:{port}/ (Ctrl-C to stop)"))
            self.supervise(children, supervised)
            self.stderr.write("Redis or daphne exited; stopping the site.")
        except KeyboardInterrupt:
            self.stdout.write("Stopping…")
        finally:
            _stop(children)

    def prepare(self) -> None:
        """Migrations, the first-run staff account, a signing certificate and the tiny model."""
        call_command("migrate", interactive=False, verbosity=0)
        call_command("bootstrap_site")
        if not Path(settings.C2PA_SIGNING_KEY).exists():
            call_command("make_signing_cert")
        if settings.SORA_VIDEO_PROFILE == "tiny" and not Path(settings.SORA_VIDEO_MODEL).exists():
            self.stdout.write("Building the tiny offline model (random weights: its videos are noise)…")
            call_command("build_tiny_model", settings.SORA_VIDEO_MODEL)

    def start_children(
        self, children: list, env: dict, *, host: str, port: int, workers: int
    ) -> list["Supervised"]:
        """Start the workers, the sweeper and daphne, appending each to `children` as it starts
        (so a failure part-way still stops those already running); returns the supervised ones."""
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        # SimpleWorker runs jobs in the worker process itself, so the model loaded by the first
        # job stays in memory for every later one (the default worker forks per job).
        worker = [
            *manage, "rqworker", settings.GENERATION_QUEUE, settings.CPU_QUEUE,
            "--worker-class", "rq.worker.SimpleWorker",
        ]  # fmt: skip
        daphne = [sys.executable, "-m", "daphne", "-b", host, "-p", str(port), "sora_site.asgi:application"]
        supervised = [Supervised(f"worker {n + 1}", worker, env) for n in range(workers)]
        supervised.append(Supervised("sweeper", [*manage, "sweep_generations", "--loop"], env))
        for child in supervised:
            child.start()
            children.append(child)
        children.append(subprocess.Popen(daphne, env=env, cwd=settings.BASE_DIR))
        return supervised

    def supervise(self, children: list, supervised: list["Supervised"]) -> None:
        """Until Redis or daphne exits: workers and the sweeper are restarted when they die (a
        crash, an OOM kill, a worker that started while Redis was down)."""
        while all(child.poll() is None for child in children if not isinstance(child, Supervised)):
            for child in supervised:
                message = child.restart_if_exited()
                if message:
                    self.stderr.write(message)
            time.sleep(0.5)


def _stop(children: list) -> None:
    """Terminate the children newest first; kill any still running after 10 s in all."""
    for child in reversed(children):
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + 10
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()


def _interrupt(signum, frame):
    raise KeyboardInterrupt


class Supervised:
    """A child process that is started again when it exits, after a back-off that doubles up to
    30 s while it keeps failing (and resets once it has stayed up for a minute)."""

    MAX_DELAY = 30.0

    def __init__(self, name: str, argv: list[str], env: dict):
        self.name, self.argv, self.env = name, argv, env
        self.proc: subprocess.Popen | None = None
        self.started = 0.0
        self.delay = 1.0
        self.restart_at: float | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, env=self.env)
        self.started = time.monotonic()
        self.restart_at = None

    def restart_if_exited(self) -> str | None:
        """Start the process again when its back-off has passed; returns a line for the log."""
        now = time.monotonic()
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.start()
                return f"{self.name} started again (pid {self.proc.pid})."
            return None
        code = self.proc.poll()
        if code is None:
            return None
        self.delay = 1.0 if now - self.started > 60 else min(self.MAX_DELAY, self.delay * 2)
        self.restart_at = now + self.delay
        return f"{self.name} exited with status {code}; restarting in {self.delay:g} s."

    # The shutdown code treats every child like a Popen.
    def poll(self):
        return self.proc.poll() if self.proc is not None else 0

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()

    def wait(self, timeout: float | None = None):
        return self.proc.wait(timeout=timeout) if self.proc is not None else 0
