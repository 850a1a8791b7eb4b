"""`make test`: run pytest, with an embedded Redis when REDIS_URL isn't set.

Exit status is pytest's, so CI fails when a test fails.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> int:
    env = os.environ.copy()
    redis_proc = None
    tmp = None
    if "REDIS_URL" not in env:
        from sora_site import embedded_redis

        tmp = tempfile.TemporaryDirectory(prefix="sora-test-redis-")
        sock = Path(tmp.name) / "redis.sock"
        redis_proc = embedded_redis.start(sock, Path(tmp.name) / "redis.log")
        env["REDIS_URL"] = f"unix://{sock}"
    try:
        return subprocess.call([sys.executable, "-m", "pytest", *sys.argv[1:]], env=env)
    finally:
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(timeout=10)
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
