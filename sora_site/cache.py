"""The shared cache on Redis, degrading to "nothing cached" while Redis is unreachable.

Rate limits, the For You ranking and the policy-rule cache all sit on the default cache. With
several web processes it must be shared (Redis), but a Redis outage must not turn every page into
a 500: pages keep working uncached (and rate limits let requests through) until Redis is back.
"""

import logging
import threading
import time

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
# What each operation answers while Redis is down: a miss, or "nothing happened".
FALLBACKS = {
    "get": lambda key, default=None, *a, **k: default,
    "get_many": lambda *a, **k: {},
    "has_key": lambda *a, **k: False,
    "add": lambda *a, **k: True,
    "set": lambda *a, **k: None,
    "set_many": lambda *a, **k: None,
    "touch": lambda *a, **k: False,
    "delete": lambda *a, **k: False,
    "delete_many": lambda *a, **k: None,
    "clear": lambda *a, **k: False,
}
_last_warning = 0.0


def _warn(name: str, exc: Exception) -> None:
    global _last_warning
    if time.monotonic() - _last_warning > 30:  # one line per half minute, not one per request
        _last_warning = time.monotonic()
        log.warning("cache unreachable (%s: %s); serving uncached", name, exc)


# Connection pools and clients, one per Redis server and options for the whole process. Django
# keeps the cache object per thread (per request under ASGI, where each request runs in a new
# thread) and each one made its own pool: every request opened a new TCP connection to Redis
# and ran its health check, then built a new client per operation, together a sixth of a cached
# For You page's time under load (BENCHMARKS.md). redis-py pools and clients are thread-safe.
_shared: dict[tuple, tuple] = {}
_shared_lock = threading.Lock()


class TolerantRedisCacheClient(RedisCacheClient):
    def _shared_pool_and_client(self, write: bool) -> tuple:
        index = self._get_connection_pool_index(write)
        key = (self._servers[index], repr(sorted(self._pool_options.items())))
        shared = _shared.get(key)
        if shared is None:
            with _shared_lock:
                shared = _shared.get(key)
                if shared is None:
                    pool = self._pool_class.from_url(self._servers[index], **self._pool_options)
                    shared = _shared[key] = (pool, self._client(connection_pool=pool))
        return shared

    def _get_connection_pool(self, write):
        return self._shared_pool_and_client(write)[0]

    def get_client(self, key=None, *, write=False):
        return self._shared_pool_and_client(write)[1]

    def incr(self, key, delta):
        try:
            return super().incr(key, delta)
        except UNREACHABLE as exc:
            _warn("incr", exc)
            raise ValueError("cache unreachable") from exc  # callers treat it as a missing key


def _tolerant(name: str):
    original = getattr(RedisCacheClient, name)
    fallback = FALLBACKS[name]

    def method(self, *args, **kwargs):
        try:
            return original(self, *args, **kwargs)
        except UNREACHABLE as exc:
            _warn(name, exc)
            return fallback(*args, **kwargs)

    method.__name__ = name
    return method


for _name in FALLBACKS:
    setattr(TolerantRedisCacheClient, _name, _tolerant(_name))


class TolerantRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = TolerantRedisCacheClient
