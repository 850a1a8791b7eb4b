"""The bell's unread count, kept in the cache for a few seconds.

Every page a signed-in person opens shows the bell, and counting (feed notifications plus
moderation notices) was a tenth of a For You page's server time (BENCHMARKS.md). Open pages
get new counts pushed over the WebSocket as they happen (feed.actions.notify), so a reload
within `BELL_CACHE_SECONDS` of a new notification is the only place an older count can show;
opening the notifications page forgets the entry. With the feed's caches off
(`FEED_RANKING_CACHE_SECONDS=0`, the tests) every page counts afresh.
"""

from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache

BELL_CACHE_SECONDS = 5


def key(user_id: int) -> str:
    return f"feed:bell:{user_id}"


def unread(user_id: int, count: Callable[[int], int], cached: dict | None = None) -> int:
    """`count(user_id)`, from the cache when it was counted in the last few seconds (`cached`:
    entries already read, feed.ranking.viewer_and_cached)."""
    if settings.FEED_RANKING_CACHE_SECONDS <= 0:
        return count(user_id)
    entry = key(user_id)
    value = cache.get(entry) if cached is None else cached.get(entry)
    if value is None:
        value = count(user_id)
        cache.set(entry, value, BELL_CACHE_SECONDS)
    return value


def forget(user_id: int) -> None:
    cache.delete(key(user_id))
