"""The owner's controls: who may use a cameo, its approval list, deleting it, removing a video
that used it and blocking who used it. Each narrowing enforces consent in the same transaction."""

from django.db import transaction
from django.utils import timezone

from accounts.models import Block, User
from cameos.actions.media import erase_media
from cameos.actions.withdrawal import delete_video, enforce_consent
from cameos.errors import CameoRefused
from cameos.ledger import append_entry
from cameos.models import Approval, Cameo, CameoUse, LedgerEntry
from cameos.signals import block_requested, preferences_submitted
from generation.errors import GenerationRefused


@transaction.atomic
def update_cameo_settings(
    cameo: Cameo, *, permission: str, preferences: str, restrictions: str, actor: User
) -> list[str]:
    """Change who may use a cameo and the owner's preferences and restrictions; returns the
    names of the fields that changed. Each change is a ledger entry; consent is then enforced on
    videos already made or queued. Teens can't open their cameo to everyone.

    One transaction: the change, its ledger entry and every stopped video stand or fall together;
    events, job cancels and file deletions happen only once it commits."""
    if permission == Cameo.Permission.EVERYONE and cameo.owner.is_teen:
        raise CameoRefused("Teen accounts can't let everyone use their cameo.", field="permission")
    new = {"permission": permission, "preferences": preferences.strip(), "restrictions": restrictions.strip()}
    changed = {name: value for name, value in new.items() if getattr(cameo, name) != value}
    if not changed:
        return []
    if "preferences" in changed:
        # Preferences steer every video the cameo is in: the prompt policy judges them first
        # (moderation's receiver of `preferences_submitted` raises to refuse them).
        try:
            preferences_submitted.send(sender=Cameo, owner=cameo.owner, text=changed["preferences"])
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
            delete_video(use, actor=actor, why=why)


def remove_video(use: CameoUse, *, actor: User) -> None:
    """The cameo's owner deletes a video (anyone's draft or post) that used their cameo: it
    disappears for its creator too. A running job is told to stop and finds its row gone."""
    if use.generation_id is None:
        raise CameoRefused("That video is already gone.")
    delete_video(use, actor=actor)


@transaction.atomic
def block_user_of(use: CameoUse, *, actor: User) -> None:
    """The cameo's owner blocks the person who used (or tried to use) their cameo: the feed's
    block, a ledger revocation on each of the owner's cameos, and consent enforced on them all,
    in one transaction."""
    # The feed's block (follows end both ways); it raises CameoRefused when it refuses.
    block_requested.send(sender=Cameo, blocker=actor, blocked=use.user)
    for cameo in Cameo.objects.filter(owner=actor, status=Cameo.Status.ACTIVE):
        append_entry(cameo, LedgerEntry.Kind.REVOKED, actor=actor, subject=use.user, reason="blocked")
        enforce_consent(cameo, why="blocked")
