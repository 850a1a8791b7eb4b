"""Export (the zip) and erasure (purge / delete my account): complete, and fair to other people."""

import io
import json
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from accounts.actions import issue_invites
from accounts.models import ApiToken, Block, Invite, User
from cameos.ledger import append_entry
from cameos.models import Cameo, CameoMedia, LedgerEntry
from feed import actions as feed_actions
from feed.models import Comment, Follow, Like, Notification, Post
from generation.models import Generation
from moderation import actions, userdata
from moderation.models import Case, ModerationAction, PolicyDecision, Report

pytestmark = pytest.mark.django_db


@pytest.fixture
def rich_account(make_user, make_post, make_generation):
    """alice with a bit of everything, and bob and carol around her."""
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    alice.bio = "I make videos"
    alice.avatar.save("alice.png", ContentFile(b"png bytes"), save=True)
    own_post = make_post(alice, caption="my first", prompt="a lighthouse in a storm")
    draft = make_generation(alice, prompt="an unposted draft")
    bobs_post = make_post(bob)
    feed_actions.toggle_like(alice, bobs_post, True)
    feed_actions.toggle_like(bob, own_post, True)
    thread = feed_actions.add_comment(alice, bobs_post, "love this")
    feed_actions.add_comment(bob, bobs_post, "thanks!", parent=thread)
    lonely = feed_actions.add_comment(alice, bobs_post, "second thought")
    feed_actions.add_comment(bob, own_post, "nice lighthouse")
    feed_actions.follow(alice, bob)
    feed_actions.follow(carol, alice)
    Block.objects.create(blocker=carol, blocked=alice)
    ApiToken.issue(alice, "cli")
    issue_invites(alice, 2)
    cameo = Cameo.objects.create(owner=alice, status="active", restrictions="no politics")
    media = CameoMedia(cameo=cameo, role="recording")
    media.file.save("rec.webm", ContentFile(b"webm bytes"), save=True)
    append_entry(cameo, LedgerEntry.Kind.CREATED, actor=alice)
    remix = make_post(carol, remix_of=own_post)
    actions.file_report(alice, make_post(carol), "spam", "")
    PolicyDecision.objects.create(owner=alice, outcome="refused", category="violence", text="gore")
    return {
        "alice": alice, "bob": bob, "carol": carol, "own_post": own_post, "draft": draft,
        "bobs_post": bobs_post, "thread": thread, "lonely": lonely, "cameo": cameo, "media": media,
        "remix": remix,
    }  # fmt: skip


def read_zip(user) -> zipfile.ZipFile:
    buffer = io.BytesIO()
    userdata.write_export(user, buffer)
    return zipfile.ZipFile(buffer)


def test_export_has_everything_the_person_has(rich_account):
    alice = rich_account["alice"]
    archive = read_zip(alice)
    names = set(archive.namelist())
    for expected in [
        "profile.json", "README.txt", "drafts.json", "posts.json", "comments.json", "likes.json", "follows.json",
        "cameos.json", "cameo_media.json", "cameo_ledger.json", "api_tokens.json", "invites.json",
        "reports_filed.json", "refused_prompts.json",
    ]:  # fmt: skip
        assert expected in names, expected
    profile = json.loads(archive.read("profile.json"))
    assert profile["handle"] == "alice" and profile["bio"] == "I make videos" and "password" not in profile
    assert archive.read(profile["avatar"]) == b"png bytes"
    drafts = json.loads(archive.read("drafts.json"))
    assert {d["prompt"] for d in drafts} == {"a lighthouse in a storm", "an unposted draft"}
    for draft in drafts:
        if draft["video"]:
            assert archive.read(draft["video"])[4:8] == b"ftyp"  # the real MP4 file
    posts = json.loads(archive.read("posts.json"))
    assert [(p["caption"], p["author"], p["generation"]) for p in posts] == [
        ("my first", "@alice", rich_account["own_post"].generation.code)
    ]
    assert {c["body"] for c in json.loads(archive.read("comments.json"))} == {"love this", "second thought"}
    follows = json.loads(archive.read("follows.json"))
    assert {(f["follower"], f["followee"]) for f in follows} == {("@alice", "@bob"), ("@carol", "@alice")}
    media = json.loads(archive.read("cameo_media.json"))
    assert archive.read(media[0]["file"]) == b"webm bytes"
    assert json.loads(archive.read("cameo_ledger.json"))[0]["kind"] == "created"
    assert "digest" not in json.loads(archive.read("api_tokens.json"))[0]


def test_export_leaves_out_other_peoples_things(rich_account):
    archive = read_zip(rich_account["alice"])
    assert "blocks.json" not in archive.namelist()  # carol blocking alice is carol's business
    comments = json.loads(archive.read("comments.json"))
    assert "nice lighthouse" not in {c["body"] for c in comments}  # bob's comment on her post
    likes = json.loads(archive.read("likes.json"))
    assert [like["user"] for like in likes] == ["@alice"]


def test_download_my_data(client, rich_account):
    client.force_login(rich_account["alice"])
    assert client.get(reverse("moderation:my_data")).status_code == 200
    response = client.post(reverse("moderation:download_my_data"))
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert "profile.json" in archive.namelist()


def test_download_needs_a_login(client):
    response = client.post(reverse("moderation:download_my_data"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_download_is_a_post(user_client):
    assert user_client.get(reverse("moderation:download_my_data")).status_code == 405


def test_erasure_removes_the_account_its_rows_and_files(rich_account, django_capture_on_commit_callbacks):
    alice = rich_account["alice"]
    files = [name for name, _ in userdata.owned_files(alice)]
    assert len(files) >= 5 and all(default_storage.exists(name) for name in files)
    pk = alice.pk
    with django_capture_on_commit_callbacks(execute=True):
        actions.purge_user(alice, None, "Requested by email", via="test")
    assert not User.objects.filter(pk=pk).exists()
    assert not any(default_storage.exists(name) for name in files)
    assert not Generation.objects.filter(owner_id=pk).exists()
    assert not Post.objects.filter(author_id=pk).exists()
    assert not Like.objects.filter(user_id=pk).exists()
    assert (
        not Follow.objects.filter(follower_id=pk).exists()
        and not Follow.objects.filter(followee_id=pk).exists()
    )
    assert not Cameo.objects.filter(owner_id=pk).exists() and not CameoMedia.objects.exists()
    assert (
        not ApiToken.objects.filter(owner_id=pk).exists()
        and not Invite.objects.filter(created_by_id=pk).exists()
    )
    assert not PolicyDecision.objects.filter(owner_id=pk).exists()
    assert not Notification.objects.filter(actor_id=pk).exists()
    for model, rows in userdata.owned_querysets(User(pk=pk, handle="alice")):
        assert not rows.exists(), model


def test_erasure_keeps_anonymised_remnants_others_need(rich_account):
    alice, bob, carol = rich_account["alice"], rich_account["bob"], rich_account["carol"]
    bobs_post, thread, remix = rich_account["bobs_post"], rich_account["thread"], rich_account["remix"]
    actions.purge_user(alice, None, "Requested", via="test")
    # Bob's reply keeps its thread; alice's comment there is a nameless remnant.
    thread.refresh_from_db()
    assert thread.body == "[deleted]" and thread.author.handle == "deleted" and not thread.author.is_active
    assert Comment.objects.filter(parent=thread, author=bob).exists()
    # Her other comment is gone, and the counters on bob's post match.
    assert not Comment.objects.filter(pk=rich_account["lonely"].pk).exists()
    bobs_post.refresh_from_db()
    assert bobs_post.comment_count == Comment.objects.filter(post=bobs_post).count() == 2
    assert bobs_post.like_count == 0
    # Carol's remix stays hers; the link to the erased source is cut.
    remix.refresh_from_db()
    assert remix.source_post is None and remix.author == carol
    # Her report still counts, without her.
    report = Report.objects.get()
    assert report.reporter is None and report.case.reports.count() == 1


def test_erasure_takes_the_name_out_of_moderation_records(make_user, moderator):
    person, reporter = make_user("person"), make_user("reporter")
    case = actions.file_report(reporter, person, "harassment").case
    actions.resolve_case(case, moderator, "warn", "Be nice")
    actions.purge_user(person, moderator, "Erasure request")
    case.refresh_from_db()
    assert "@person" not in case.target_repr and case.target_owner is None
    assert not ModerationAction.objects.filter(target_repr__contains="@person").exists()
    purge = ModerationAction.objects.get(action="purge_user")
    assert purge.moderator == moderator and purge.reason == "Erasure request"
    assert Case.objects.count() == 1 and ModerationAction.objects.count() == 2


def test_delete_my_account(client, rich_account):
    alice = rich_account["alice"]
    client.force_login(alice)
    url = reverse("moderation:delete_account")
    assert client.get(url).status_code == 200
    response = client.post(url, {"password": "wrong", "handle": "alice"})
    assert response.status_code == 400 and User.objects.filter(pk=alice.pk).exists()
    response = client.post(url, {"password": "pw-secret-123", "handle": "@Alice"})
    assert response.status_code == 302
    assert not User.objects.filter(pk=alice.pk).exists()
    assert "_auth_user_id" not in client.session
    entry = ModerationAction.objects.get(action="delete_account")
    assert entry.moderator is None and "alice" not in entry.target_repr


def test_delete_account_needs_a_login(client):
    response = client.post(reverse("moderation:delete_account"), {"password": "x", "handle": "x"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_profile_page_links_to_data_and_deletion(user_client):
    html = user_client.get(reverse("accounts:edit_profile")).content.decode()
    assert reverse("moderation:my_data") in html and reverse("moderation:delete_account") in html
