"""Settings > API tokens: create (shown once), list, revoke; owner, stranger and anonymous."""

import pytest
from django.urls import reverse

from accounts.models import ApiToken, hash_token

TOKENS = reverse("api:tokens")


def revoke_url(token: ApiToken) -> str:
    return reverse("api:revoke_token", args=[token.pk])


def test_anonymous_visitors_are_sent_to_log_in(client, user):
    token, _ = ApiToken.issue(user, "cli")
    for response in (client.get(TOKENS), client.post(TOKENS, {"name": "x"}), client.post(revoke_url(token))):
        assert response.status_code == 302 and "/accounts/login/" in response.url
    assert ApiToken.objects.count() == 1 and ApiToken.objects.get().revoked is None


def test_creating_a_token_shows_it_once_and_stores_only_its_digest(user_client, user):
    response = user_client.post(TOKENS, {"name": "laptop script"})
    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    raw = response.context["raw_token"]
    assert raw.startswith("sk-sora-") and raw.encode() in response.content
    token = ApiToken.objects.get(owner=user)
    assert token.name == "laptop script" and token.digest == hash_token(raw)
    assert ApiToken.authenticate(raw) == user
    again = user_client.get(TOKENS)
    assert raw.encode() not in again.content and token.prefix.encode() in again.content


def test_a_token_needs_a_name(user_client):
    response = user_client.post(TOKENS, {"name": "  "})
    assert response.status_code == 400 and not ApiToken.objects.exists()


def test_the_list_shows_only_my_live_tokens(user_client, user, other_user, django_assert_num_queries):
    ApiToken.issue(user, "mine")
    revoked, _ = ApiToken.issue(user, "old")
    ApiToken.objects.filter(pk=revoked.pk).update(revoked=revoked.created)
    ApiToken.issue(other_user, "theirs")
    # user (the first page after signing in; the session comes from the cache), tokens, webhook
    # endpoints (no deliveries to prefetch), the layout's badge
    with django_assert_num_queries(4):
        response = user_client.get(TOKENS)
    assert [t.name for t in response.context["tokens"]] == ["mine"]
    assert b"theirs" not in response.content


def test_the_owner_revokes_a_token_and_it_stops_working(user_client, user):
    token, raw = ApiToken.issue(user, "cli")
    response = user_client.post(revoke_url(token), follow=True)
    assert response.redirect_chain[-1][0] == TOKENS and b"revoked" in response.content
    token.refresh_from_db()
    assert token.revoked is not None and ApiToken.authenticate(raw) is None


def test_a_stranger_cant_revoke_my_token(client, user, other_user):
    token, raw = ApiToken.issue(user, "cli")
    client.force_login(other_user)
    assert client.post(revoke_url(token)).status_code == 404
    assert ApiToken.authenticate(raw) == user


def test_revoking_needs_post(user_client, user):
    token, _ = ApiToken.issue(user, "cli")
    assert user_client.get(revoke_url(token)).status_code == 405


def test_there_is_a_limit_on_live_tokens(user_client, user):
    from api.views import MAX_LIVE_TOKENS

    for n in range(MAX_LIVE_TOKENS):
        ApiToken.issue(user, f"t{n}")
    response = user_client.post(TOKENS, {"name": "one too many"})
    assert response.status_code == 400 and ApiToken.objects.count() == MAX_LIVE_TOKENS


@pytest.mark.django_db
def test_the_profile_page_links_to_tokens(user_client):
    assert TOKENS.encode() in user_client.get(reverse("accounts:edit_profile")).content
