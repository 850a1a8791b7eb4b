"""Shared state by default: with an external REDIS_URL every web process uses one Redis cache, so
N daphnes behind a proxy enforce one per-user rate limit (CACHE_URL overrides)."""

import json
import os
import secrets
import subprocess
import sys

import pytest
import requests
from django.conf import settings

from accounts.models import ApiToken
from tests.live import ROOT

pytestmark = pytest.mark.timeout(180)


def cache_backend(**env) -> dict:
    """The default cache the production settings choose for this environment."""
    code = "import json; from sora_site import settings as s; print(json.dumps(s.CACHES['default']))"
    clean = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CACHE_URL")}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_an_external_redis_is_the_cache_unless_told_otherwise():
    redis = cache_backend(REDIS_URL="redis://cache.internal:6379/0")
    assert redis["BACKEND"] == "sora_site.cache.TolerantRedisCache"
    assert redis["LOCATION"] == "redis://cache.internal:6379/0"
    assert cache_backend()["BACKEND"].endswith("LocMemCache")  # the embedded single-machine default
    local = cache_backend(REDIS_URL="redis://cache.internal:6379/0", CACHE_URL="locmem://")
    assert local["BACKEND"].endswith("LocMemCache")
    other = cache_backend(REDIS_URL="redis://queues:6379/0", CACHE_URL="redis://cache:6379/1")
    assert other["LOCATION"] == "redis://cache:6379/1"


@pytest.mark.django_db(transaction=True)  # the daphnes must see the tokens
def test_a_per_user_limit_holds_across_two_web_processes(machines, make_user):
    env = {
        "REDIS_URL": settings.REDIS_URL,
        "CACHE_KEY_PREFIX": f"limit-{secrets.token_hex(4)}",
        "RATE_LIMIT_API": "4/m/user,600/m/ip",
    }
    first, second = machines("web1", env), machines("web2", env)
    urls = [first.daphne(), second.daphne()]
    _, token = ApiToken.issue(make_user("alice"), "limits")
    headers = {"Authorization": f"Bearer {token}"}

    statuses = [requests.get(f"{urls[i % 2]}/v1/videos", headers=headers).status_code for i in range(6)]

    # Each process alone would allow 4; together they allow 4 in all.
    assert statuses == [200, 200, 200, 200, 429, 429]
    _, other = ApiToken.issue(make_user("bob"), "limits")
    assert (
        requests.get(f"{urls[1]}/v1/videos", headers={"Authorization": f"Bearer {other}"}).status_code == 200
    )


@pytest.mark.django_db
def test_pages_still_work_while_the_cache_is_unreachable(client, make_user, settings):
    """A Redis outage turns the shared cache into "nothing cached", not into 500s."""
    from django.core.cache import caches

    settings.CACHES = {
        "default": {
            "BACKEND": "sora_site.cache.TolerantRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.2},
        }
    }
    settings.RATE_LIMIT_ENABLED = True
    cache = caches["default"]
    assert cache.get("k", "miss") == "miss" and cache.add("k", 1) is True
    with pytest.raises(ValueError):
        cache.incr("k")
    _, token = ApiToken.issue(make_user("alice"), "outage")
    response = client.get("/v1/videos", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
