"""Consent taken back: queued and running jobs stop, posts come down, the worker and posting
re-check; and how requests pick cameos (@mentions, picks, remix, the per-video limit)."""

import pytest
from django.db import transaction
from rq.job import Job

from accounts.models import Block
from cameos.actions import consent, controls, withdrawal
from cameos.actions.uses import cameo_check_context, cameo_conditioning
from cameos.models import Cameo, CameoUse, LedgerEntry
from feed.models import Post
from generation.actions import start_generation
from generation.errors import ConsentRefused, GenerationRefused
from generation.jobs import build_request, run_generation
from generation.models import Generation
from tests.conftest import approve, block, generation_with, make_cameo, mutuals, post_of

P = Cameo.Permission


@pytest.fixture
def ada(make_user):
    return make_user("ada")


@pytest.fixture
def bob(make_user):
    return make_user("bob")


def lower(cameo, permission):
    controls.update_cameo_settings(
        cameo,
        permission=permission,
        preferences=cameo.preferences,
        restrictions=cameo.restrictions,
        actor=cameo.owner,
    )


# --- revocation -----------------------------------------------------------------------------


def test_revocation_mid_queue_stops_the_job(ada, bob, rq_queue, django_capture_on_commit_callbacks):
    cameo = make_cameo(ada, permission=P.EVERYONE)
    with django_capture_on_commit_callbacks(execute=True):
        generation = start_generation(
            bob, prompt="@ada juggling oranges", seconds=1, orientation="portrait", cameo_codes=[]
        )
    generation.refresh_from_db()
    assert generation.rq_job_id and Job.fetch(generation.rq_job_id, connection=rq_queue.connection)

    with django_capture_on_commit_callbacks(execute=True):  # the job is cancelled on commit
        lower(cameo, P.ONLY_ME)

    generation.refresh_from_db()
    assert generation.status == Generation.Status.FAILED
    assert generation.error == "Stopped: @ada's cameo isn't available to you."
    assert Job.fetch(generation.rq_job_id, connection=rq_queue.connection).get_status() == "canceled"
    assert run_generation(generation.pk) == "not claimed"
    use = CameoUse.objects.get(generation=generation)
    assert use.status == CameoUse.Status.STOPPED
    assert LedgerEntry.objects.filter(cameo=cameo, kind="stopped", data__generation=generation.code).exists()


def test_revocation_asks_a_running_job_to_stop(ada, bob):
    cameo = make_cameo(ada, permission=P.APPROVED)
    approve(cameo, bob)
    generation = generation_with(bob, [cameo], status=Generation.Status.RUNNING)

    controls.remove_approval(cameo, bob, actor=ada)

    generation.refresh_from_db()
    assert generation.status == Generation.Status.RUNNING and generation.cancel_requested


def test_lowering_permission_takes_down_posts_no_longer_allowed(ada, bob, make_user):
    friend = make_user("friend")
    mutuals(ada, friend)
    cameo = make_cameo(ada, permission=P.EVERYONE)
    bobs = post_of(generation_with(bob, [cameo], status=Generation.Status.SUCCEEDED))
    friends = post_of(generation_with(friend, [cameo], status=Generation.Status.SUCCEEDED))
    own = post_of(generation_with(ada, [cameo], status=Generation.Status.SUCCEEDED))

    lower(cameo, P.MUTUALS)

    assert not Post.objects.filter(pk=bobs.pk).exists()
    assert Generation.objects.filter(pk=bobs.generation_id).exists()  # the draft stays with bob
    assert Post.objects.filter(pk__in=[friends.pk, own.pk]).count() == 2
    with pytest.raises(ConsentRefused, match="@ada's cameo isn't available to you"):
        consent.check_post_allowed(Generation.objects.select_related("owner").get(pk=bobs.generation_id))
    consent.check_post_allowed(friends.generation)


def test_blocking_outside_the_cameo_page_is_caught_by_the_worker(ada, bob):
    cameo = make_cameo(ada, permission=P.EVERYONE)
    generation = generation_with(bob, [cameo])
    Block.objects.create(blocker=ada, blocked=bob)  # e.g. from the profile page

    assert run_generation(generation.pk) == "refused"

    generation.refresh_from_db()
    assert generation.status == Generation.Status.FAILED
    assert generation.error == "@ada's cameo isn't available to you."
    entry = LedgerEntry.objects.get(cameo=cameo, kind="blocked")
    assert entry.data["stage"] == "worker" and entry.data["generation"] == generation.code


def test_posting_a_draft_checks_consent_again(ada, bob):
    cameo = make_cameo(ada, permission=P.EVERYONE)
    generation = generation_with(bob, [cameo], status=Generation.Status.SUCCEEDED)
    block(bob, ada)

    with pytest.raises(ConsentRefused):
        consent.check_post_allowed(Generation.objects.select_related("owner").get(pk=generation.pk))
    assert LedgerEntry.objects.get(cameo=cameo, kind="blocked").data["stage"] == "post"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_process_refuses_a_job_whose_cameo_was_revoked_while_queued(make_user, rq_queue, worker):
    from tests.conftest import wait_for

    ada, bob = make_user("ada"), make_user("bob")
    cameo = make_cameo(ada, permission=P.EVERYONE)
    with transaction.atomic():
        # Allowed when submitted (the job is queued once this commits), then narrowed behind the
        # cameo page's back (a block from the profile): only the worker's re-check can catch it.
        generation = start_generation(bob, prompt="@ada on a bicycle", seconds=1, orientation="portrait")
        Block.objects.create(blocker=ada, blocked=bob)

    wait_for(lambda: Generation.objects.get(pk=generation.pk).is_final, timeout=120, message="the job")

    generation.refresh_from_db()
    assert generation.status == Generation.Status.FAILED, worker.output()[-3000:]
    assert generation.error == "@ada's cameo isn't available to you."
    assert not generation.video
    assert CameoUse.objects.get(cameo=cameo, generation=generation).status == CameoUse.Status.STOPPED


# --- picking cameos ------------------------------------------------------------------------


def test_mentions_find_cameos_by_handle_in_any_case_and_ignore_other_at_signs(ada, bob, make_user):
    cameo = make_cameo(ada, permission=P.EVERYONE)
    make_user("carol")  # no cameo: a mention of her is plain text

    found = consent.cameos_for_request(bob, ["Hi @ADA. Say hi to @carol, mail bob@ada.example"], [])

    assert found == [cameo]


def test_picked_and_mentioned_cameos_count_once_each(ada, bob):
    cameo = make_cameo(ada, permission=P.EVERYONE)

    assert consent.cameos_for_request(bob, ["@ada and @ada again"], [cameo.code, cameo.code]) == [cameo]


def test_at_most_the_configured_number_of_cameos_per_video(ada, bob, make_user, settings):
    others = [make_cameo(make_user(f"star{i}"), permission=P.EVERYONE) for i in range(3)]

    with pytest.raises(GenerationRefused, match="at most 2 cameos"):
        consent.cameos_for_request(bob, ["@star0 @star1 @star2"], [])
    settings.CAMEO_MAX_PER_VIDEO = 3
    assert consent.cameos_for_request(bob, ["@star0 @star1 @star2"], []) == others


def test_an_unknown_code_is_refused(bob):
    with pytest.raises(ConsentRefused, match="That cameo isn't available"):
        consent.cameos_for_request(bob, ["a prompt"], ["no-such-code"])


def test_a_remix_through_another_caller_is_still_checked(ada, bob):
    """The API's remix passes no cameo codes: record_cameo_uses carries the source's cameos over
    and refuses inside start_generation's transaction."""
    cameo = make_cameo(ada, permission=P.ONLY_ME)
    source = generation_with(ada, [cameo], status=Generation.Status.SUCCEEDED)
    before = Generation.objects.count()

    with pytest.raises(ConsentRefused, match="@ada's cameo isn't available to you"):
        start_generation(bob, prompt="then it snows", seconds=1, orientation="portrait", source=source)

    assert Generation.objects.count() == before


def test_the_create_page_offers_the_cameos_i_may_use(client, ada, bob, make_user):
    mine = make_cameo(bob)
    approved = make_cameo(ada, permission=P.APPROVED)
    approve(approved, bob)
    stranger = make_cameo(make_user("stranger"), permission=P.EVERYONE)
    client.force_login(bob)

    page = client.get("/create/").content.decode()

    assert mine.code in page and approved.code in page
    assert stranger.code not in page  # open to everyone, but bob doesn't follow them: @mention it


def test_owner_is_told_live_when_someone_uses_their_cameo(ada, bob, django_capture_on_commit_callbacks):
    from tests.cameos.test_recording import Events

    make_cameo(ada, permission=P.EVERYONE)
    events = Events(ada.pk)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        generation_with(bob, consent.cameos_for_request(bob, ["@ada"], []))

    event = events.next()
    assert event["kind"] == "cameo_use" and event["text"] == "@bob used your cameo."


# --- generating with a cameo ----------------------------------------------------------------


def test_generation_conditions_on_the_reference_image_and_adds_preferences(ada, bob):
    cameo = make_cameo(ada, permission=P.EVERYONE, preferences="always wearing a red hat")
    generation = generation_with(bob, [cameo], prompt="@ada surfing at dawn")

    request = build_request(Generation.objects.select_related("owner", "source").get(pk=generation.pk))

    assert request.shots[0].prompt == "@ada surfing at dawn (@ada: always wearing a red hat)"
    assert request.condition_image is not None and request.condition_image.size == (96, 128)


def test_a_remix_continues_from_its_source_not_the_inherited_reference(ada, bob):
    cameo = make_cameo(ada, permission=P.EVERYONE)
    source = generation_with(ada, [cameo], status=Generation.Status.SUCCEEDED)
    remix = generation_with(bob, [], source=source)

    uses = CameoUse.objects.filter(generation=remix)
    assert [(u.cameo_id, u.inherited) for u in uses] == [(cameo.pk, True)]
    assert cameo_conditioning(remix).image is None


# --- what other apps call -------------------------------------------------------------------


def test_unfollowing_breaks_mutual_consent_once_enforced(ada, bob):
    cameo = make_cameo(ada, permission=P.MUTUALS)
    mutuals(ada, bob)
    post = post_of(generation_with(bob, [cameo], status=Generation.Status.SUCCEEDED))
    from feed.models import Follow

    Follow.objects.filter(follower=ada, followee=bob).delete()  # the feed's unfollow

    assert withdrawal.enforce_consent_between(ada, bob) == 1
    assert not Post.objects.filter(pk=post.pk).exists()


def test_output_check_context_names_the_faces_the_creator_may_not_use(ada, bob, make_user):
    open_cameo = make_cameo(ada, permission=P.EVERYONE, restrictions="no politics")
    closed = make_cameo(make_user("carol"), permission=P.ONLY_ME)
    make_cameo(bob)
    generation = generation_with(bob, [open_cameo])

    context = cameo_check_context(Generation.objects.select_related("owner").get(pk=generation.pk))

    assert context["real_person"] is True
    assert [label for label, _ in context["forbidden_faces"]] == [closed.label]
    assert context["cameo_restrictions"] == ["no politics"]


def test_the_owners_restrictions_are_enforced_by_the_prompt_policy(ada, bob):
    from generation.errors import PolicyRefused

    make_cameo(ada, permission=P.EVERYONE, restrictions="no politics, never swimwear")

    with pytest.raises(PolicyRefused) as refused:
        start_generation(bob, prompt="@ada giving a political speech", seconds=1, orientation="portrait")
    assert refused.value.category == "cameo_restriction"
    # The owner's own videos aren't bound by their restrictions.
    start_generation(ada, prompt="@ada giving a political speech", seconds=1, orientation="portrait")
