"""A cameo's voice: the owner reads a passage, a job checks it, and the owner switches its use."""

from django.core.files.base import ContentFile
from django.db import transaction

from accounts.models import User
from cameos.actions.media import erase_voice_media, save_media
from cameos.actions.queue import QUEUE_DOWN_REASON, enqueue_check, ensure_queue
from cameos.errors import CameoRefused
from cameos.ledger import append_entry
from cameos.models import Cameo, CameoMedia, CameoUse, LedgerEntry
from generation.events import publish
from generation.models import Generation


def submit_voice_passage(cameo: Cameo, upload, *, actor: User) -> None:
    """Accept the owner's reading of their passage and queue its check (`cameos.jobs.analyse_voice`).

    Only a verified person cameo's owner may give it a voice. Any earlier passage (and the features
    computed from it) is replaced, and voice use stays off until the new reading is accepted.
    Raises CameoRefused or RecordingError with a message for the person; nothing is stored then.
    """
    from cameos import uploads
    from cameos.liveness.passages import passage_for

    if cameo.owner_id != actor.pk or cameo.kind != Cameo.Kind.PERSON or not cameo.is_active:
        raise CameoRefused("Only a verified cameo of yourself can be given your voice.")
    if cameo.voice_status == Cameo.VoiceStatus.CHECKING:
        raise CameoRefused("Your last reading is still being checked. Wait for the result.")
    info = uploads.probe_sound(upload)
    ensure_queue()
    attempt = int(cameo.voice_checks.get("attempt", 0)) if cameo.voice_checks else 0
    with transaction.atomic():
        erase_voice_media(cameo)
        changed = (
            Cameo.objects.filter(pk=cameo.pk, status=Cameo.Status.ACTIVE)
            .exclude(voice_status=Cameo.VoiceStatus.CHECKING)
            .update(
                voice_status=Cameo.VoiceStatus.CHECKING,
                voice_use=False,
                voice_reasons=[],
                voice_passage=passage_for(cameo.code, attempt),
                voice_checks={"upload": info, "attempt": attempt},
            )
        )
        if not changed:
            raise CameoRefused("Your last reading is still being checked. Wait for the result.")
        save_media(cameo, CameoMedia.Role.PASSAGE, 0, "passage" + info["extension"], upload)
        transaction.on_commit(lambda: enqueue_voice_analysis(cameo.pk))
    cameo.refresh_from_db()


def enqueue_voice_analysis(cameo_id: int) -> None:
    """Queue `cameos.jobs.analyse_voice`; if Redis refuses, refuse the reading so it can be resent."""
    if not enqueue_check("cameos.jobs.analyse_voice", cameo_id):
        reject_voice(Cameo.objects.get(pk=cameo_id), [QUEUE_DOWN_REASON])


def reject_voice(cameo: Cameo, reasons: list[str], checks: dict | None = None) -> None:
    """Refuse a voice reading with `reasons` for the owner; its files are erased at once."""
    erase_voice_media(cameo)
    Cameo.objects.filter(pk=cameo.pk, voice_status=Cameo.VoiceStatus.CHECKING).update(
        voice_status=Cameo.VoiceStatus.REJECTED,
        voice_use=False,
        voice_reasons=reasons,
        voice_checks={**cameo.voice_checks, **(checks or {})},
    )
    cameo.refresh_from_db()
    publish(cameo.owner_id, cameo.event())


def accept_voice(cameo: Cameo, *, speech_wav: bytes, features: bytes | None, checks: dict) -> bool:
    """Store the accepted reading's speech (and kNN-VC features when that route is configured),
    switch voice use on and record it in the ledger. False when the cameo changed meanwhile
    (deleted, or a newer reading replaced this one): the files are not kept then."""
    save_media(cameo, CameoMedia.Role.PASSAGE, 1, "speech.wav", ContentFile(speech_wav))
    if features is not None:
        save_media(cameo, CameoMedia.Role.FEATURES, 0, "features.npy", ContentFile(features))
    with transaction.atomic():
        changed = Cameo.objects.filter(
            pk=cameo.pk, status=Cameo.Status.ACTIVE, voice_status=Cameo.VoiceStatus.CHECKING
        ).update(
            voice_status=Cameo.VoiceStatus.READY,
            voice_use=True,
            voice_reasons=[],
            voice_checks={**cameo.voice_checks, **checks},
        )
        if changed:
            append_entry(
                cameo,
                LedgerEntry.Kind.CHANGED,
                actor=cameo.owner,
                changes={"voice_use": {"from": False, "to": True}},
            )
    if not changed:
        erase_voice_media(cameo)
        return False
    cameo.refresh_from_db()
    publish(cameo.owner_id, cameo.event())
    return True


def set_voice_use(cameo: Cameo, on: bool, *, actor: User) -> bool:
    """The owner's switch for their voice in videos; returns whether it changed (a ledger entry).

    Switching off stops new videos from getting the voice (jobs read it when they run); videos
    already made keep the sound they have, like any other past use the owner can delete.
    """
    if cameo.owner_id != actor.pk:
        raise CameoRefused("Only the cameo's owner can change how its voice is used.")
    if on and cameo.voice_status != Cameo.VoiceStatus.READY:
        raise CameoRefused("Read the passage first: your voice can be used once the reading is accepted.")
    with transaction.atomic():
        changed = Cameo.objects.filter(pk=cameo.pk, voice_use=not on).update(voice_use=on)
        if changed:
            append_entry(
                cameo,
                LedgerEntry.Kind.CHANGED,
                actor=actor,
                changes={"voice_use": {"from": not on, "to": on}},
            )
    cameo.refresh_from_db()
    return bool(changed)


def voice_cameo_for(generation: Generation) -> Cameo | None:
    """The cameo whose voice a generation's speech gets, or None.

    Only when exactly one person cameo is in the video and it speaks in its own voice (verified,
    reading accepted, owner's switch on): with two people we can't tell whose line is whose (no
    diarization), so nobody's voice is used. Consent to use the cameo at all is checked elsewhere
    (`check_consent_before_generating`) before this is asked.
    """
    people = list(
        Cameo.objects.filter(
            uses__generation=generation, uses__status=CameoUse.Status.USED, kind=Cameo.Kind.PERSON
        )
        .select_related("owner")
        .distinct()
    )
    if len(people) != 1 or not people[0].speaks_in_own_voice:
        return None
    return people[0]
