"""Sessions and the signed-in user are read through the cache (accounts.sessions, User.cached), and
still end when they must: on logout, a password change, a suspension, a deleted account."""

import time
from unittest import mock

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import USER_CACHE_SECONDS
from accounts.sessions import SESSION_CACHE_SECONDS
from moderation.actions import suspend_user

pytestmark = pytest.mark.django_db

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def page() -> str:
    return reverse("feed:feed_settings")  # signed in only: a signed-out visitor is sent to log in


def signed_in(user) -> Client:
    """A client signed in as `user` that has opened one page (so the caches are warm)."""
    client = Client()
    client.force_login(user)
    assert client.get(page()).status_code == 200
    return client


def test_a_signed_in_page_reads_neither_the_session_nor_the_user_once_warm(user):
    client = signed_in(user)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(page()).status_code == 200
    sql = "\n".join(q["sql"] for q in queries.captured_queries)
    assert 'FROM "django_session"' not in sql and 'FROM "accounts_user"' not in sql


def test_logging_out_ends_the_session_for_whoever_holds_its_cookie(user):
    client = signed_in(user)
    cookie = client.cookies["sessionid"].value
    client.post(reverse("account_logout"))
    stolen = Client()
    stolen.cookies["sessionid"] = cookie
    assert stolen.get(page()).status_code == 302


def test_a_password_change_ends_the_other_sessions_at_once(user):
    laptop, phone = signed_in(user), signed_in(user)
    response = phone.post(
        reverse("account_change_password"),
        {
            "oldpassword": "pw-secret-123",
            "password1": "a-new-long-secret-9",
            "password2": "a-new-long-secret-9",
        },
    )
    assert response.status_code == 302
    assert laptop.get(page()).status_code == 302
    assert phone.get(page()).status_code == 200  # the session that changed it stays signed in


def test_a_suspension_signs_the_person_out_at_once(user, make_user):
    client = signed_in(user)
    suspend_user(user, make_user("mod", is_staff=True), "spam")  # an update(), not a save()
    assert client.get(page()).status_code == 302


def test_a_deleted_account_is_signed_out(user):
    client = signed_in(user)
    user.delete()
    assert client.get(page()).status_code == 302


def test_what_the_cache_cannot_see_lasts_at_most_a_minute(settings, user, make_user):
    # Writes behind the cache's back: a session ended by another web process with its own cache
    # (CACHE_URL=locmem://), and the user row changed in raw SQL. Each copy here expires.
    settings.CACHES = LOCMEM
    client, other = signed_in(user), signed_in(make_user("bo"))
    Session.objects.filter(session_key=client.cookies["sessionid"].value).delete()
    with connection.cursor() as cursor:
        cursor.execute('UPDATE "accounts_user" SET "is_active" = false WHERE "handle" = %s', ["bo"])
    assert client.get(page()).status_code == other.get(page()).status_code == 200
    later = time.time() + max(SESSION_CACHE_SECONDS, USER_CACHE_SECONDS) + 1
    with mock.patch("django.core.cache.backends.locmem.time") as clock:
        clock.time.return_value = later
        assert client.get(page()).status_code == other.get(page()).status_code == 302
