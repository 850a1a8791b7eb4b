"""Tokens on the API: who gets in (`AuthenticationError` for everyone else)."""

import openai
import pytest
from django.utils import timezone

from accounts.models import ApiToken
from tests.api.conftest import DjangoTestTransport, openai_client


def client_for(raw: str):
    return openai_client(raw, transport=DjangoTestTransport())


@pytest.mark.django_db
@pytest.mark.parametrize("raw", ["", "sk-sora-not-a-real-token", "x" * 500])
def test_missing_or_unknown_tokens_are_an_authentication_error(raw):
    with pytest.raises(openai.AuthenticationError) as caught:
        client_for(raw or "placeholder").with_options(default_headers={"Authorization": raw}).videos.list()
    assert caught.value.code == "invalid_api_key"


def test_a_revoked_token_is_refused(user, make_token):
    raw = make_token(user)
    client_for(raw).videos.list()
    ApiToken.objects.filter(owner=user).update(revoked=timezone.now())
    with pytest.raises(openai.AuthenticationError):
        client_for(raw).videos.list()


def test_an_inactive_users_token_is_refused(user, make_token):
    raw = make_token(user)
    user.is_active = False
    user.save()
    with pytest.raises(openai.AuthenticationError):
        client_for(raw).videos.create(prompt="x", seconds="1")


def test_a_session_cookie_is_not_an_api_credential(user_client):
    response = user_client.get("/v1/videos")
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"


def test_using_a_token_records_when(user, make_token):
    raw = make_token(user)
    client_for(raw).videos.list()
    assert ApiToken.objects.get(owner=user).last_used is not None


def test_too_many_requests_is_a_rate_limit_error_with_retry_after(user, make_token, settings):
    settings.RATE_LIMIT_ENABLED = True
    settings.RATE_LIMIT_RATES = {**settings.RATE_LIMIT_RATES, "api": "3/m/user"}
    api = client_for(make_token(user))
    for _ in range(3):
        api.videos.list()
    with pytest.raises(openai.RateLimitError) as caught:
        api.videos.list()
    assert caught.value.code == "rate_limit_exceeded" and caught.value.type == "requests"
    assert 0 < int(caught.value.response.headers["Retry-After"]) <= 60
