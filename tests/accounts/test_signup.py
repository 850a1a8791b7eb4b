from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.actions import issue_invites
from accounts.models import Invite, User

SIGNUP = "/accounts/signup/"


def signup_data(code: str, **overrides) -> dict:
    data = {
        "invite_code": code,
        "email": "new@example.com",
        "username": "newbie",
        "display_name": "New Person",
        "birth_date": "1995-06-15",
        "password1": "a-long-secret-pass-9",
        "password2": "a-long-secret-pass-9",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_signup_with_valid_code_creates_account_and_uses_code(client, invite):
    response = client.post(SIGNUP, signup_data(invite.code))
    assert response.status_code == 302
    user = User.objects.get(handle="newbie")
    invite.refresh_from_db()
    assert invite.used_by == user and invite.used_at is not None
    assert user.display_name == "New Person"
    assert not user.is_teen
    # Every new account gets its own codes to hand out.
    assert Invite.objects.filter(created_by=user).count() == settings.INVITES_PER_USER
    assert EmailAddress.objects.filter(user=user, email="new@example.com").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "code, message",
    [("nosuchcode", "exist"), ("", "This field is required")],
)
def test_signup_with_unknown_or_missing_code_is_refused(client, code, message):
    response = client.post(SIGNUP, signup_data(code))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.filter(handle="newbie").exists()


@pytest.mark.django_db
def test_signup_with_used_code_is_refused(client, invite, make_user):
    first = make_user("first")
    Invite.objects.filter(pk=invite.pk).update(used_by=first, used_at=timezone.now())
    response = client.post(SIGNUP, signup_data(invite.code))
    assert "already been used" in response.content.decode()
    assert not User.objects.filter(handle="newbie").exists()


@pytest.mark.django_db
def test_signup_with_expired_code_is_refused(client, invite):
    Invite.objects.filter(pk=invite.pk).update(expires=timezone.now() - timedelta(minutes=1))
    response = client.post(SIGNUP, signup_data(invite.code))
    assert "expired" in response.content.decode()
    assert User.objects.count() == 0


@pytest.mark.django_db
def test_invite_link_fills_in_the_code(client, invite):
    response = client.get(f"/invite/{invite.code}", follow=True)
    assert response.status_code == 200
    assert f'value="{invite.code}"' in response.content.decode()


@pytest.mark.django_db
def test_under_13_is_refused_and_under_18_is_a_teen(client):
    codes = issue_invites(None, 2)
    today = timezone.localdate()
    too_young = today.replace(year=today.year - 12)
    response = client.post(SIGNUP, signup_data(codes[0].code, birth_date=too_young.isoformat()))
    assert "at least 13" in response.content.decode()
    assert User.objects.count() == 0

    teen = today.replace(year=today.year - 15)
    response = client.post(SIGNUP, signup_data(codes[1].code, birth_date=teen.isoformat()))
    assert response.status_code == 302
    assert User.objects.get(handle="newbie").is_teen


@pytest.mark.django_db
@pytest.mark.parametrize(
    "handle, error",
    [
        ("ab", "3 to 30"),
        ("has space", "3 to 30"),
        ("9starts", "3 to 30"),
        ("admin", "reserved"),
        ("ALICE", "already"),
    ],
)
def test_handle_rules(client, invite, make_user, handle, error):
    make_user("alice")
    response = client.post(SIGNUP, signup_data(invite.code, username=handle))
    assert error in response.content.decode()
    assert not User.objects.filter(email="new@example.com").exists()
    invite.refresh_from_db()
    assert invite.used_by is None


@pytest.mark.django_db
def test_handles_are_unique_ignoring_case_in_the_database(make_user):
    from django.db import IntegrityError

    make_user("Carol")
    with pytest.raises(IntegrityError):
        User.objects.create_user(handle="carol", email="c2@example.com", password="x")


@pytest.mark.django_db
def test_open_signup_setting_switches_invites_off(client, settings):
    settings.OPEN_SIGNUP = True
    response = client.post(SIGNUP, signup_data(""))
    assert response.status_code == 302
    assert User.objects.filter(handle="newbie").exists()


@pytest.mark.django_db
def test_my_invites_lists_codes_and_who_used_them(client, make_user):
    owner = make_user("owner")
    codes = issue_invites(owner, 3)
    friend = make_user("friend")
    Invite.objects.filter(pk=codes[0].pk).update(used_by=friend, used_at=timezone.now())
    client.force_login(owner)
    response = client.get(reverse("accounts:invites"))
    body = response.content.decode()
    assert all(c.code in body for c in codes)
    assert "@friend" in body
    assert f"/invite/{codes[1].code}" in body


@pytest.mark.django_db
def test_my_invites_runs_a_fixed_number_of_queries(client, make_user, django_assert_num_queries):
    owner = make_user("owner")
    client.force_login(owner)
    issue_invites(owner, 2)
    client.get(reverse("accounts:invites"))  # the first page after signing in reads the user
    # unread notifications, invites with their users; the session and user come from the cache
    with django_assert_num_queries(2):
        client.get(reverse("accounts:invites"))
    issue_invites(owner, 10)
    with django_assert_num_queries(2):
        client.get(reverse("accounts:invites"))


def test_my_invites_needs_login(client, db):
    response = client.get(reverse("accounts:invites"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
