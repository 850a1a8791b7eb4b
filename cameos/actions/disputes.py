"""Likeness disputes: a moderator verifies or rejects a cameo held for review."""

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from cameos.actions.media import erase_media
from cameos.ledger import append_entry
from cameos.models import Cameo, LedgerEntry
from generation.events import publish

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
