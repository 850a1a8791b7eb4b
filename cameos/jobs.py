"""RQ entry points for cameos (run on `settings.CPU_QUEUE`). Jobs take ids, re-fetch rows and
claim them with a conditional UPDATE, so each recording is judged once."""

import logging
import traceback
from contextlib import ExitStack, contextmanager

from django.conf import settings
from django.core.files.base import ContentFile
from django.db.models import Q
from django.utils import timezone

from cameos.actions.media import erase_media, save_media
from cameos.actions.recording import FRESHNESS_SLACK_SECONDS, reject_cameo
from cameos.actions.voice import accept_voice, reject_voice
from cameos.ledger import append_entry
from cameos.models import Cameo, CameoMedia, LedgerEntry, LikenessDispute
from cameos.signals import answers, likeness_wanted
from generation.events import publish
from generation.serving import local_path
from generation.voice.stage import get_voice_stage
from sora_site import metrics

log = logging.getLogger(__name__)

ERROR_REASON = "We could not check your upload because of a problem on our side. Please try again."
HUMAN_FACE_REASON = (
    "A person's face is in these pictures. People make a cameo of themselves with a live recording, "
    "so we can check it's really them."
)


@contextmanager
def local_paths(fields):
    """Storage files as local paths (storage may be remote in production)."""
    with ExitStack() as stack:
        yield [stack.enter_context(local_path(field)) for field in fields]


def claim(cameo_id: int) -> bool:
    return bool(
        Cameo.objects.filter(pk=cameo_id, status=Cameo.Status.PENDING).update(status=Cameo.Status.CHECKING)
    )


@metrics.timed_job("CPU_QUEUE")
def analyse_cameo(cameo_id: int) -> str:
    """Judge one uploaded cameo: liveness for a person, vetting for a character.

    Verified: reference images, voice sample and embeddings are stored, the ledger starts.
    Rejected: the reasons are stored for the owner and every file is erased. Either way the
    verdict is pushed to the owner's pages. CPU-bound, a few seconds per clip.
    """
    from cameos.liveness import RecordingError

    if not claim(cameo_id):
        return "not claimed"
    cameo = Cameo.objects.select_related("owner", "challenge").get(pk=cameo_id)
    publish(cameo.owner_id, cameo.event())
    try:
        if cameo.kind == Cameo.Kind.PERSON:
            return _analyse_person(cameo)
        return _analyse_character(cameo)
    except RecordingError as exc:
        reject_cameo(cameo, [str(exc)])
        return "rejected"
    except Exception:
        log.exception("checking cameo %s failed", cameo.code)
        reject_cameo(cameo, [ERROR_REASON], checks={"error": traceback.format_exc()[-4000:]})
        return "failed"


def _analyse_person(cameo: Cameo) -> str:
    from cameos.liveness import analyse_recording

    recording = CameoMedia.objects.get(cameo=cameo, role=CameoMedia.Role.RECORDING)
    challenge = cameo.challenge
    with local_paths([recording.file]) as (path,):
        result = analyse_recording(
            path,
            challenge.as_liveness(),
            min_seconds=settings.CAMEO_MIN_SECONDS,
            max_seconds=settings.CAMEO_MAX_SECONDS,
            max_bytes=settings.CAMEO_MAX_UPLOAD_BYTES,
        )
    reasons = list(result.reasons)
    # Fresh: a clip can't be longer than the time between issuing its challenge and its upload.
    window = (cameo.created - challenge.created).total_seconds()
    result.checks["freshness"] = {"window_s": round(window, 2), "duration_s": result.checks["duration"]}
    if result.checks["duration"] > window + FRESHNESS_SLACK_SECONDS:
        reasons.append(
            "The recording is longer than the time since the challenge was shown, so it wasn't made "
            "for this challenge. Please record again."
        )
    if reasons:
        reject_cameo(cameo, reasons, checks=result.checks)
        return "rejected"
    for position, jpeg in enumerate(result.reference_faces):
        save_media(cameo, CameoMedia.Role.REFERENCE, position, "face.jpg", ContentFile(jpeg))
    if result.voice_sample_wav:
        save_media(cameo, CameoMedia.Role.VOICE, 0, "voice.wav", ContentFile(result.voice_sample_wav))
    match = likeness_match(cameo, result.face_embedding)
    if match is not None:
        return hold_for_review(
            cameo,
            match,
            checks=result.checks,
            voice_embedding=result.voice_embedding,
            face_embedding=result.face_embedding,
        )
    return _activate(
        cameo,
        checks=result.checks,
        voice_embedding=result.voice_embedding,
        face_embedding=result.face_embedding,
    )


def _analyse_character(cameo: Cameo) -> str:
    from cameos.liveness import analyse_character

    sources = list(CameoMedia.objects.filter(cameo=cameo, role=CameoMedia.Role.SOURCE).order_by("position"))
    with local_paths([m.file for m in sources]) as paths:
        result = analyse_character(
            paths, max_bytes=settings.CAMEO_MAX_UPLOAD_BYTES, max_seconds=settings.CAMEO_MAX_SECONDS
        )
    if result.human_face:
        reject_cameo(cameo, [HUMAN_FACE_REASON], checks=result.checks)
        return "rejected"
    for position, jpeg in enumerate(result.reference_images):
        save_media(cameo, CameoMedia.Role.REFERENCE, position, "reference.jpg", ContentFile(jpeg))
    return _activate(cameo, checks=result.checks)


def _activate(cameo: Cameo, *, checks: dict, **fields) -> str:
    now = timezone.now()
    changed = Cameo.objects.filter(pk=cameo.pk, status=Cameo.Status.CHECKING).update(
        status=Cameo.Status.ACTIVE, verified=now, reasons=[], checks={**cameo.checks, **checks}, **fields
    )
    if not changed:
        # Deleted while being checked: what was just stored must not outlive it.
        erase_media(cameo)
        return "deleted"
    cameo.refresh_from_db()
    append_entry(cameo, LedgerEntry.Kind.CREATED, actor=cameo.owner, permission=cameo.permission)
    publish(cameo.owner_id, cameo.event())
    return "verified"


REVIEW_REASON = (
    "Your recording needs a review by our team before your cameo can be used. "
    "We'll let you know when it's done."
)


def likeness_match(cameo: Cameo, face_embedding: list[float] | None):
    """The closest other likeness within `CAMEO_FACE_DISPUTE_DISTANCE` of this face, as
    (distance, matched cameo or None, matched public figure or None), or None.

    Compared with every other account's person cameo that is verified or held for review (one
    face, one owner), then with what the apps above answer to `cameos.signals.likeness_wanted`
    (moderation: every enabled public figure with a reference picture), which wins only when
    strictly closer. A brute-force pass (128 floats per cameo).
    """
    import numpy as np

    if not face_embedding:
        return None
    mine = np.asarray(face_embedding, dtype=np.float64)
    best = None
    others = (
        Cameo.objects.filter(
            kind=Cameo.Kind.PERSON,
            status__in=[Cameo.Status.ACTIVE, Cameo.Status.REVIEW],
            face_embedding__isnull=False,
        )
        .exclude(owner=cameo.owner_id)
        .values_list("pk", "face_embedding")
    )
    for pk, vector in others.iterator():
        distance = float(np.linalg.norm(mine - np.asarray(vector, dtype=np.float64)))
        if distance <= settings.CAMEO_FACE_DISPUTE_DISTANCE and (best is None or distance < best[0]):
            best = (distance, pk, None)
    within = settings.CAMEO_FACE_DISPUTE_DISTANCE
    for distance, figure in answers(
        likeness_wanted.send(sender=Cameo, cameo=cameo, face=face_embedding, within=within)
    ):
        if best is None or distance < best[0]:
            best = (distance, None, figure)
    if best is None:
        return None
    distance, pk, figure = best
    return distance, Cameo.objects.filter(pk=pk).first() if pk else None, figure


def hold_for_review(cameo: Cameo, match, *, checks: dict, **fields) -> str:
    """Hold a cameo whose face is someone else's likeness: stored as checked (embeddings and
    references, for the moderator) but not verified, with a likeness dispute in the moderators'
    queue. The owner is told only that it needs review."""
    distance, other, figure = match
    changed = Cameo.objects.filter(pk=cameo.pk, status=Cameo.Status.CHECKING).update(
        status=Cameo.Status.REVIEW, reasons=[REVIEW_REASON], checks={**cameo.checks, **checks}, **fields
    )
    if not changed:
        erase_media(cameo)
        return "deleted"
    LikenessDispute.objects.create(
        cameo=cameo, matched_cameo=other, matched_figure=figure, distance=round(distance, 4)
    )
    cameo.refresh_from_db()
    publish(cameo.owner_id, cameo.event())
    return "review"


def claim_voice(cameo_id: int) -> bool:
    """Claim a reading for checking: the first job to mark it started runs, any copy stops."""
    rows = Cameo.objects.filter(pk=cameo_id, voice_status=Cameo.VoiceStatus.CHECKING).filter(
        ~Q(voice_checks__has_key="started")
    )
    cameo = rows.first()
    if cameo is None:
        return False
    return bool(rows.filter(pk=cameo.pk).update(voice_checks={**cameo.voice_checks, "started": True}))


@metrics.timed_job("CPU_QUEUE")
def analyse_voice(cameo_id: int) -> str:
    """Judge an owner's reading of their voice passage.

    Accepted when it is 30-60 s long (settings), mostly speech, and sounds like the voice of the
    verified liveness recording (Resemblyzer cosine to the cameo's `voice_embedding`): only the
    cameo's own voice may become its voice. Then the speech is stored as a 16 kHz WAV and, when the
    kNN-VC route is configured, its matching set is computed once and stored beside it. CPU-bound:
    about a second per minute of reading without kNN-VC.
    """
    from cameos.liveness import RecordingError

    if not claim_voice(cameo_id):
        return "not claimed"
    cameo = Cameo.objects.select_related("owner").get(pk=cameo_id)
    publish(cameo.owner_id, cameo.event())
    try:
        accepted, reasons, checks, speech = _judge_reading(cameo)
    except RecordingError as exc:
        reject_voice(cameo, [str(exc)])
        return "rejected"
    except Exception:
        log.exception("checking the voice of cameo %s failed", cameo.code)
        reject_voice(cameo, [ERROR_REASON], checks={"error": traceback.format_exc()[-4000:]})
        return "failed"
    if not accepted:
        reject_voice(cameo, reasons, checks=checks)
        return "rejected"
    from cameos.liveness.voice import wav_bytes

    features = voice_features_bytes(speech)
    checks["features"] = features is not None
    return (
        "accepted"
        if accept_voice(cameo, speech_wav=wav_bytes(speech), features=features, checks=checks)
        else "stale"
    )


def _judge_reading(cameo: Cameo):
    import numpy as np

    from cameos.liveness import speech as vad
    from cameos.liveness.media import SPEECH_RATE, decode_audio
    from cameos.liveness.voice import voice_embedding

    upload = CameoMedia.objects.get(cameo=cameo, role=CameoMedia.Role.PASSAGE, position=0)
    with local_paths([upload.file]) as (path,):
        audio, info = decode_audio(
            path,
            min_seconds=settings.CAMEO_VOICE_MIN_SECONDS,
            max_seconds=settings.CAMEO_VOICE_MAX_SECONDS,
            max_bytes=settings.CAMEO_VOICE_MAX_UPLOAD_BYTES,
        )
    segments = vad.speech_segments(audio)
    speech = vad.speech_audio(audio, segments)
    speech_seconds = speech.size / SPEECH_RATE
    checks = {"decoded": info, "speech_seconds": round(speech_seconds, 2)}
    reasons = []
    if speech_seconds < settings.CAMEO_VOICE_MIN_SPEECH_SECONDS:
        reasons.append(
            f"We heard only {speech_seconds:.0f} s of speech; please read the whole passage aloud "
            f"in a quiet place (at least {settings.CAMEO_VOICE_MIN_SPEECH_SECONDS} s of speech)."
        )
        return False, reasons, checks, speech
    reference = np.asarray(cameo.voice_embedding or [], dtype=np.float32)
    similarity = (
        float(np.dot(reference, np.asarray(voice_embedding(speech), np.float32))) if reference.size else 0.0
    )
    checks["similarity"] = round(similarity, 3)
    if similarity < settings.CAMEO_VOICE_MIN_SIMILARITY:
        reasons.append(
            "This doesn't sound like the voice in your verified recording. Only your own voice can "
            "be used: please read the passage yourself."
        )
    return not reasons, reasons, checks, speech


def voice_features_bytes(speech) -> bytes | None:
    """The kNN-VC matching set of `speech` as .npy bytes, or None when that route is off."""
    import io

    import numpy as np

    stage = get_voice_stage()
    if stage is None:
        return None
    out = io.BytesIO()
    np.save(out, stage.enrol(speech), allow_pickle=False)
    return out.getvalue()
