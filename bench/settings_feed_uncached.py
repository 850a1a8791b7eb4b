"""Settings of bench_feed.py's second daphne: For You ranked on every request (no ranking cache),
to measure the cache-miss path side by side with the cached one."""

from sora_site.settings import *  # noqa: F403

FEED_RANKING_CACHE_SECONDS = 0
