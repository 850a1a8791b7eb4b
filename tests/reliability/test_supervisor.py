"""`make run` (manage.py runsite) keeps the site up: a worker that dies is started again, and
Ctrl-C / SIGTERM stops every process it started."""

import os
import signal
import subprocess
import sys
import urllib.request

import pytest
from django.conf import settings

from tests.conftest import wait_for
from tests.live import free_port

pytestmark = pytest.mark.slow


def children_of(pid: int) -> dict[int, str]:
    out = subprocess.run(
        ["ps", "-o", "pid=,args=", "--ppid", str(pid)], capture_output=True, text=True
    ).stdout
    return {int(line.split(None, 1)[0]): line.split(None, 1)[1] for line in out.strip().splitlines()}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return subprocess.run(
        ["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True
    ).stdout.strip()[:1] not in ("Z", "")


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def site_env(tmp_path, tiny_model) -> dict:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DATABASE_URL", "REDIS_URL", "MEDIA_ROOT_OVERRIDE", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="sora_site.settings",
        DEBUG="true",
        VAR_DIR=str(tmp_path / "var"),
        SORA_VIDEO_MODEL=str(tiny_model),
        SORA_VIDEO_PROFILE="tiny",
        PYTHONUNBUFFERED="1",
    )
    return env


def test_a_killed_worker_is_started_again_and_sigterm_stops_everything(tiny_model, tmp_path):
    port = free_port()
    env = site_env(tmp_path, tiny_model)
    log = tmp_path / "runsite.log"
    with open(log, "wb") as out:
        site = subprocess.Popen(
            [sys.executable, "manage.py", "runsite", "--port", str(port)],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(
            lambda: healthy(port), timeout=240, interval=0.5, message=f"the site ({log.read_text()[-2000:]})"
        )
        # Without SITE_URL, the invite links printed on first start name the port actually served.
        assert f"http://127.0.0.1:{port}/invite/" in log.read_text()
        workers = [pid for pid, args in children_of(site.pid).items() if "rqworker" in args]
        assert len(workers) == 1, children_of(site.pid)
        first = workers[0]

        os.kill(first, signal.SIGKILL)

        wait_for(
            lambda: "worker 1 exited with status -9" in log.read_text(),
            timeout=30,
            message="the exit noticed",
        )
        wait_for(
            lambda: any("rqworker" in a and p != first for p, a in children_of(site.pid).items()),
            timeout=30,
            message="a new worker",
        )
        assert site.poll() is None and healthy(port)
        # The first run's invite links name the port actually served (no SITE_URL given).
        assert f"http://127.0.0.1:{port}/invite/" in log.read_text()
        started = list(children_of(site.pid))

        site.send_signal(signal.SIGTERM)
        site.wait(timeout=30)
        wait_for(lambda: not any(alive(pid) for pid in started), timeout=20, message="every child stopped")
    finally:
        if site.poll() is None:
            site.kill()


def test_sigterm_during_migrate_stops_the_embedded_redis(tiny_model, tmp_path):
    """A fresh VAR_DIR: runsite starts Redis, then migrates (seconds); SIGTERM arrives meanwhile."""
    env = site_env(tmp_path, tiny_model)
    log = tmp_path / "runsite.log"
    with open(log, "wb") as out:
        site = subprocess.Popen(
            [sys.executable, "manage.py", "runsite", "--port", str(free_port())],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: "Embedded Redis on" in log.read_text(), timeout=120, message="Redis started")
        redis = [pid for pid, args in children_of(site.pid).items() if "redis" in args]
        assert len(redis) == 1, children_of(site.pid)
        assert "Serving on" not in log.read_text()

        site.send_signal(signal.SIGTERM)
        site.wait(timeout=30)
        wait_for(lambda: not alive(redis[0]), timeout=20, message="the embedded Redis stopped")
    finally:
        if site.poll() is None:
            site.kill()
