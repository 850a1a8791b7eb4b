"""Suspended and banned accounts: no login, no session, no API token; suspensions end by themselves."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiToken
from moderation import actions, sanctions
from moderation.models import ModerationAction, UserSanction

pytestmark = pytest.mark.django_db


def login(client, handle: str):
    return client.post(reverse("account_login"), {"login": handle, "password": "pw-secret-123"})


def test_a_suspended_account_cannot_log_in(client, user, moderator):
    actions.suspend_user(user, moderator, "Spam", days=2)
    response = login(client, "alice")
    assert response.status_code == 302 and response["Location"] == reverse("account_inactive")
    assert "_auth_user_id" not in client.session
    assert sanctions.is_suspended(user)
    assert "suspended until" in sanctions.sanction_message(user)


def test_a_banned_account_loses_its_open_session_and_api_tokens(client, user, moderator):
    _, raw = ApiToken.issue(user, "cli")
    client.force_login(user)
    assert client.get(reverse("accounts:edit_profile")).status_code == 200
    actions.ban_user(user, moderator, "Hate speech")
    assert client.get(reverse("accounts:edit_profile")).status_code == 302
    assert ApiToken.authenticate(raw) is None
    assert sanctions.is_banned(user) and "banned" in sanctions.sanction_message(user)


def test_a_warning_changes_nothing_but_is_recorded(user, moderator):
    actions.warn_user(user, moderator, "Be nice")
    user.refresh_from_db()
    assert user.is_active and not sanctions.is_suspended(user)
    assert ModerationAction.objects.get().action == "warn"


def test_an_expired_suspension_is_lifted_at_login(client, user, moderator):
    actions.suspend_user(user, moderator, "Spam", until=timezone.now() + timedelta(days=1))
    UserSanction.objects.update(until=timezone.now() - timedelta(minutes=1))
    assert not sanctions.is_suspended(user)
    assert sanctions.lift_if_expired(user) and user.is_active
    assert login(client, "alice").status_code == 302 and "_auth_user_id" in client.session


def test_lift_expired_suspensions_leaves_bans_and_running_suspensions(make_user, moderator):
    expired, running, banned = make_user("expired"), make_user("running"), make_user("banned")
    actions.suspend_user(expired, moderator, "x", days=1)
    actions.suspend_user(running, moderator, "x", days=1)
    actions.ban_user(banned, moderator, "x")
    UserSanction.objects.filter(user=expired).update(until=timezone.now() - timedelta(seconds=1))
    assert [u.handle for u in sanctions.lift_expired_suspensions()] == ["expired"]
    running.refresh_from_db()
    banned.refresh_from_db()
    assert not running.is_active and not banned.is_active


def test_lifting_a_ban_reactivates_and_tells_the_person(user, moderator):
    actions.ban_user(user, moderator, "Oops")
    actions.lift_sanctions(user, moderator, "Appeal accepted.")
    user.refresh_from_db()
    assert user.is_active and not sanctions.is_suspended(user)
    assert "active again" in user.moderation_notices.first().text


def test_moderators_can_sanction_from_the_admin(client, user, moderator):
    from django.urls import reverse

    client.force_login(moderator)
    data = {"user": user.pk, "kind": "suspension", "reason": "Spam waves", "days": "5"}
    response = client.post(reverse("admin:moderation_usersanction_add"), data)
    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.is_active
    assert ModerationAction.objects.get().moderator == moderator
    sanction = UserSanction.objects.get(user=user)
    response = client.post(
        reverse("admin:moderation_usersanction_changelist"),
        {"action": "lift", "_selected_action": [sanction.pk]},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.is_active
