"""A cameo's files in storage: saved with the row, deleted only once the transaction commits."""

from cameos.models import Cameo, CameoMedia
from generation.models import delete_on_commit


def save_media(cameo: Cameo, role: str, position: int, name: str, content) -> CameoMedia:
    media = CameoMedia(cameo=cameo, role=role, position=position)
    media.file.save(name, content, save=False)
    media.save()
    return media


def delete_media(rows) -> None:
    """Delete these CameoMedia rows now and their files in storage once the transaction commits:
    a rolled-back deletion leaves rows and files as they were."""
    rows = list(rows)
    delete_on_commit([media.file for media in rows])
    for media in rows:
        media.delete()


def erase_media(cameo: Cameo) -> None:
    """Delete every file of a cameo from storage, and its embeddings."""
    delete_media(CameoMedia.objects.filter(cameo=cameo))
    Cameo.objects.filter(pk=cameo.pk).update(
        voice_embedding=None, face_embedding=None, voice_use=False, voice_status=Cameo.VoiceStatus.NONE
    )


VOICE_ROLES = (CameoMedia.Role.PASSAGE, CameoMedia.Role.FEATURES)


def erase_voice_media(cameo: Cameo) -> None:
    delete_media(CameoMedia.objects.filter(cameo=cameo, role__in=VOICE_ROLES))
