"""Each staff command through call_command."""

import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import Invite, User
from moderation import actions, policy
from moderation.models import Case, ModerationAction, UserSanction

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_grant_invites(user):
    codes = run("grant_invites", "@ALICE", "--count", "3").split()
    assert len(codes) == 3 and Invite.objects.filter(created_by=user, code__in=codes).count() == 3
    entry = ModerationAction.objects.get()
    assert (entry.action, entry.affected_user, entry.moderator_repr) == (
        "grant_invites",
        user,
        "manage.py grant_invites",
    )


def test_grant_invites_dry_run_and_errors(user):
    assert "Would give @alice 2" in run("grant_invites", "alice", "--count", "2", "--dry-run")
    assert Invite.objects.count() == 0
    with pytest.raises(CommandError):
        run("grant_invites", "ghost")
    with pytest.raises(CommandError):
        run("grant_invites", "alice", "--count", "0")


def test_suspend_user(user):
    out = run("suspend_user", "alice", "--days", "3", "--reason", "Spam")
    user.refresh_from_db()
    assert "Suspended @alice until" in out and not user.is_active
    sanction = UserSanction.objects.get(user=user)
    assert sanction.kind == "suspension" and timedelta(days=2) < sanction.until - timezone.now() <= timedelta(
        days=3
    )
    assert ModerationAction.objects.get().action == "suspend"
    run("suspend_user", "alice", "--lift")
    user.refresh_from_db()
    assert user.is_active


def test_suspend_user_needs_a_reason_and_dry_run_changes_nothing(user):
    with pytest.raises(CommandError):
        run("suspend_user", "alice")
    run("suspend_user", "alice", "--reason", "x", "--dry-run")
    user.refresh_from_db()
    assert user.is_active and not UserSanction.objects.exists()


def test_suspend_user_lift_expired(user):
    actions.suspend_user(user, None, "x", days=1)
    UserSanction.objects.update(until=timezone.now() - timedelta(seconds=1))
    assert "Reactivated @alice" in run("suspend_user", "--lift-expired")
    user.refresh_from_db()
    assert user.is_active


def test_ban_user(user):
    assert "Banned @alice" in run("ban_user", "alice", "--reason", "Hate speech")
    user.refresh_from_db()
    assert not user.is_active and UserSanction.objects.get().kind == "ban"
    run("ban_user", "alice", "--lift", "--reason", "Appeal")
    user.refresh_from_db()
    assert user.is_active and ModerationAction.objects.filter(action="lift").exists()


def test_purge_user(user, other_user, make_post):
    make_post(user)
    assert "posts: 1" in run("purge_user", "alice", "--dry-run")
    with pytest.raises(CommandError):
        run("purge_user", "alice", "--reason", "asked")  # no --yes
    assert User.objects.filter(handle="alice").exists()
    out = run("purge_user", "alice", "--reason", "Erasure request", "--yes")
    assert "Erased @alice" in out
    assert not User.objects.filter(handle="alice").exists()
    assert ModerationAction.objects.get(action="purge_user").reason == "Erasure request"


def test_purge_user_refuses_superusers(staff_user):
    with pytest.raises(CommandError):
        run("purge_user", "staffer", "--reason", "x", "--yes")


def test_export_user(user, make_post, tmp_path):
    post = make_post(user)
    target = tmp_path / "alice.zip"
    assert run("export_user", "alice", "--output", str(target)).strip() == str(target)
    archive = zipfile.ZipFile(target)
    posts = json.loads(archive.read("posts.json"))
    assert posts[0]["id"] == post.pk
    assert ModerationAction.objects.get().action == "export_user"


def test_moderation_report(user, make_user, make_post, moderator):
    for prompt in ["gory torture scene", "a naked woman", "nude beach"]:
        with pytest.raises(Exception):  # noqa: B017 - PolicyRefused
            policy.check_generation_request(user, [prompt], [])
    case = actions.file_report(make_user("reporter"), make_post(user), "sexual").case
    actions.resolve_case(case, moderator, Case.Outcome.HIDE_POST, "Nudity")
    actions.file_report(make_user("reporter2"), make_post(user), "spam")
    data = json.loads(run("moderation_report", "--days", "1", "--json"))
    assert data["policy"] == {"sexual": {"refused": 2}, "violence": {"refused": 1}}
    assert data["reports"] == {"sexual": {"hide_post": 1}, "spam": {"open": 1}}
    assert data["actions"] == {"hide_post": 1}
    table = run("moderation_report")
    assert "Prompt policy" in table and "sexual" in table and "hide_post" in table


def test_moderation_report_period_checks():
    with pytest.raises(CommandError):
        run("moderation_report", "--since", "2026-02-01", "--until", "2026-01-01")
    with pytest.raises(CommandError):
        run("moderation_report", "--since", "yesterday")
    assert "(none)" in run("moderation_report", "--since", "2000-01-01", "--until", "2000-01-02")
