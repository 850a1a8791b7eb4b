"""Consent: every yes or no about using a cameo comes from `Cameo.objects.usable_by` (the
permission rule), worded for people by `refusal_reason`. It is asked when a request is submitted
(`cameos_for_request`), when the row is written (`record_cameo_uses`, which also carries a remixed
video's cameos over), by the worker right before generating (`check_consent_before_generating`),
when a video is posted (`check_post_allowed`) and whenever the owner narrows consent
(`cameos.actions.withdrawal.enforce_consent`). Every grant, change, revocation, use and refusal
goes to the cameo's ledger (`cameos.ledger`).
"""

import re

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower

from accounts.models import Follow, User
from cameos.ledger import append_entry
from cameos.models import Cameo, CameoUse, LedgerEntry, Withdrawal
from cameos.signals import cameo_used
from generation.errors import ConsentRefused, GenerationRefused
from generation.events import publish
from generation.models import Generation

# "@ada" in a prompt; not inside an email address or a longer word. Handles may contain dots, so
# a sentence's full stop after a handle is trimmed off.
MENTION_RE = re.compile(r"(?<![\w@.])@([A-Za-z][A-Za-z0-9_.]{2,29})")


def possessive(cameo: Cameo) -> str:
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
    return "" if usable else f"{possessive(cameo)} isn't available to you."


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
    their cameo list, and the feed's bell (`cameos.signals.cameo_used`)."""
    text = f"@{use.user.handle} used your cameo."
    publish(use.cameo.owner_id, {"kind": "cameo_use", "cameo": use.cameo.code, "use": use.code, "text": text})
    cameo_used.send(sender=CameoUse, use=use)


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
            raise ConsentRefused(use.reason or f"{possessive(use.cameo)} isn't available to you.")
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


def usable_cameos_for_picker(user: User, limit: int = 50) -> list[Cameo]:
    """The cameos offered in Create: usable by `user` and either theirs, approved for them, or
    of someone they follow (anyone else's open cameo can still be @mentioned). One query."""
    follows = Follow.objects.filter(follower=user.pk).values("followee")
    return list(
        Cameo.objects.usable_by(user)
        .filter(Q(owner=user.pk) | Q(approvals__user=user.pk) | Q(owner__in=follows))
        .select_related("owner")
        .distinct()
        .order_by("-kind", "owner__handle", "name")[:limit]
    )
