"""Real processes for integration tests: daphne and RQ workers against the test database."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def subprocess_env(**extra) -> dict:
    """The environment a child process needs to share this test run's database, Redis and media."""
    env = os.environ.copy()
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    else:
        user = db.get("USER") or ""
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        host = db.get("HOST") or "127.0.0.1"
        port = db.get("PORT") or 5432
        env["DATABASE_URL"] = f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"
    env["DJANGO_SETTINGS_MODULE"] = "sora_site.settings_test"
    env["REDIS_URL"] = settings.REDIS_URL
    env["MEDIA_ROOT_OVERRIDE"] = str(settings.MEDIA_ROOT)
    env["SORA_TEST_MODEL"] = str(settings.SORA_VIDEO_MODEL)
    env["PYTHONUNBUFFERED"] = "1"
    for name in ("C2PA_SIGNING_KEY", "C2PA_CERT_CHAIN", "C2PA_TRUST_ANCHORS"):
        env[name] = str(getattr(settings, name))
    env.update(extra)
    return env


class Process:
    def __init__(self, args: list[str], env: dict, log_path: Path):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def start_daphne(tmp_path: Path) -> tuple[Process, str]:
    port = free_port()
    proc = Process(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "sora_site.asgi:application"],
        subprocess_env(),
        tmp_path / "daphne.log",
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/accounts/login/", timeout=2).close()
            return proc, url
        except (urllib.error.URLError, OSError):
            if proc.proc.poll() is not None:
                break
            time.sleep(0.2)
    proc.stop()
    raise RuntimeError("daphne did not start:\n" + proc.output())


def start_worker(tmp_path: Path, name: str = "worker") -> Process:
    return Process(
        [
            sys.executable, "manage.py", "rqworker", settings.GENERATION_QUEUE, settings.CPU_QUEUE,
            "--worker-class", "rq.worker.SimpleWorker", "--skip-checks", "--name", f"{name}-{os.getpid()}-{time.monotonic_ns()}",
        ],
        subprocess_env(),
        tmp_path / f"{name}.log",
    )  # fmt: skip
