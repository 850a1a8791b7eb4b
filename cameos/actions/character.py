"""Creating a character cameo (a pet, an object): pictures or clips, a name and an attestation."""

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from cameos.actions.media import save_media
from cameos.actions.queue import ensure_queue
from cameos.actions.recording import enqueue_analysis
from cameos.errors import CameoRefused
from cameos.models import Cameo, CameoMedia


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
    ensure_queue()
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
