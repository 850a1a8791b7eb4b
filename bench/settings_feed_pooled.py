"""Settings of bench_feed.py's third daphne: the main settings with PostgreSQL connections from a
psycopg pool (Django 5.1+ `OPTIONS["pool"]`) instead of one new connection per request.

Under ASGI every request runs in a fresh thread, so CONN_MAX_AGE can't keep connections (they'd
pile up, one per thread); a pool hands a connection back when the request ends. The profile of
the feed under load showed connecting (plus its SET TIME ZONE round trip) as the largest single
cost of a cached For You page.
"""

from sora_site.settings import *  # noqa: F403

DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {"min_size": 4, "max_size": 20, "timeout": 10}  # noqa: F405
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405 - required with a pool
