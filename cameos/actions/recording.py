"""Creating a person cameo: a challenge, a liveness recording, and its check's outcome."""

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from cameos.actions.media import erase_media, save_media
from cameos.actions.queue import QUEUE_DOWN_REASON, enqueue_check, ensure_queue
from cameos.errors import CameoRefused
from cameos.models import Cameo, CameoMedia, Challenge
from generation.events import publish

# A recording (or its job) that has waited this long is considered lost, so the owner can retry.
STALE_CHECK = timedelta(minutes=20)
# Extra seconds a clip may last beyond the time between issuing the challenge and the upload.
FRESHNESS_SLACK_SECONDS = 2.0
LIVE_PERSON_STATUSES = (Cameo.Status.PENDING, Cameo.Status.CHECKING, Cameo.Status.ACTIVE, Cameo.Status.REVIEW)


def _expire_stale_checks(owner: User) -> None:
    """A recording whose check never finished (a worker lost) mustn't lock its owner out."""
    Cameo.objects.filter(
        owner=owner,
        status__in=[Cameo.Status.PENDING, Cameo.Status.CHECKING],
        created__lt=timezone.now() - STALE_CHECK,
    ).update(status=Cameo.Status.REJECTED, reasons=["Checking took too long. Please record again."])


def person_cameo_of(owner: User) -> Cameo | None:
    """The owner's current likeness: verified or being checked."""
    return Cameo.objects.filter(owner=owner, kind=Cameo.Kind.PERSON, status__in=LIVE_PERSON_STATUSES).first()


def _ensure_can_record(owner: User) -> None:
    _expire_stale_checks(owner)
    current = person_cameo_of(owner)
    if current is not None and current.is_active:
        raise CameoRefused("You already have a verified cameo. Delete it first to record a new one.")
    if current is not None and current.status == Cameo.Status.REVIEW:
        raise CameoRefused("Your last recording is waiting for a review by our team. We'll let you know.")
    if current is not None:
        raise CameoRefused("Your last recording is still being checked. Wait for the result.")


def issue_challenge(owner: User) -> Challenge:
    """A fresh single-use challenge for `owner` to perform while recording."""
    from cameos.liveness import new_challenge

    _ensure_can_record(owner)
    challenge = new_challenge()
    now = timezone.now()
    return Challenge.objects.create(
        owner=owner,
        digits=challenge.digits,
        turns=list(challenge.turns),
        created=now,
        expires=now + timedelta(seconds=settings.CAMEO_CHALLENGE_TTL_SECONDS),
    )


def submit_recording(owner: User, nonce: str, upload) -> Cameo:
    """Accept a liveness recording made for challenge `nonce`, store it privately and queue its
    check on the CPU queue once the transaction commits.

    Raises CameoRefused (unknown, expired or used challenge; a cameo already exists) or
    RecordingError (empty, too large, not a video with sound) with a message for the person; in
    both cases nothing is stored and the challenge stays as it was.
    """
    from cameos import uploads

    challenge = Challenge.objects.filter(nonce=nonce or "", owner=owner).first()
    if challenge is None:
        raise CameoRefused("This challenge isn't valid. Start again to get a new one.")
    if challenge.used is not None:
        raise CameoRefused("This challenge was already used. Start again to get a new one.")
    if challenge.is_expired:
        minutes = max(1, settings.CAMEO_CHALLENGE_TTL_SECONDS // 60)
        raise CameoRefused(
            f"This challenge expired: a recording must be sent within {minutes} minutes. "
            "Start again to get a new one."
        )
    info = uploads.probe_recording(upload)
    _ensure_can_record(owner)
    ensure_queue()
    now = timezone.now()
    with transaction.atomic():
        claimed = Challenge.objects.filter(pk=challenge.pk, used__isnull=True, expires__gt=now).update(
            used=now
        )
        if not claimed:
            raise CameoRefused("This challenge was already used. Start again to get a new one.")
        try:
            with transaction.atomic():
                cameo = Cameo.objects.create(
                    owner=owner,
                    kind=Cameo.Kind.PERSON,
                    challenge=challenge,
                    created=now,
                    checks={"upload": info},
                )
        except IntegrityError:
            raise CameoRefused("Your last recording is still being checked. Wait for the result.") from None
        save_media(cameo, CameoMedia.Role.RECORDING, 0, "recording" + info["extension"], upload)
        transaction.on_commit(lambda: enqueue_analysis(cameo.pk))
    return cameo


def enqueue_analysis(cameo_id: int) -> None:
    """Queue `cameos.jobs.analyse_cameo`; if Redis refuses, reject the cameo (erasing its files)
    so the owner can try again instead of waiting forever."""
    if not enqueue_check("cameos.jobs.analyse_cameo", cameo_id):
        reject_cameo(Cameo.objects.get(pk=cameo_id), [QUEUE_DOWN_REASON])


def reject_cameo(cameo: Cameo, reasons: list[str], checks: dict | None = None) -> None:
    """Judge a cameo rejected with `reasons` (for the person): its files are erased at once."""
    fields = {"status": Cameo.Status.REJECTED, "reasons": reasons}
    if checks is not None:
        fields["checks"] = {**cameo.checks, **checks}
    Cameo.objects.filter(pk=cameo.pk, status__in=[Cameo.Status.PENDING, Cameo.Status.CHECKING]).update(
        **fields
    )
    erase_media(cameo)
    cameo.refresh_from_db()
    publish(cameo.owner_id, cameo.event())
