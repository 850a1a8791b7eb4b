"""Withdrawal reaches every copy: after each way consent can end, nothing of someone else's that
shows the likeness is served to its author or anyone else (pages answer 410 and say why), it can't
be a source for a new video, its author is told once, and /verify of a copy saved earlier names
the withdrawal.

Each case is a real post with a real export (watermark, tracking mark, signed C2PA) downloaded by
its author before consent ends, so the last check reads the mark of a real file.
"""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken
from cameos.actions import consent, controls
from cameos.models import Cameo, CameoUse, LedgerEntry, Withdrawal
from feed import actions as feed_actions
from feed.models import Notification
from generation.actions import start_generation
from generation.errors import ConsentRefused
from generation.models import Generation
from tests.conftest import approve, make_cameo, mutuals

pytestmark = pytest.mark.django_db
P = Cameo.Permission


def narrow(ada, bob, cameo, use):
    controls.update_cameo_settings(cameo, permission=P.ONLY_ME, preferences="", restrictions="", actor=ada)


def unapprove(ada, bob, cameo, use):
    controls.remove_approval(cameo, bob, actor=ada)


def block(ada, bob, cameo, use):
    controls.block_user_of(use, actor=ada)


def unfollow(ada, bob, cameo, use):
    feed_actions.unfollow(ada, bob)


def delete(ada, bob, cameo, use):
    controls.delete_cameo(cameo, actor=ada, keep_videos=False)


def delete_account(ada, bob, cameo, use):
    from moderation.userdata import erase_user

    erase_user(ada)


def ban(ada, bob, cameo, use):
    from moderation.actions import ban_user

    ban_user(ada, None, "impersonation")


# (how consent ends, the cameo's level before, the reason the author is given, draft row kept)
KINDS = [
    pytest.param(narrow, P.EVERYONE, "permission changed to only me", True, id="level narrowed"),
    pytest.param(unapprove, P.APPROVED, "approval removed", True, id="approval removed"),
    pytest.param(block, P.EVERYONE, "blocked", True, id="block"),
    pytest.param(unfollow, P.MUTUALS, "no longer mutuals", True, id="unfollow"),
    pytest.param(delete, P.EVERYONE, "cameo deleted", False, id="cameo deleted"),
    pytest.param(delete_account, P.EVERYONE, "account deleted", False, id="account deleted"),
    pytest.param(ban, P.EVERYONE, "account banned", True, id="banned"),
]


@pytest.fixture
def scene(make_user, make_generation, staff_user, django_capture_on_commit_callbacks):
    """ada's cameo in bob's posted video and in his remix of it; bob downloads the export."""

    def build(level):
        ada, bob, stranger = make_user("ada"), make_user("bob"), make_user("stranger")
        cameo = make_cameo(ada, permission=level)
        if level == P.APPROVED:
            approve(cameo, bob)
        if level == P.MUTUALS:
            mutuals(ada, bob)
        draft = make_generation(bob, prompt="ada juggling")
        consent.record_cameo_uses(draft, [cameo])
        remix = make_generation(bob, prompt="ada juggling again", source=draft)
        consent.record_cameo_uses(remix, [])
        with django_capture_on_commit_callbacks(execute=True):
            post = feed_actions.publish_post(draft, caption="juggling")
        bobs = Client()
        bobs.force_login(bob)
        download = bobs.get(reverse("provenance:download", args=[draft.code]))
        assert download.status_code == 200
        saved = b"".join(download.streaming_content)
        return ada, bob, stranger, cameo, draft, remix, post, saved

    return build


def client_of(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def served_bytes(response) -> int:
    if response.status_code != 200:
        return 0
    return len(b"".join(response.streaming_content) if response.streaming else response.content)


@pytest.mark.parametrize("end, level, why, kept", KINDS)
def test_after_consent_ends_nothing_with_the_likeness_is_served(
    scene, end, level, why, kept, staff_user, tmp_path, django_capture_on_commit_callbacks
):
    ada, bob, stranger, cameo, draft, remix, post, saved = scene(level)
    use = CameoUse.objects.get(cameo=cameo, generation=draft)
    with django_capture_on_commit_callbacks(execute=True):
        end(ada, bob, cameo, use)

    # The draft, its media and downloads: 410 with the reason for the author, nothing for others.
    for generation in (draft, remix):
        for viewer in (bob, stranger, None):
            client = client_of(viewer)
            page = client.get(reverse("generation:detail", args=[generation.code]))
            if viewer is bob:
                assert page.status_code == 410
                assert "removed because @ada withdrew consent" in page.content.decode()
            else:
                assert page.status_code in (302, 404)
            urls = [reverse("provenance:download", args=[generation.code])]
            urls += [
                reverse("generation:media", args=[generation.code, v]) for v in ("video", "poster", "sprite")
            ]
            for url in urls:
                assert served_bytes(client.get(url)) == 0, url
    # The post: gone for everyone, with a plain 410 that says why.
    for viewer in (bob, stranger, None) if end is delete_account else (bob, stranger, ada, None):
        client = client_of(viewer)
        page = client.get(reverse("feed:post", args=[post.code]))
        assert page.status_code == 410
        assert "removed because @ada withdrew consent" in page.content.decode()
        for variant in ("video", "poster", "sprite"):
            assert served_bytes(client.get(reverse("feed:media", args=[post.code, variant]))) == 0
    # The API's content variants, with the author's own token.
    token = ApiToken.issue(bob, "script")[1]
    headers = {"Authorization": f"Bearer {token}"}
    for variant in ("video", "thumbnail", "spritesheet"):
        answer = Client().get(f"/v1/videos/video_{draft.code}/content", {"variant": variant}, headers=headers)
        assert answer.status_code in (404, 410) and served_bytes(answer) <= 500
    # Neither the draft nor its remix can be a source again, by any entry point.
    remixed = Client().post(
        f"/v1/videos/video_{remix.code}/remix",
        json.dumps({"prompt": "one more"}),
        content_type="application/json",
        headers=headers,
    )
    assert remixed.status_code in (400, 404, 410)
    form = client_of(bob).get(reverse("generation:create"), {"source": draft.code})
    assert form.status_code == 410
    if kept:
        with pytest.raises(ConsentRefused):
            start_generation(bob, prompt="again", seconds=1, orientation="portrait", source=draft)
        # A moderator still sees it.
        assert client_of(staff_user).get(reverse("generation:detail", args=[draft.code])).status_code == 200
    assert Generation.objects.filter(owner=bob, prompt__in=["one more", "again"]).count() == 0

    # One notification, naming the cameo and how consent ended.
    notes = list(Notification.objects.filter(recipient=bob, kind=Notification.Kind.CONSENT_WITHDRAWN))
    assert len(notes) == 1
    assert "@ada" in notes[0].text and why in notes[0].text
    # The ledger holds the entry (an erased account's ledger goes with it).
    withdrawal = Withdrawal.objects.get(generation_code=draft.code)
    if end is not delete_account:
        assert LedgerEntry.objects.filter(
            cameo=cameo, kind__in=["stopped", "removed"], data__generation=draft.code
        ).exists()
        assert withdrawal.ledger_entry is not None

    # The copy bob saved before can't be recalled: /verify says consent was withdrawn, and when.
    upload = SimpleUploadedFile("saved.mp4", saved, "video/mp4")
    verify_page = Client().post(reverse("provenance:verify"), {"video": upload})
    assert verify_page.status_code == 200
    report = verify_page.context["report"]
    assert report["site"]["withdrawn"]["on"] == withdrawal.created.date().isoformat()
    assert f"withdrawn on {withdrawal.created.date().isoformat()}" in verify_page.content.decode()
