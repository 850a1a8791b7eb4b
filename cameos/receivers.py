"""Cameos' part in making a video: who appears in it. generation sits below cameos in the layers
(cameos' rows point at generations), so it asks through the `cast` slot of generation.hooks,
filled here from CameosConfig.ready()."""

import io

from django.core.files.base import ContentFile
from django.http import HttpRequest, HttpResponse

from cameos import jobs, views
from cameos.actions import consent, uses, voice
from cameos.actions import media as cameo_media
from cameos.models import Cameo, CameoMedia, Withdrawal
from generation import hooks, media
from generation.serving import local_path


class CameoVoice:
    """The voice of the one cameo in a video (generation.hooks.CastVoice)."""

    def __init__(self, cameo: Cameo):
        self.cameo = cameo
        self.code = cameo.code
        self.owner_handle = cameo.owner.handle
        self.embedding = cameo.voice_embedding

    def speech(self):
        """The speech of the cameo's accepted reading: mono float32 at 16 kHz."""
        stored = CameoMedia.objects.get(cameo=self.cameo, role=CameoMedia.Role.PASSAGE, position=1)
        with local_path(stored.file) as path:
            audio, _ = media.read_audio(path, sample_rate=16_000)
        return audio.mean(axis=0).astype("float32")

    def matching_set(self):
        """The kNN-VC matching set, computed from the reading and stored on first use."""
        import numpy as np

        features = CameoMedia.objects.filter(
            cameo=self.cameo, role=CameoMedia.Role.FEATURES, position=0
        ).first()
        if features is None:
            content = ContentFile(jobs.voice_features_bytes(self.speech()))
            features = cameo_media.save_media(
                self.cameo, CameoMedia.Role.FEATURES, 0, "features.npy", content
            )
        with features.file.open("rb") as fh:
            return np.load(io.BytesIO(fh.read()), allow_pickle=False)


class Cast:
    """Who appears in a video, for generation (generation.hooks.Cast)."""

    def for_request(self, owner, texts: list[str], codes: list[str]) -> list[Cameo]:
        return consent.cameos_for_request(owner, texts, codes)

    def record_uses(self, generation, cast: list[Cameo]) -> None:
        consent.record_cameo_uses(generation, cast)

    def codes_for(self, generation) -> list[str]:
        return uses.cameo_codes_for(generation)

    def check_before_generating(self, generation) -> None:
        consent.check_consent_before_generating(generation)

    def conditioning(self, generation):
        return uses.cameo_conditioning(generation)

    def voice_for(self, generation) -> CameoVoice | None:
        cameo = voice.voice_cameo_for(generation)
        return CameoVoice(cameo) if cameo is not None else None

    def picker(self, user) -> list[tuple[str, str]]:
        return [(cameo.code, cameo.label) for cameo in consent.usable_cameos_for_picker(user)]

    def withdrawal_of_draft(self, code: str, viewer) -> Withdrawal | None:
        return Withdrawal.objects.of_draft(code, viewer)

    def withdrawn_page(self, request: HttpRequest, withdrawal: Withdrawal) -> HttpResponse:
        return views.withdrawn(request, withdrawal)


def connect() -> None:
    hooks.register_cast(Cast())
