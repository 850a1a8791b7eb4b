"""What a generation's cameo uses tell the rest of the site: the codes to retry or remix with,
the ledger entries for provenance, the output check's context and the engine's conditioning."""

from dataclasses import dataclass

from cameos.models import Cameo, CameoMedia, CameoUse
from generation.models import Generation


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


def mark_uses_seen(cameo: Cameo) -> int:
    return CameoUse.objects.filter(cameo=cameo, seen=False).update(seen=True)
