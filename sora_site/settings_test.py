"""Test settings: the main settings with a fast hasher and in-memory email."""

import os

os.environ.setdefault("DEBUG", "true")
# Per-run queue and channel names: several test runs may share one Redis server. Set in the
# environment (not just here) so the worker processes that tests spawn inherit the same names.
os.environ.setdefault("GENERATION_QUEUE", f"gpu-test-{os.getpid()}")
os.environ.setdefault("CPU_QUEUE", f"cpu-test-{os.getpid()}")
os.environ.setdefault("CHANNELS_PREFIX", f"asgi-test-{os.getpid()}")
os.environ.setdefault("METRICS_PREFIX", f"metrics-test-{os.getpid()}")
os.environ.setdefault("SORA_VIDEO_PROFILE", "tiny")
# Tests that stop PostgreSQL or count connections expect one connection per request; the pool
# (settings.py, on by default) is exercised by bench/bench_feed.py and tests/feed/test_speed.py.
os.environ.setdefault("DB_POOL", "false")
# Synthetic voice readings are a few seconds long, not the 30-60 s a person reads.
os.environ.setdefault("CAMEO_VOICE_MIN_SECONDS", "5")
os.environ.setdefault("CAMEO_VOICE_MIN_SPEECH_SECONDS", "4")
# Webhook receivers in tests are local HTTP servers (tests of the address check switch it off).
os.environ.setdefault("WEBHOOK_ALLOW_PRIVATE_URLS", "true")

from sora_site.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Child processes (daphne, workers) of a test run are handed the parent's media folder.
MEDIA_ROOT = os.environ.get("MEDIA_ROOT_OVERRIDE") or VAR_DIR / "test-media" / str(os.getpid())  # noqa: F405
ACCOUNT_RATE_LIMITS = False

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not :memory:, so worker processes spawned by integration tests share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}  # noqa: F405
SORA_VIDEO_MODEL = os.environ.get("SORA_TEST_MODEL", str(VAR_DIR / "models" / "tiny-ltx2-test"))  # noqa: F405
RATE_LIMIT_ENABLED = False  # the rate-limit tests switch it back on

# Each test sees its own writes in For You at once; tests/feed/test_ranking.py turns it on.
FEED_RANKING_CACHE_SECONDS = 0
# One process's tests must not see another's counters: a per-process cache unless a test run
# names a CACHE_URL (the fleet tests start their daphnes with the main settings instead).
if not os.environ.get("CACHE_URL"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
