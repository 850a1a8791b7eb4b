"""Sessions in the database, read through the cache: `SESSION_ENGINE = "accounts.sessions"`.

Django's `cached_db` engine (every page read its session with a query; BENCHMARKS.md, feed
round 6) with one change: an entry stays in the cache at most `SESSION_CACHE_SECONDS`, not the
session's whole life. Ending a session (logout, `flush`) deletes the row and the cache entry
at once; the cap bounds how long an ended session can still be read where that delete can't
reach: a per-process cache (CACHE_URL locmem://) in another web process, or a delete lost while
Redis was unreachable (sora_site.cache answers "nothing happened" then).
"""

from django.contrib.sessions.backends import cached_db

SESSION_CACHE_SECONDS = 60


class CappedCache:
    """A cache whose `set` keeps entries at most `limit` seconds; everything else is the cache's."""

    def __init__(self, cache, limit: int) -> None:
        self.cache, self.limit = cache, limit

    def __getattr__(self, name):
        return getattr(self.cache, name)

    def __contains__(self, key) -> bool:
        return key in self.cache

    def set(self, key, value, timeout=None, version=None) -> None:
        timeout = self.limit if timeout is None else min(timeout, self.limit)
        self.cache.set(key, value, timeout, version=version)

    async def aset(self, key, value, timeout=None, version=None) -> None:
        timeout = self.limit if timeout is None else min(timeout, self.limit)
        await self.cache.aset(key, value, timeout, version=version)


class SessionStore(cached_db.SessionStore):
    def __init__(self, session_key=None) -> None:
        super().__init__(session_key)
        self._cache = CappedCache(self._cache, SESSION_CACHE_SECONDS)
