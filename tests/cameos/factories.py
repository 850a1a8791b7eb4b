"""Plain factory functions for the cameo site tests (the liveness tests' fixtures live in conftest)."""

import io
from datetime import timedelta

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw

from accounts.models import Block
from cameos.actions.consent import record_cameo_uses
from cameos.actions.media import save_media
from cameos.ledger import append_entry
from cameos.models import Approval, Cameo, CameoMedia, Challenge, LedgerEntry
from feed.models import Follow, Post
from generation.models import Generation


def jpeg(size=(96, 128), colour=(200, 120, 60)) -> bytes:
    image = Image.new("RGB", size, colour)
    ImageDraw.Draw(image).ellipse((10, 10, size[0] - 10, size[1] - 10), fill=(240, 200, 170))
    out = io.BytesIO()
    image.save(out, format="JPEG")
    return out.getvalue()


def make_cameo(
    owner, *, permission=Cameo.Permission.ONLY_ME, kind=Cameo.Kind.PERSON, name="", **fields
) -> Cameo:
    """A verified cameo as the analysis job leaves it: a reference image, a recording, and the
    ledger's first entry."""
    if kind == Cameo.Kind.CHARACTER:
        name = name or "Biscuit"
        fields.setdefault("attested", timezone.now())
    person = kind == Cameo.Kind.PERSON
    fields.setdefault("face_embedding", [0.1] * 128 if person else None)
    fields.setdefault("voice_embedding", [0.05] * 256 if person else None)
    cameo = Cameo.objects.create(
        owner=owner,
        kind=kind,
        name=name,
        permission=permission,
        status=Cameo.Status.ACTIVE,
        verified=timezone.now(),
        **fields,
    )
    save_media(cameo, CameoMedia.Role.REFERENCE, 0, "face.jpg", ContentFile(jpeg()))
    save_media(
        cameo, CameoMedia.Role.RECORDING, 0, "recording.webm", ContentFile(b"\x1a\x45\xdf\xa3 not decoded")
    )
    append_entry(cameo, LedgerEntry.Kind.CREATED, actor=owner, permission=permission)
    return cameo


def follow(follower, followee) -> None:
    Follow.objects.get_or_create(follower=follower, followee=followee)


def mutuals(a, b) -> None:
    follow(a, b)
    follow(b, a)


def approve(cameo, user) -> None:
    Approval.objects.get_or_create(cameo=cameo, user=user)


def block(blocker, blocked) -> None:
    Block.objects.get_or_create(blocker=blocker, blocked=blocked)


def generation_with(
    owner, cameos, *, status=Generation.Status.QUEUED, prompt="waving at the camera", **fields
):
    """A generation row whose cameo uses are recorded as start_generation records them, without
    the submit-time check (so the later checks can be tested on their own)."""
    fields.setdefault("seconds", 1)
    fields.setdefault("seed", 3)
    with transaction.atomic():
        generation = Generation.objects.create(owner=owner, prompt=prompt, status=status, **fields)
        if status == Generation.Status.SUCCEEDED:
            generation.poster.save("poster.jpg", ContentFile(jpeg((72, 128))), save=False)
            generation.video.save("video.mp4", ContentFile(b"not really a video"), save=False)
            generation.finished = timezone.now()
            generation.check_status = Generation.Check.PASSED
            generation.save()
        record_cameo_uses(Generation.objects.select_related("owner").get(pk=generation.pk), list(cameos))
    return generation


def post_of(generation, visibility=Post.Visibility.PUBLIC) -> Post:
    return Post.objects.create(author=generation.owner, generation=generation, visibility=visibility)


def make_challenge(owner, digits="4719", turns=("left", "right"), *, age_seconds=60, **fields) -> Challenge:
    """A challenge issued `age_seconds` ago (long enough ago for a test clip to be fresh)."""
    created = timezone.now() - timedelta(seconds=age_seconds)
    fields.setdefault("expires", created + timedelta(seconds=300))
    return Challenge.objects.create(owner=owner, digits=digits, turns=list(turns), created=created, **fields)
