"""Rate limits: per user and per IP on the cache, a clear message and HTTP 429; allauth's own
limits on login and signup are on (tests switch them off globally; these switch them back on)."""

import json

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse

from sora_site.ratelimit import RateLimited, limit, parse_rates, ratelimit

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _limits_on(settings):
    """Test settings may switch the site's limits off; these tests are about them."""
    settings.RATE_LIMIT_ENABLED = True


def request_from(user, ip="10.0.0.1", path="/x", method="post", **headers):
    request = getattr(RequestFactory(), method)(path, REMOTE_ADDR=ip, headers=headers)
    request.user = user
    return request


def test_parse_rates():
    assert [(r.amount, r.seconds, r.per) for r in parse_rates("20/m/user, 5/10m/ip,1/d/user")] == [
        (20, 60, "user"), (5, 600, "ip"), (1, 86400, "user"),
    ]  # fmt: skip
    with pytest.raises(ValueError):
        parse_rates("lots")


def test_per_user_limit_follows_the_user_across_addresses(user, other_user):
    for n in range(3):
        limit(request_from(user, ip=f"10.0.0.{n}"), "comment", "3/m/user")
    with pytest.raises(RateLimited) as caught:
        limit(request_from(user, ip="10.0.0.9"), "comment", "3/m/user")
    assert caught.value.retry_after <= 60
    assert "Too many comments" in str(caught.value)
    limit(request_from(other_user), "comment", "3/m/user")


def test_per_ip_limit_covers_everyone_behind_it(user, other_user):
    limit(request_from(user), "report", "2/m/ip")
    limit(request_from(other_user), "report", "2/m/ip")
    with pytest.raises(RateLimited):
        limit(request_from(user), "report", "2/m/ip")
    limit(request_from(user, ip="10.9.9.9"), "report", "2/m/ip")


def test_scopes_count_separately(user):
    limit(request_from(user), "comment", "1/m/user")
    limit(request_from(user), "api", "1/m/user")


def test_limits_can_be_switched_off(user, settings):
    settings.RATE_LIMIT_ENABLED = False
    for _ in range(5):
        limit(request_from(user), "comment", "1/m/user")


def test_decorator_answers_429_with_message_and_retry_after(user, settings):
    settings.RATE_LIMIT_RATES = {"comment": "1/m/user"}

    @ratelimit("comment")
    def view(request):
        return HttpResponse("ok")

    assert view(request_from(user)).status_code == 200
    assert view(request_from(user, method="get")).status_code == 200  # GETs aren't counted
    response = view(request_from(user))
    assert response.status_code == 429
    assert int(response["Retry-After"]) <= 60
    assert b"Too many comments" in response.content


def test_api_clients_get_the_error_shape(user, settings):
    settings.RATE_LIMIT_RATES = {"api": "1/m/ip"}

    @ratelimit("api", methods=("GET", "POST"))
    def view(request):
        return HttpResponse("ok")

    view(request_from(user, path="/v1/videos"))
    response = view(request_from(user, path="/v1/videos"))
    assert response.status_code == 429
    assert json.loads(response.content)["error"]["code"] == "rate_limit_exceeded"


def test_reports_are_rate_limited(user_client, other_user, make_post, settings):
    settings.RATE_LIMIT_RATES = {**settings.RATE_LIMIT_RATES, "report": "2/m/user"}
    posts = [make_post(other_user) for _ in range(3)]
    url = lambda post: reverse("moderation:report", args=["post", post.code])  # noqa: E731
    assert user_client.post(url(posts[0]), {"reason": "spam"}).status_code == 302
    assert user_client.post(url(posts[1]), {"reason": "spam"}).status_code == 302
    response = user_client.post(url(posts[2]), {"reason": "spam"})
    assert response.status_code == 429 and b"Too many reports" in response.content


def test_data_downloads_are_rate_limited(user_client, settings):
    settings.RATE_LIMIT_RATES = {**settings.RATE_LIMIT_RATES, "export": "1/h/user"}
    assert user_client.post(reverse("moderation:download_my_data")).status_code == 200
    assert user_client.post(reverse("moderation:download_my_data")).status_code == 429


def test_site_settings_keep_allauth_limits_on():
    from sora_site import settings as site_settings

    assert site_settings.ACCOUNT_RATE_LIMITS["login_failed"] and site_settings.ACCOUNT_RATE_LIMITS["signup"]
    assert site_settings.RATE_LIMIT_ENABLED


def test_login_attempts_are_limited_by_ip(client, user, settings):
    settings.ACCOUNT_RATE_LIMITS = {"login": "3/m/ip"}
    for _ in range(3):
        client.post(reverse("account_login"), {"login": "alice", "password": "wrong"})
    response = client.post(reverse("account_login"), {"login": "alice", "password": "wrong"})
    assert response.status_code == 429


def test_failed_logins_are_limited_per_account(client, user, settings):
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "100/m/ip,2/5m/key"}
    for _ in range(2):
        client.post(reverse("account_login"), {"login": "alice", "password": "wrong"})
    response = client.post(reverse("account_login"), {"login": "alice", "password": "pw-secret-123"})
    assert "_auth_user_id" not in client.session
    assert b"Too many failed login attempts" in response.content


def test_signups_are_limited_by_ip(client, settings):
    settings.ACCOUNT_RATE_LIMITS = {"signup": "2/m/ip"}
    for _ in range(2):
        client.post(reverse("account_signup"), {"email": "x@example.com"})
    assert client.post(reverse("account_signup"), {"email": "x@example.com"}).status_code == 429
