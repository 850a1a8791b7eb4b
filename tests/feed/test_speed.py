"""What keeps feed pages fast under daphne: an async-capable middleware stack, fast 503s
instead of hangs when a process is overloaded, and no full garbage collections over everything
the server loaded. The figures are bench/bench_feed.py's."""

import pytest
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.test import AsyncClient
from django.utils.module_loading import import_string

from sora_site import middleware
from sora_site.middleware import LoadSheddingMiddleware

pytestmark = pytest.mark.django_db


def test_every_middleware_can_run_on_the_event_loop():
    """One sync-only middleware makes every request hop to a thread and back (BENCHMARKS.md)."""
    for path in settings.MIDDLEWARE:
        middleware = import_string(path)
        assert getattr(middleware, "async_capable", False), path


def test_an_asgi_server_freezes_what_it_loaded_once(monkeypatch):
    """Every full collection walked all of Django and the apps: pauses of tens of ms every few
    seconds under load (BENCHMARKS.md, feed round 6)."""
    freezes = []
    monkeypatch.setattr(middleware, "_frozen", False)
    monkeypatch.setattr(middleware.gc, "freeze", lambda: freezes.append(1))
    WSGIHandler()
    assert freezes == []
    ASGIHandler()
    ASGIHandler()
    assert freezes == [1]


async def test_pages_and_static_files_are_served_through_the_async_stack():
    client = AsyncClient()
    page = await client.get("/")
    assert page.status_code == 200 and "Content-Security-Policy" in page.headers
    css = await client.get("/static/css/feed-tools.css")
    assert css.status_code == 200
    assert b"feed-tools" in b"".join(css.streaming_content)


async def test_an_overloaded_process_answers_503_with_retry_after_at_once(settings):
    settings.WEB_MAX_IN_FLIGHT = 2
    client = AsyncClient()
    LoadSheddingMiddleware.in_flight = 2  # two requests already being served
    try:
        busy = await client.get("/")
        assert busy.status_code == 503 and busy["Retry-After"] == "1"
        assert (await client.get("/healthz")).status_code == 200  # health checks are never shed
    finally:
        LoadSheddingMiddleware.in_flight = 0
    assert (await client.get("/")).status_code == 200
    assert LoadSheddingMiddleware.in_flight == 0


def test_cached_cards_carry_each_viewers_own_csrf_token(make_user, make_post, client):
    """Cards are rendered once and reused (feed/templatetags/feed_cards.py); the CSRF token in
    their forms is put in per request, so a card first rendered for Bob posts fine for Alice."""
    import re

    from django.test import Client
    from django.urls import reverse

    from feed.models import Like
    from feed.templatetags.feed_cards import TOKEN_PLACEHOLDER

    post = make_post(make_user("author"), caption="Shared card")
    bob, alice = make_user("bob"), make_user("alice")
    bobs = Client(enforce_csrf_checks=True)
    bobs.force_login(bob)
    bob_page = bobs.get(reverse("feed:home")).content.decode()
    alices = Client(enforce_csrf_checks=True)
    alices.force_login(alice)
    alice_page = alices.get(reverse("feed:home")).content.decode()
    assert TOKEN_PLACEHOLDER not in bob_page + alice_page
    like_form = re.search(
        r'action="/p/[^"]+/like".*?name="csrfmiddlewaretoken" value="([^"]+)"', alice_page, re.S
    )
    response = alices.post(
        reverse("feed:like", args=[post.code]), {"like": "1", "csrfmiddlewaretoken": like_form[1]}
    )
    assert response.status_code == 302
    assert Like.objects.filter(user=alice, post=post).exists()


def test_the_cached_page_around_the_cards_is_each_viewers_own(make_user, make_post, settings):
    """The page around For You's cards is rendered once per viewer and what it shows
    (feed.views.render_feed); each viewer still sees their own name, steering line, flash
    message and CSRF token, and a change shows on the next page."""
    import re

    from django.core.cache import cache
    from django.test import Client
    from django.urls import reverse

    settings.FEED_RANKING_CACHE_SECONDS = 30  # every feed cache on, as in production
    cache.clear()
    make_post(make_user("author"), caption="Shared card")
    pages = {}
    for handle in ("bob", "alice"):
        browser = Client(enforce_csrf_checks=True)
        browser.force_login(make_user(handle))
        for _ in range(2):  # the second page comes from the caches
            pages[handle] = browser.get(reverse("feed:home")).content.decode()
        assert f"@{handle}" in pages[handle] and "Shared card" in pages[handle]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', pages[handle])[1]
        saved = browser.post(
            reverse("feed:steer"),
            {"steering": f"more {handle} things", "csrfmiddlewaretoken": token},
            follow=True,
        ).content.decode()
        assert "Steering saved." in saved and f"more {handle} things" in saved
        again = browser.get(reverse("feed:home")).content.decode()
        assert "Steering saved." not in again and f"Steering: “more {handle} things”" in again
    assert "@alice" not in pages["bob"] and "@bob" not in pages["alice"]
    cache.clear()


def test_a_page_token_is_a_fresh_mask_of_the_visitors_csrf_secret(rf):
    """sora_site.csrf masks the secret as Django's `get_token` does (its middleware unmasks it
    back), with a new random mask on every page, and renews the cookie like `get_token`."""
    from django.middleware.csrf import CSRF_ALLOWED_CHARS, _get_new_csrf_string, _unmask_cipher_token

    from sora_site.csrf import page_token

    secret = _get_new_csrf_string()
    tokens = set()
    for _ in range(50):
        request = rf.get("/")
        request.META["CSRF_COOKIE"] = secret
        token = page_token(request)
        assert len(token) == 64 and set(token) <= set(CSRF_ALLOWED_CHARS)
        assert _unmask_cipher_token(token) == secret
        assert request.META["CSRF_COOKIE_NEEDS_UPDATE"]
        tokens.add(token)
    assert len(tokens) == 50
    fresh = rf.get("/")  # no secret yet: Django makes one and sets the cookie
    assert _unmask_cipher_token(page_token(fresh)) == fresh.META["CSRF_COOKIE"]
