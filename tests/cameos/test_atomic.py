"""Consent actions are all-or-nothing, and what leaves the database (events, RQ cancels, file
deletions) leaves only on commit: an action that fails half-way sends no event, cancels no job,
deletes no file and writes no ledger row. Real commits (transactional tests), the real Redis
channel layer and RQ queue.
"""

import pytest
from django.core.files.storage import default_storage
from rq.job import Job

from accounts.models import Block
from cameos.actions import controls, withdrawal
from cameos.models import Cameo, CameoMedia, LedgerEntry, Withdrawal
from feed import actions as feed_actions
from feed.models import Notification, Post
from generation.actions import start_generation
from generation.models import Generation
from tests.cameos.test_recording import Events
from tests.conftest import generation_with, make_cameo, post_of

pytestmark = pytest.mark.django_db(transaction=True)


class Boom(Exception):
    pass


def boom(*args, **kwargs):
    raise Boom("failed half-way")


def narrow(ada, bob, cameo, monkeypatch):
    monkeypatch.setattr(withdrawal, "_notify_withdrawal", boom)  # after jobs stopped and posts came down
    controls.update_cameo_settings(cameo, permission="only_me", preferences="", restrictions="", actor=ada)


def delete(ada, bob, cameo, monkeypatch):
    # After the ledger entry, the erased media, the stopped jobs and the withdrawn post.
    monkeypatch.setattr(withdrawal, "delete_generation", boom)
    controls.delete_cameo(cameo, actor=ada, keep_videos=False)


def block(ada, bob, cameo, monkeypatch):
    monkeypatch.setattr(withdrawal, "_notify_withdrawal", boom)
    feed_actions.block_user(ada, bob)


def unapprove(ada, bob, cameo, monkeypatch):
    from cameos.models import Approval

    Approval.objects.create(cameo=cameo, user=bob)
    Cameo.objects.filter(pk=cameo.pk).update(permission="approved")
    cameo.refresh_from_db()
    monkeypatch.setattr(withdrawal, "_notify_withdrawal", boom)
    controls.remove_approval(cameo, bob, actor=ada)


@pytest.mark.parametrize("act", [narrow, delete, block, unapprove])
def test_an_action_that_fails_half_way_leaves_everything_as_it_was(make_user, rq_queue, monkeypatch, act):
    ada, bob = make_user("ada"), make_user("bob")
    cameo = make_cameo(ada, permission=Cameo.Permission.EVERYONE)
    queued = start_generation(
        bob, prompt="juggling", seconds=1, orientation="portrait", cameo_codes=[cameo.code]
    )
    queued.refresh_from_db()
    assert Job.fetch(queued.rq_job_id, connection=rq_queue.connection).get_status() == "queued"
    made = generation_with(bob, [cameo], status=Generation.Status.SUCCEEDED)
    post = post_of(made)
    files = [m.file.name for m in CameoMedia.objects.filter(cameo=cameo)] + [
        made.video.name,
        made.poster.name,
    ]
    assert all(default_storage.exists(name) for name in files)
    ledger = LedgerEntry.objects.filter(cameo=cameo).count()
    bobs_events, adas_events = Events(bob.pk), Events(ada.pk)

    with pytest.raises(Boom):
        act(ada, bob, cameo, monkeypatch)

    # No ledger row, no stopped job, no cancelled RQ job, no deleted file, nothing withdrawn.
    assert LedgerEntry.objects.filter(cameo=cameo).count() == ledger
    assert Cameo.objects.get(pk=cameo.pk).status == Cameo.Status.ACTIVE
    assert Generation.objects.get(pk=queued.pk).status == Generation.Status.QUEUED
    assert Job.fetch(queued.rq_job_id, connection=rq_queue.connection).get_status() == "queued"
    assert Post.objects.filter(pk=post.pk).exists() and Generation.objects.filter(pk=made.pk).exists()
    assert all(default_storage.exists(name) for name in files)
    assert (
        not Withdrawal.objects.exists() and not Notification.objects.filter(kind="consent_withdrawn").exists()
    )
    assert not Block.objects.exists()
    # And no event reached anyone's pages.
    for events in (bobs_events, adas_events):
        with pytest.raises(TimeoutError):
            events.next(timeout=0.5)
