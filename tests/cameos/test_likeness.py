"""One face, one owner: a second account recording a face that another account has already
verified (or that belongs to a listed public figure) is not verified; it waits in the moderators'
queue as a likeness dispute, and the submitter learns only that it needs review.

Real recordings made by tests/media_factory.py (two real people's photos: matplotlib's Grace Hopper
and NASA's Eileen Collins) and the real analysis job (dlib embeddings).
"""

import io

import numpy as np
import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from cameos import errors, jobs
from cameos.actions import disputes, recording
from cameos.models import Cameo, LikenessDispute
from moderation.models import PublicFigure
from tests import media_factory
from tests.cameos.test_recording import submitted

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada_verified(client, make_user, liveness_clip):
    ada = make_user("ada")
    cameo = submitted(client, ada, liveness_clip("good"))
    assert jobs.analyse_cameo(cameo.pk) == "verified"
    return Cameo.objects.get(pk=cameo.pk)


def test_the_same_face_on_a_second_account_is_held_for_review(
    make_user, ada_verified, liveness_clip, staff_user
):
    bob = make_user("bob")
    bobs = Client()
    # Another take of the same face: other background noise, sway and voice timing.
    cameo = submitted(bobs, bob, liveness_clip("same face, another take", seed=11))

    assert jobs.analyse_cameo(cameo.pk) == "review"

    cameo.refresh_from_db()
    assert cameo.status == Cameo.Status.REVIEW and cameo.verified is None
    dispute = LikenessDispute.objects.get(cameo=cameo)
    assert dispute.matched_cameo == ada_verified and dispute.status == LikenessDispute.Status.OPEN
    assert dispute.distance < settings.CAMEO_FACE_DISPUTE_DISTANCE
    print(f"same face, two recordings: distance {dispute.distance:.3f}")  # README's figure
    # Not usable by anyone, bob included, while it waits.
    assert not Cameo.objects.usable_by(bob).filter(pk=cameo.pk).exists()
    # Bob is told it needs review, and nothing about the other account.
    for url in (reverse("cameos:detail", args=[cameo.code]), reverse("cameos:status", args=[cameo.code])):
        text = bobs.get(url).content.decode()
        assert "review" in text and "@ada" not in text and ada_verified.code not in text
    # It can't be recorded over while it waits.
    with pytest.raises(errors.CameoRefused, match="review"):
        recording.issue_challenge(bob)

    # The moderators' queue lists it, with both recordings side by side.
    moderator = Client()
    moderator.force_login(staff_user)
    queue = moderator.get(reverse("admin:cameos_likenessdispute_changelist"))
    assert queue.status_code == 200 and str(cameo) in queue.content.decode()
    page = moderator.get(reverse("admin:cameos_likenessdispute_change", args=[dispute.pk])).content.decode()
    for held in (cameo, ada_verified):
        assert reverse("cameos:media", args=[held.code, "recording", 0]) in page
    assert moderator.get(reverse("cameos:media", args=[cameo.code, "recording", 0])).status_code == 200

    # The moderator decides it is someone else's face: rejected, files erased.
    disputes.resolve_dispute(dispute, verify=False, moderator=staff_user)
    cameo.refresh_from_db()
    assert cameo.status == Cameo.Status.REJECTED and not cameo.media.exists()


def test_two_different_faces_both_verify_and_the_same_face_again_is_held(
    make_user, ada_verified, liveness_clip, staff_user
):
    # Bea records her own face (another real person's photo, same synthetic pipeline).
    bea = make_user("bea")
    beas = submitted(Client(), bea, liveness_clip("another person", portrait=media_factory.ASTRONAUT_FACE))

    assert jobs.analyse_cameo(beas.pk) == "verified"

    beas.refresh_from_db()
    assert beas.status == Cameo.Status.ACTIVE and beas.verified is not None
    distance = np.linalg.norm(np.asarray(beas.face_embedding) - np.asarray(ada_verified.face_embedding))
    assert distance > settings.CAMEO_FACE_DISPUTE_DISTANCE
    print(f"two different people: distance {distance:.3f}")  # README's figure
    assert not LikenessDispute.objects.exists()

    # Cal then records Ada's face: held, matched to Ada and not to Bea.
    cal = make_user("cal")
    cals = submitted(Client(), cal, liveness_clip("same face, another take", seed=11))

    assert jobs.analyse_cameo(cals.pk) == "review"

    cals.refresh_from_db()
    assert cals.status == Cameo.Status.REVIEW and cals.verified is None
    dispute = LikenessDispute.objects.get()
    assert dispute.cameo == cals and dispute.matched_cameo == ada_verified
    moderator = Client()
    moderator.force_login(staff_user)
    queue = moderator.get(reverse("admin:cameos_likenessdispute_changelist")).content.decode()
    assert str(cals) in queue and str(ada_verified) in queue  # held cameo and the one it matched
    assert str(beas) not in queue


def test_a_listed_public_figures_face_is_held_for_review(client, make_user, liveness_clip, staff_user):
    picture = io.BytesIO()
    media_factory.portrait_image().save(picture, format="JPEG")
    figure = PublicFigure(name="Grace Hopper")
    figure.reference_image.save("hopper.jpg", ContentFile(picture.getvalue()), save=True)
    bob = make_user("bob")
    cameo = submitted(client, bob, liveness_clip("good"))

    assert jobs.analyse_cameo(cameo.pk) == "review"

    dispute = LikenessDispute.objects.get(cameo=cameo)
    assert dispute.matched_figure == figure and dispute.matched_cameo is None
    figure.refresh_from_db()
    assert figure.face_embedding["image"] == figure.reference_image.name  # computed once, kept
    moderator = Client()
    moderator.force_login(staff_user)
    page = moderator.get(reverse("admin:cameos_likenessdispute_change", args=[dispute.pk])).content.decode()
    assert "Public figure: Grace Hopper" in page and "data:image/jpeg;base64," in page
    # A moderator who finds it is Grace Hopper's own account verifies it.
    disputes.resolve_dispute(dispute, verify=True, moderator=staff_user)
    cameo.refresh_from_db()
    assert cameo.status == Cameo.Status.ACTIVE and cameo.verified is not None
