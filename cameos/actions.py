"""Verb-named cameo operations, shared by the web views, generation (web form, API and remix all
go through `start_generation`), the generation worker and posting.

Consent: every yes or no about using a cameo comes from `Cameo.objects.usable_by` (the permission
rule), worded for people by `refusal_reason`. It is asked when a request is
submitted (`cameos_for_request`), when the row is written (`record_cameo_uses`, which also carries a
remixed video's cameos over), by the worker right before generating
(`check_consent_before_generating`), when a video is posted (`check_post_allowed`) and whenever the
owner narrows consent (`enforce_consent`). Every grant, change, revocation, use and refusal goes to
the cameo's ledger (`cameos.ledger`).
"""

import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import Block, User
from cameos.ledger import append_entry
from cameos.models import Approval, Cameo, CameoMedia, CameoUse, Challenge, LedgerEntry, Withdrawal
from generation.errors import ConsentRefused, GenerationRefused
from generation.events import publish
from generation.models import Generation

log = logging.getLogger(__name__)

# "@ada" in a prompt; not inside an email address or a longer word. Handles may contain dots, so
# a sentence's full stop after a handle is trimmed off.
MENTION_RE = re.compile(r"(?<![\w@.])@([A-Za-z][A-Za-z0-9_.]{2,29})")
# A recording (or its job) that has waited this long is considered lost, so the owner can retry.
STALE_CHECK = timedelta(minutes=20)
# Extra seconds a clip may last beyond the time between issuing the challenge and the upload.
FRESHNESS_SLACK_SECONDS = 2.0
LIVE_PERSON_STATUSES = (Cameo.Status.PENDING, Cameo.Status.CHECKING, Cameo.Status.ACTIVE, Cameo.Status.REVIEW)


class CameoRefused(Exception):
    """A cameo action the site won't do; `str(exc)` is the message for the person and `field`
    the form field it is about, if any."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


# --- consent ---------------------------------------------------------------------------------


def _possessive(cameo: Cameo) -> str:
    if cameo.kind == Cameo.Kind.CHARACTER:
        return f"{cameo.name} (@{cameo.owner.handle}'s character)"
    return f"@{cameo.owner.handle}'s cameo"


def refusal_reason(cameo: Cameo, user: User, *, usable: bool | None = None) -> str:
    """Why `user` may not use `cameo`, or "" when they may: `Cameo.objects.usable_by` (one query,
    or pass `usable` when it was already asked for a batch), worded for the person.

    The owner's restrictions (topics) are the prompt policy's to enforce: start_generation hands
    the cameos returned by `cameos_for_request` to moderation.policy.check_generation_request.
    """
    if usable is None:
        usable = cameo.may_be_used_by(user)
    return "" if usable else f"{_possessive(cameo)} isn't available to you."


def mentioned_handles(texts: list[str]) -> list[str]:
    """Lower-cased handles @mentioned in `texts`, first mention first, each once."""
    found = []
    for text in texts:
        for match in MENTION_RE.finditer(text or ""):
            handle = match.group(1).rstrip(".").lower()
            if handle not in found:
                found.append(handle)
    return found


def _record_refusal(cameo: Cameo, user: User, reason: str, stage: str, generation=None) -> None:
    entry = append_entry(
        cameo, LedgerEntry.Kind.BLOCKED, actor=user, generation=generation, stage=stage, reason=reason
    )
    CameoUse.objects.create(
        cameo=cameo,
        user=user,
        status=CameoUse.Status.REFUSED,
        reason=reason[:300],
        ledger_entry=entry,
        seen=user.pk == cameo.owner_id,
    )


def cameos_for_request(owner: User, texts: list[str], cameo_codes: list[str]) -> list[Cameo]:
    """The cameos a request uses (picked by code or @mentioned in `texts`), after checking that
    `owner` may use each of them; raises generation.errors.ConsentRefused otherwise.

    A mention of someone without a verified cameo is plain text. A refusal is written to the
    cameo's ledger and "My cameo" page before raising. Raises GenerationRefused when more than
    `CAMEO_MAX_PER_VIDEO` cameos are asked for. Cost: two or three queries, plus the ledger
    writes of refusals.
    """
    codes = list(dict.fromkeys(code.strip() for code in cameo_codes if code and code.strip()))
    cameos: list[Cameo] = []
    if codes:
        found = {c.code: c for c in Cameo.objects.filter(code__in=codes).select_related("owner")}
        if len(found) != len(codes):
            raise ConsentRefused("That cameo isn't available.")
        cameos = [found[code] for code in codes]
    handles = mentioned_handles(texts)
    if handles:
        mentioned = (
            Cameo.objects.filter(kind=Cameo.Kind.PERSON, status=Cameo.Status.ACTIVE)
            .annotate(handle=Lower("owner__handle"))
            .filter(handle__in=handles)
            .select_related("owner")
        )
        by_handle = {c.handle: c for c in mentioned}
        for handle in handles:
            cameo = by_handle.get(handle)
            if cameo is not None and cameo.pk not in {c.pk for c in cameos}:
                cameos.append(cameo)
    if not cameos:
        return []
    if len(cameos) > settings.CAMEO_MAX_PER_VIDEO:
        raise GenerationRefused(
            f"A video can use at most {settings.CAMEO_MAX_PER_VIDEO} cameos; this one asks for {len(cameos)}."
        )
    usable = set(
        Cameo.objects.usable_by(owner).filter(pk__in=[c.pk for c in cameos]).values_list("pk", flat=True)
    )
    reasons = []
    for cameo in cameos:
        reason = refusal_reason(cameo, owner, usable=cameo.pk in usable)
        if reason:
            _record_refusal(cameo, owner, reason, "submit")
            reasons.append(reason)
    if reasons:
        raise ConsentRefused(" ".join(reasons))
    return cameos


def record_cameo_uses(generation: Generation, cameos: list[Cameo]) -> None:
    """Write the usage record and ledger entry of each cameo the generation uses.

    Called by start_generation inside its transaction, right after the row is written. A remix
    or continuation also uses every cameo its source used: those are checked here too (the web
    form already passes them in `cameos`; other callers may not), and a refusal raises
    ConsentRefused, which rolls the whole request back. Notifies each cameo's owner on commit.
    """
    owner = generation.owner
    inherited_ids: set[int] = set()
    if generation.source_id:
        lineage = lineage_of(generation.source_id)
        withdrawn = Withdrawal.objects.filter(generation_code__in=lineage.values()).first()
        ended = (
            CameoUse.objects.filter(generation_id__in=lineage, status__in=ENDED_USES)
            .select_related("cameo__owner")
            .first()
        )
        if withdrawn is not None or ended is not None:
            # A stopped use refuses (never skipped): the source shows someone who said no.
            # (Nothing is written: the refusal rolls the request back.)
            if withdrawn is not None:
                reason = withdrawn.text
            else:
                reason = ended.reason or refusal_reason(ended.cameo, owner)
            raise ConsentRefused(f"This video can't be used as a source. {reason}".strip())
        inherited_ids = set(
            CameoUse.objects.filter(generation_id__in=lineage, status=CameoUse.Status.USED).values_list(
                "cameo_id", flat=True
            )
        )
    extra = list(Cameo.objects.filter(pk__in=inherited_ids - {c.pk for c in cameos}).select_related("owner"))
    everything = [*cameos, *extra]
    if extra:
        if len(everything) > settings.CAMEO_MAX_PER_VIDEO:
            raise GenerationRefused(f"A video can use at most {settings.CAMEO_MAX_PER_VIDEO} cameos.")
        for cameo in extra:
            reason = refusal_reason(cameo, owner)
            if reason:
                raise ConsentRefused(reason)
    for cameo in everything:
        entry = append_entry(
            cameo,
            LedgerEntry.Kind.USED,
            actor=owner,
            generation=generation,
            inherited=cameo.pk in inherited_ids,
        )
        use = CameoUse.objects.create(
            cameo=cameo,
            user=owner,
            generation=generation,
            status=CameoUse.Status.USED,
            inherited=cameo.pk in inherited_ids,
            ledger_entry=entry,
            seen=owner.pk == cameo.owner_id,
        )
        if owner.pk != cameo.owner_id:
            transaction.on_commit(lambda use=use: notify_cameo_use(use))


# Uses whose consent ended: the video they are in may not be a source for another.
ENDED_USES = (CameoUse.Status.STOPPED, CameoUse.Status.REMOVED)
MAX_LINEAGE = 50


def lineage_of(generation_id: int) -> dict[int, str]:
    """{id: code} of a generation and every source it continues from, up its remix chain (a
    source inherits every cameo of its whole lineage). One query per generation in the chain."""
    found: dict[int, str] = {}
    next_id = generation_id
    while next_id is not None and next_id not in found and len(found) < MAX_LINEAGE:
        row = Generation.objects.filter(pk=next_id).values("code", "source_id").first()
        if row is None:
            break
        found[next_id] = row["code"]
        next_id = row["source_id"]
    return found


def notify_cameo_use(use: CameoUse) -> None:
    """Tell the cameo's owner someone used it: a live event on their pages, the unseen count on
    their cameo list, and the feed's bell once the feed has a cameo notification kind."""
    from feed.models import Notification

    text = f"@{use.user.handle} used your cameo."
    publish(use.cameo.owner_id, {"kind": "cameo_use", "cameo": use.cameo.code, "use": use.code, "text": text})
    if "cameo_use" in Notification.Kind.values:
        from feed.actions import notify

        notify(use.cameo.owner_id, "cameo_use", actor=use.user, generation=use.generation)


def _recheck(generation: Generation, stage: str) -> None:
    uses = list(
        CameoUse.objects.filter(
            generation=generation, status__in=[CameoUse.Status.USED, CameoUse.Status.STOPPED]
        ).select_related("cameo__owner")
    )
    if not uses:
        return
    owner = generation.owner
    for use in uses:
        if use.status == CameoUse.Status.STOPPED:
            # Already stopped by `enforce_consent`, which wrote the ledger entry.
            raise ConsentRefused(use.reason or f"{_possessive(use.cameo)} isn't available to you.")
        reason = refusal_reason(use.cameo, owner)
        if reason:
            append_entry(
                use.cameo,
                LedgerEntry.Kind.BLOCKED,
                actor=owner,
                generation=generation,
                stage=stage,
                reason=reason,
            )
            CameoUse.objects.filter(pk=use.pk).update(status=CameoUse.Status.STOPPED, reason=reason[:300])
            raise ConsentRefused(reason)


def check_consent_before_generating(generation: Generation) -> None:
    """The worker's re-check right before generating; raises ConsentRefused if revoked.

    A refusal marks the use stopped and is written to the ledger. Cost: one query per cameo used.
    """
    _recheck(generation, "worker")


def check_post_allowed(generation: Generation) -> None:
    """Posting's check: raises ConsentRefused (message for the person) when a cameo the video
    uses may no longer be used by its creator. The feed's publish step calls this first."""
    _recheck(generation, "post")


def cameo_codes_for(generation: Generation) -> list[str]:
    """The codes of the cameos a generation uses, e.g. to retry it or remix it with the same ones."""
    return list(
        CameoUse.objects.filter(generation=generation, status=CameoUse.Status.USED).values_list(
            "cameo__code", flat=True
        )
    )


def ledger_entries_for(generation: Generation) -> list[dict]:
    """The ledger entries that recorded a generation's cameo uses, for its provenance manifest:
    [{"cameo": code, "label": "@ada", "seq": n, "hash": "..."}]."""
    uses = CameoUse.objects.filter(generation=generation, ledger_entry__isnull=False).select_related(
        "cameo__owner", "ledger_entry"
    )
    return [
        {
            "cameo": u.cameo.code,
            "label": u.cameo.label,
            "seq": u.ledger_entry.seq,
            "hash": u.ledger_entry.hash,
        }
        for u in uses
    ]


def cameo_check_context(generation: Generation, *, face_limit: int = 500) -> dict:
    """What moderation's output check needs from cameos, as keyword arguments of
    `moderation.output_check.check_output` (plus `cameo_restrictions`, the raw restrictions
    texts of the cameos in the video, for the policy's own parsing):

    - `real_person`: a person's (not a character's) cameo is in the video;
    - `forbidden_faces`: (label, face embedding) of verified people whose cameo the video's creator
      may not use, newest first, at most `face_limit` (each costs a distance per face found).

    Two queries. For the worker.
    """
    uses = list(
        CameoUse.objects.filter(generation=generation, status=CameoUse.Status.USED).select_related(
            "cameo__owner"
        )
    )
    usable = Cameo.objects.usable_by(generation.owner).values("pk")
    forbidden = (
        Cameo.objects.filter(kind=Cameo.Kind.PERSON, status=Cameo.Status.ACTIVE, face_embedding__isnull=False)
        .exclude(pk__in=usable)
        .select_related("owner")
        .order_by("-verified")[:face_limit]
    )
    return {
        "real_person": any(u.cameo.kind == Cameo.Kind.PERSON for u in uses),
        "forbidden_faces": [(cameo.label, cameo.face_embedding) for cameo in forbidden],
        "cameo_restrictions": [u.cameo.restrictions for u in uses if u.cameo.restrictions.strip()],
    }


@dataclass
class Conditioning:
    """What the engine gets from a generation's cameos."""

    image: object | None  # PIL.Image: the first-frame conditioning, or None
    preferences: str  # appended to every shot's prompt, "" when none


def cameo_conditioning(generation: Generation) -> Conditioning:
    """The reference image of the first cameo the request itself asked for (a remix's inherited
    cameos are already in the frame it continues from) and every used cameo's preferences.

    For the worker (reads a file from storage).
    """
    from PIL import Image

    uses = list(
        CameoUse.objects.filter(generation=generation, status=CameoUse.Status.USED)
        .select_related("cameo__owner")
        .order_by("id")
    )
    preferences = " ".join(
        f"({u.cameo.label}: {u.cameo.preferences.strip()})" for u in uses if u.cameo.preferences.strip()
    )
    image = None
    picked = [u for u in uses if not u.inherited]
    if picked:
        reference = (
            CameoMedia.objects.filter(cameo=picked[0].cameo, role=CameoMedia.Role.REFERENCE)
            .order_by("position")
            .first()
        )
        if reference is not None:
            with reference.file.open("rb") as fh:
                image = Image.open(fh).convert("RGB")
                image.load()
    return Conditioning(image=image, preferences=preferences)


def _stop_generation(generation: Generation, reason: str) -> None:
    """Stop a queued job at once (failed, with `reason`) or ask a running one to stop."""
    from generation import queue
    from generation.actions import generation_finished

    stopped = Generation.objects.filter(pk=generation.pk, status=Generation.Status.QUEUED).update(
        status=Generation.Status.FAILED,
        stage=Generation.Stage.DONE,
        finished=timezone.now(),
        error=reason[:300],
    )
    if stopped:
        queue.cancel_queued_job(generation.rq_job_id)
    else:
        Generation.objects.filter(pk=generation.pk, status=Generation.Status.RUNNING).update(
            cancel_requested=True
        )
    generation.refresh_from_db()
    publish(generation.owner_id, generation.event())
    if stopped:
        generation_finished(generation)


def enforce_consent(cameo: Cameo, *, keep_finished: bool = False, why: str = "consent withdrawn") -> int:
    """Apply `cameo`'s current consent to the videos that use it: stop queued and running jobs
    that may no longer use it and take down their posts (drafts stay with their creators, and
    can no longer be posted). With `keep_finished`, finished videos are left alone (a deleted
    cameo whose owner kept the videos). Returns how many uses were stopped.

    Every stopped video of someone else becomes a `Withdrawal` (served to nobody but the
    likeness owner and moderators, refused as a source) and its author gets one notification
    naming the cameo and `why` (how consent ended).

    Call after anything that narrows consent, inside the caller's transaction. Cost: one query for
    the uses, one per distinct creator, and the writes for each stopped use.
    """
    from feed.actions import unpost
    from feed.models import Post

    uses = list(
        CameoUse.objects.filter(cameo=cameo, status=CameoUse.Status.USED, generation__isnull=False)
        .select_related("generation__owner", "user")
        .order_by("id")
    )
    cameo = Cameo.objects.select_related("owner").get(pk=cameo.pk)
    reasons: dict[int, str] = {}
    withdrawn: dict[int, list[Withdrawal]] = {}
    stopped = 0
    for use in uses:
        generation = use.generation
        if keep_finished and generation.is_final:
            continue
        if use.user_id not in reasons:
            reasons[use.user_id] = refusal_reason(cameo, use.user)
        reason = reasons[use.user_id]
        if not reason:
            continue
        stop_text = f"Stopped: {reason}"
        if generation.is_active:
            _stop_generation(generation, stop_text)
        post = Post.objects.filter(generation=generation).first()
        if post is not None:
            unpost(post)
        entry = append_entry(
            cameo,
            LedgerEntry.Kind.STOPPED,
            actor=cameo.owner,
            subject=use.user,
            generation=generation,
            reason=reason,
            post_taken_down=post is not None,
        )
        CameoUse.objects.filter(pk=use.pk).update(status=CameoUse.Status.STOPPED, reason=reason[:300])
        record = _withdraw(cameo, generation, post_code=post.code if post else "", entry=entry, why=why)
        if record is not None:
            withdrawn.setdefault(generation.owner_id, []).append(record)
        stopped += 1
    for author_id, records in withdrawn.items():
        _notify_withdrawal(author_id, cameo, records, why)
    return stopped


def _withdraw(cameo: Cameo, generation: Generation, *, post_code: str, entry: LedgerEntry, why: str):
    """Record that `generation` (someone else's, showing `cameo`) is withdrawn; None when it is the
    likeness owner's own video or already withdrawn for this cameo."""
    from provenance.models import Export

    if generation.owner_id == cameo.owner_id:
        return None
    existing = Withdrawal.objects.filter(cameo=cameo, generation_code=generation.code).first()
    if existing is not None:
        if post_code and not existing.post_code:
            Withdrawal.objects.filter(pk=existing.pk).update(post_code=post_code)
        return None
    return Withdrawal.objects.create(
        cameo=cameo,
        generation=generation,
        author_id=generation.owner_id,
        generation_code=generation.code,
        post_code=post_code,
        tracking_id=Export.objects.filter(generation=generation)
        .values_list("tracking_id", flat=True)
        .first(),
        owner_handle=cameo.owner.handle,
        reason=why[:120],
        ledger_entry=entry,
        created=entry.created,
    )


def _notify_withdrawal(author_id: int, cameo: Cameo, records: list[Withdrawal], why: str) -> None:
    """One notification per author and withdrawal, naming the cameo and how consent ended. No
    actor: a block between the two must not swallow it."""
    from feed.actions import notify
    from feed.models import Notification

    count = "Your video" if len(records) == 1 else f"{len(records)} of your videos"
    message = (
        f"{count} with {_possessive(cameo)} was taken down: @{cameo.owner.handle} withdrew consent ({why})."
    )
    # Not linked to the draft: it may be deleted next (a deleted cameo), taking the row with it.
    notify(author_id, Notification.Kind.CONSENT_WITHDRAWN, message=message)


# --- creating a cameo ------------------------------------------------------------------------


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


def _ensure_queue() -> None:
    import django_rq
    from redis.exceptions import RedisError

    try:
        django_rq.get_queue(settings.CPU_QUEUE).connection.ping()
    except (RedisError, OSError) as exc:
        raise CameoRefused("Checking recordings is unavailable right now. Please try again shortly.") from exc


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


def save_media(cameo: Cameo, role: str, position: int, name: str, content) -> CameoMedia:
    media = CameoMedia(cameo=cameo, role=role, position=position)
    media.file.save(name, content, save=False)
    media.save()
    return media


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
    _ensure_queue()
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


def create_character(owner: User, *, name: str, uploads: list, attested: bool) -> Cameo:
    """A character cameo (a pet, an object) from pictures or clips: no liveness, a name and the
    owner's attestation. Its files are vetted and its references picked by a CPU job.

    Raises CameoRefused or RecordingError with a message for the person; nothing is stored then.
    """
    from cameos import uploads as checks

    name = (name or "").strip()
    if not name:
        raise CameoRefused("Give your character a name.")
    if not attested:
        raise CameoRefused("Please confirm that this character is yours to use and is not a person.")
    kinds = checks.check_character_files(uploads)
    _ensure_queue()
    with transaction.atomic():
        cameo = Cameo.objects.create(
            owner=owner,
            kind=Cameo.Kind.CHARACTER,
            name=name[:60],
            attested=timezone.now(),
            checks={"upload": {"files": kinds}},
        )
        for position, upload in enumerate(uploads):
            save_media(cameo, CameoMedia.Role.SOURCE, position, upload.name or f"file-{position}", upload)
        transaction.on_commit(lambda: enqueue_analysis(cameo.pk))
    return cameo


QUEUE_DOWN_REASON = "Checking recordings is unavailable right now. Please try again shortly."


def _enqueue_check(job: str, cameo_id: int) -> bool:
    """Queue a cameo check job on the CPU queue; False (logged) when Redis refuses it."""
    import django_rq
    from redis.exceptions import RedisError

    try:
        django_rq.get_queue(settings.CPU_QUEUE).enqueue(
            job, cameo_id, job_timeout=settings.CAMEO_ANALYSIS_TIMEOUT, result_ttl=3600, failure_ttl=86400
        )
    except (RedisError, OSError):
        log.warning("could not queue %s for cameo %s", job, cameo_id, exc_info=True)
        return False
    return True


def enqueue_analysis(cameo_id: int) -> None:
    """Queue `cameos.jobs.analyse_cameo`; if Redis refuses, reject the cameo (erasing its files)
    so the owner can try again instead of waiting forever."""
    if not _enqueue_check("cameos.jobs.analyse_cameo", cameo_id):
        reject_cameo(Cameo.objects.get(pk=cameo_id), [QUEUE_DOWN_REASON])


def _delete_media(rows) -> None:
    """Delete these CameoMedia rows now and their files in storage once the transaction commits:
    a rolled-back deletion leaves rows and files as they were."""
    from generation.models import delete_on_commit

    rows = list(rows)
    delete_on_commit([media.file for media in rows])
    for media in rows:
        media.delete()


def erase_media(cameo: Cameo) -> None:
    """Delete every file of a cameo from storage, and its embeddings."""
    _delete_media(CameoMedia.objects.filter(cameo=cameo))
    Cameo.objects.filter(pk=cameo.pk).update(
        voice_embedding=None, face_embedding=None, voice_use=False, voice_status=Cameo.VoiceStatus.NONE
    )


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


# --- owner controls --------------------------------------------------------------------------


@transaction.atomic
def update_cameo_settings(
    cameo: Cameo, *, permission: str, preferences: str, restrictions: str, actor: User
) -> list[str]:
    """Change who may use a cameo and the owner's preferences and restrictions; returns the
    names of the fields that changed. Each change is a ledger entry; consent is then enforced on
    videos already made or queued. Teens can't open their cameo to everyone.

    One transaction: the change, its ledger entry and every stopped video stand or fall together;
    events, job cancels and file deletions happen only once it commits."""
    from moderation.policy import check_cameo_preferences

    if permission == Cameo.Permission.EVERYONE and cameo.owner.is_teen:
        raise CameoRefused("Teen accounts can't let everyone use their cameo.", field="permission")
    new = {"permission": permission, "preferences": preferences.strip(), "restrictions": restrictions.strip()}
    changed = {name: value for name, value in new.items() if getattr(cameo, name) != value}
    if not changed:
        return []
    if "preferences" in changed:
        # Preferences steer every video the cameo is in: the prompt policy judges them first.
        try:
            check_cameo_preferences(cameo.owner, changed["preferences"])
        except GenerationRefused as exc:
            raise CameoRefused(str(exc), field="preferences") from exc
    before = {name: getattr(cameo, name) for name in changed}
    for name, value in changed.items():
        setattr(cameo, name, value)
    cameo.save(update_fields=list(changed))
    append_entry(
        cameo,
        LedgerEntry.Kind.CHANGED,
        actor=actor,
        changes={name: {"from": before[name], "to": value} for name, value in changed.items()},
    )
    level = Cameo.Permission(cameo.permission).label.lower()
    enforce_consent(
        cameo, why=f"permission changed to {level}" if "permission" in changed else "settings changed"
    )
    return list(changed)


def approve_user(cameo: Cameo, handle: str, *, actor: User) -> Approval:
    """Put the person with `handle` on the cameo's approval list (a ledger grant)."""
    user = User.objects.filter(handle__iexact=(handle or "").strip().lstrip("@"), is_active=True).first()
    if user is None:
        raise CameoRefused("There's no one with that handle.")
    if user.pk == cameo.owner_id:
        raise CameoRefused("You can always use your own cameo.")
    if Block.between(cameo.owner_id, user.pk):
        raise CameoRefused(f"You and @{user.handle} block each other; unblock them first.")
    approval, created = Approval.objects.get_or_create(cameo=cameo, user=user)
    if created:
        append_entry(cameo, LedgerEntry.Kind.GRANTED, actor=actor, subject=user, permission=cameo.permission)
    return approval


@transaction.atomic
def remove_approval(cameo: Cameo, user: User, *, actor: User) -> bool:
    """Take someone off the approval list (a ledger revocation) and enforce consent, in one
    transaction."""
    removed = Approval.objects.filter(cameo=cameo, user=user).delete()[0] > 0
    if removed:
        append_entry(cameo, LedgerEntry.Kind.REVOKED, actor=actor, subject=user, reason="approval removed")
        enforce_consent(cameo, why="approval removed")
    return removed


@transaction.atomic
def delete_cameo(cameo: Cameo, *, actor: User, keep_videos: bool, why: str = "cameo deleted") -> None:
    """Delete a cameo: its media and embeddings are erased, queued and running videos using it
    are stopped, and videos already made (drafts and posts, everyone's) are deleted unless the
    owner keeps them. The row stays, marked deleted, to hold its ledger.

    One transaction; the ledger entry is written first and files go only once it commits, so a
    failure half-way leaves the cameo, its files and its ledger exactly as they were."""
    if (
        not Cameo.objects.filter(pk=cameo.pk)
        .exclude(status=Cameo.Status.DELETED)
        .update(status=Cameo.Status.DELETED, deleted=timezone.now())
    ):
        return
    cameo.status = Cameo.Status.DELETED
    append_entry(cameo, LedgerEntry.Kind.DELETED, actor=actor, keep_videos=keep_videos)
    erase_media(cameo)
    enforce_consent(cameo, keep_finished=keep_videos, why=why)
    if not keep_videos:
        uses = CameoUse.objects.filter(cameo=cameo, generation__isnull=False).select_related(
            "generation", "user"
        )
        for use in uses:
            _delete_video(use, actor=actor, why=why)


def _delete_video(use: CameoUse, *, actor: User, why: str = "video removed by the cameo's owner") -> None:
    from feed.actions import delete_post
    from feed.models import Post
    from generation.actions import delete_generation

    generation = use.generation
    entry = append_entry(
        use.cameo, LedgerEntry.Kind.REMOVED, actor=actor, subject=use.user, generation=generation
    )
    CameoUse.objects.filter(pk=use.pk).update(status=CameoUse.Status.REMOVED)
    post = Post.objects.filter(generation=generation).first()
    cameo = Cameo.objects.select_related("owner").get(pk=use.cameo_id)
    record = _withdraw(cameo, generation, post_code=post.code if post else "", entry=entry, why=why)
    if record is not None:
        _notify_withdrawal(generation.owner_id, cameo, [record], why)
    if post is not None:
        delete_post(post)
    else:
        delete_generation(generation)


@transaction.atomic
def remove_video(use: CameoUse, *, actor: User) -> None:
    """The cameo's owner deletes a video (anyone's draft or post) that used their cameo: it
    disappears for its creator too. A running job is told to stop and finds its row gone."""
    if use.generation_id is None:
        raise CameoRefused("That video is already gone.")
    _delete_video(use, actor=actor)


@transaction.atomic
def block_user_of(use: CameoUse, *, actor: User) -> None:
    """The cameo's owner blocks the person who used (or tried to use) their cameo: the feed's
    block, a ledger revocation on each of the owner's cameos, and consent enforced on them all,
    in one transaction."""
    from feed.actions import FeedRefused, block_user

    try:
        block_user(actor, use.user)
    except FeedRefused as exc:
        raise CameoRefused(str(exc)) from exc
    for cameo in Cameo.objects.filter(owner=actor, status=Cameo.Status.ACTIVE):
        append_entry(cameo, LedgerEntry.Kind.REVOKED, actor=actor, subject=use.user, reason="blocked")
        enforce_consent(cameo, why="blocked")


def enforce_consent_between(*users: User, why: str = "consent withdrawn") -> int:
    """Re-apply consent on every cameo these people own, after something outside the cameo pages
    narrowed it (a block or unfollow from the feed: mutuals may no longer be mutual). Returns how
    many uses were stopped. For the feed's block and unfollow actions to call."""
    cameos = Cameo.objects.filter(owner__in=[u.pk for u in users], status=Cameo.Status.ACTIVE)
    return sum(enforce_consent(cameo, why=why) for cameo in cameos)


DISPUTE_REJECTED_REASON = (
    "Our team reviewed your recording and couldn't verify it as your own likeness. "
    "If you think this is a mistake, contact the site's moderators."
)


@transaction.atomic
def resolve_dispute(dispute, *, verify: bool, moderator: User) -> None:
    """A moderator's decision on a likeness dispute: verify the held cameo (not the same person:
    it becomes active and its ledger starts) or reject it (its files are erased)."""
    from cameos.models import LikenessDispute

    cameo = dispute.cameo
    status = LikenessDispute.Status.VERIFIED if verify else LikenessDispute.Status.REJECTED
    if not LikenessDispute.objects.filter(pk=dispute.pk, status=LikenessDispute.Status.OPEN).update(
        status=status, resolved=timezone.now(), resolved_by=moderator
    ):
        return
    if verify:
        if Cameo.objects.filter(pk=cameo.pk, status=Cameo.Status.REVIEW).update(
            status=Cameo.Status.ACTIVE, verified=timezone.now(), reasons=[]
        ):
            append_entry(cameo, LedgerEntry.Kind.CREATED, actor=cameo.owner, permission=cameo.permission)
    else:
        Cameo.objects.filter(pk=cameo.pk, status=Cameo.Status.REVIEW).update(
            status=Cameo.Status.REJECTED, reasons=[DISPUTE_REJECTED_REASON]
        )
        erase_media(cameo)
    cameo.refresh_from_db()
    publish(cameo.owner_id, cameo.event())


def mark_uses_seen(cameo: Cameo) -> int:
    return CameoUse.objects.filter(cameo=cameo, seen=False).update(seen=True)


def usable_cameos_for_picker(user: User, limit: int = 50) -> list[Cameo]:
    """The cameos offered in Create: usable by `user` and either theirs, approved for them, or
    of someone they follow (anyone else's open cameo can still be @mentioned). One query."""
    from feed.models import Follow

    follows = Follow.objects.filter(follower=user.pk).values("followee")
    return list(
        Cameo.objects.usable_by(user)
        .filter(Q(owner=user.pk) | Q(approvals__user=user.pk) | Q(owner__in=follows))
        .select_related("owner")
        .distinct()
        .order_by("-kind", "owner__handle", "name")[:limit]
    )


# --- voice -------------------------------------------------------------------------------------

VOICE_ROLES = (CameoMedia.Role.PASSAGE, CameoMedia.Role.FEATURES)


def _erase_voice_media(cameo: Cameo) -> None:
    _delete_media(CameoMedia.objects.filter(cameo=cameo, role__in=VOICE_ROLES))


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
    _ensure_queue()
    attempt = int(cameo.voice_checks.get("attempt", 0)) if cameo.voice_checks else 0
    with transaction.atomic():
        _erase_voice_media(cameo)
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
    if not _enqueue_check("cameos.jobs.analyse_voice", cameo_id):
        reject_voice(Cameo.objects.get(pk=cameo_id), [QUEUE_DOWN_REASON])


def reject_voice(cameo: Cameo, reasons: list[str], checks: dict | None = None) -> None:
    """Refuse a voice reading with `reasons` for the owner; its files are erased at once."""
    _erase_voice_media(cameo)
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
        _erase_voice_media(cameo)
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
