"""Withdrawing consent: applying a cameo's narrowed consent to the videos that use it (stop
jobs, take posts down, record a `Withdrawal` and tell the author)."""

from accounts.models import User
from cameos.actions.consent import possessive, refusal_reason
from cameos.ledger import append_entry
from cameos.models import Cameo, CameoUse, LedgerEntry, Withdrawal
from cameos.signals import answers, consent_withdrawn, video_removed, withdrawal_notice, withdrawal_recorded
from generation.actions import delete_generation, stop_generation
from generation.models import Generation


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
        record = _stop_use(cameo, use, reason, why)
        if record is not None:
            withdrawn.setdefault(generation.owner_id, []).append(record)
        stopped += 1
    for author_id, records in withdrawn.items():
        _notify_withdrawal(author_id, cameo, records, why)
    return stopped


def _stop_use(cameo: Cameo, use: CameoUse, reason: str, why: str) -> Withdrawal | None:
    """Stop one video's use of `cameo`: its job, its post (the feed takes it down: see
    `cameos.signals.consent_withdrawn`), the ledger entry and the `Withdrawal`."""
    generation = use.generation
    if generation.is_active:
        stop_generation(generation, f"Stopped: {reason}")
    post_codes = answers(consent_withdrawn.send(sender=Cameo, cameo=cameo, generation=generation))
    entry = append_entry(
        cameo,
        LedgerEntry.Kind.STOPPED,
        actor=cameo.owner,
        subject=use.user,
        generation=generation,
        reason=reason,
        post_taken_down=bool(post_codes),
    )
    CameoUse.objects.filter(pk=use.pk).update(status=CameoUse.Status.STOPPED, reason=reason[:300])
    return _withdraw(cameo, generation, post_code=post_codes[0] if post_codes else "", entry=entry, why=why)


def _withdraw(cameo: Cameo, generation: Generation, *, post_code: str, entry: LedgerEntry, why: str):
    """Record that `generation` (someone else's, showing `cameo`) is withdrawn; None when it is the
    likeness owner's own video or already withdrawn for this cameo. Apps above add what they know
    of the video (`cameos.signals.withdrawal_recorded`: provenance's tracking id)."""
    if generation.owner_id == cameo.owner_id:
        return None
    existing = Withdrawal.objects.filter(cameo=cameo, generation_code=generation.code).first()
    if existing is not None:
        if post_code and not existing.post_code:
            Withdrawal.objects.filter(pk=existing.pk).update(post_code=post_code)
        return None
    record = Withdrawal.objects.create(
        cameo=cameo,
        generation=generation,
        author_id=generation.owner_id,
        generation_code=generation.code,
        post_code=post_code,
        owner_handle=cameo.owner.handle,
        reason=why[:120],
        ledger_entry=entry,
        created=entry.created,
    )
    withdrawal_recorded.send(sender=Withdrawal, withdrawal=record)
    return record


def _notify_withdrawal(author_id: int, cameo: Cameo, records: list[Withdrawal], why: str) -> None:
    """One notification per author and withdrawal, naming the cameo and how consent ended. No
    actor: a block between the two must not swallow it (the feed's bell: see
    `cameos.signals.withdrawal_notice`)."""
    count = "Your video" if len(records) == 1 else f"{len(records)} of your videos"
    message = (
        f"{count} with {possessive(cameo)} was taken down: @{cameo.owner.handle} withdrew consent ({why})."
    )
    withdrawal_notice.send(sender=Cameo, author_id=author_id, message=message)


def delete_video(use: CameoUse, *, actor: User, why: str = "video removed by the cameo's owner") -> None:
    """Delete a video that used the cameo (the ledger's `removed` entry and a `Withdrawal` first):
    with its post when it was posted (the feed deletes both: see `cameos.signals.video_removed`),
    else as a draft."""
    generation = use.generation
    entry = append_entry(
        use.cameo, LedgerEntry.Kind.REMOVED, actor=actor, subject=use.user, generation=generation
    )
    CameoUse.objects.filter(pk=use.pk).update(status=CameoUse.Status.REMOVED)
    cameo = Cameo.objects.select_related("owner").get(pk=use.cameo_id)
    record = _withdraw(cameo, generation, post_code="", entry=entry, why=why)
    if record is not None:
        _notify_withdrawal(generation.owner_id, cameo, [record], why)
    post_codes = answers(video_removed.send(sender=Cameo, cameo=cameo, generation=generation))
    if post_codes:
        # The post's old address answers 410 with the reason.
        Withdrawal.objects.filter(cameo=cameo, generation_code=generation.code, post_code="").update(
            post_code=post_codes[0]
        )
    else:
        delete_generation(generation)


def enforce_consent_between(*users: User, why: str = "consent withdrawn") -> int:
    """Re-apply consent on every cameo these people own, after something outside the cameo pages
    narrowed it (a block or unfollow from the feed: mutuals may no longer be mutual). Returns how
    many uses were stopped. For the feed's block and unfollow actions to call."""
    cameos = Cameo.objects.filter(owner__in=[u.pk for u in users], status=Cameo.Status.ACTIVE)
    return sum(enforce_consent(cameo, why=why) for cameo in cameos)
