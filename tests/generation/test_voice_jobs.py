"""Cameo voice on the job path: which route ran is recorded on the video and in its C2PA
manifest; kNN-VC (route 2) converts one cameo's speech after generation; bad settings stop the
site at startup. (Route 1's pipeline has its own tests in test_voice_reference.py.)"""

import io
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from cameos.actions.media import save_media
from cameos.liveness.voice import voice_embedding, wav_bytes
from cameos.models import Cameo, CameoMedia
from generation import hooks
from generation.jobs import give_cameo_voice, run_generation
from generation.models import Generation
from provenance.actions import ensure_export
from provenance.c2pa_manifest import read_manifest
from tests.conftest import generation_with, make_cameo
from tests.media_factory import speech_samples

READING = "I am the owner of this cameo, and this is how my voice sounds when I read aloud."


@pytest.fixture(scope="module")
def voice_models(tmp_path_factory):
    """The VOICE_* settings printed by `build_voice_models` for freshly built tiny checkpoints."""
    out = io.StringIO()
    call_command(
        "build_voice_models", "--output", str(tmp_path_factory.mktemp("voice") / "models"), stdout=out
    )
    return dict(line.split("=", 1) for line in out.getvalue().splitlines() if "=" in line)


@pytest.fixture
def knnvc(settings, voice_models):
    settings.VOICE_ROUTE = "knnvc"
    for name, value in voice_models.items():
        setattr(settings, name, value)
    return voice_models


@pytest.fixture(scope="module")
def reading():
    return speech_samples(READING, "slt", 16_000)


@pytest.fixture
def voiced_cameo(make_user, reading):
    """A verified cameo whose owner's reading was accepted and whose voice is switched on."""
    cameo = make_cameo(make_user("ada"), voice_embedding=voice_embedding(reading))
    save_media(cameo, CameoMedia.Role.PASSAGE, 1, "speech.wav", ContentFile(wav_bytes(reading)))
    Cameo.objects.filter(pk=cameo.pk).update(voice_status=Cameo.VoiceStatus.READY, voice_use=True)
    cameo.refresh_from_db()
    return cameo


def speech_over_music(rate: int = 24_000) -> np.ndarray:
    """Stereo: 1 s of chords, a sentence in another voice (flite rms) over them, 1 s of chords."""
    speech = speech_samples("Hello there, this line should come out in the cameo's voice.", "rms", rate)
    total = len(speech) + 2 * rate
    t = np.arange(total) / rate
    music = 0.05 * sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6))
    mix = music.copy()
    mix[rate : rate + len(speech)] += 0.6 * speech
    return np.stack([mix, mix]).astype(np.float32)


@pytest.mark.django_db
def test_route_two_converts_the_one_cameos_speech_and_keeps_the_music(knnvc, voiced_cameo):
    generation = generation_with(voiced_cameo.owner, [voiced_cameo])
    audio = speech_over_music()
    output = SimpleNamespace(audio=audio.copy(), sample_rate=24_000)

    give_cameo_voice(generation, output, hooks.cast().voice_for(generation))

    voice = generation.voice
    assert voice["route"] == "knnvc" and voice["cameo"] == voiced_cameo.code and voice["owner"] == "ada"
    assert voice["converted"] and voice["speech_seconds"] > 1
    assert {c["name"] for c in voice["checkpoints"]} >= {"demucs", "wavlm", "vocoder"} or len(
        voice["checkpoints"]
    ) == 3
    assert all(len(c["sha256"]) == 64 for c in voice["checkpoints"])
    assert output.audio.shape == audio.shape
    # Outside the speech, the music is untouched sample for sample; inside, the speech changed.
    untouched = np.ones(audio.shape[1], bool)
    for start, end in voice["speech_region_samples"]:
        untouched[start:end] = False
    assert np.array_equal(output.audio[:, untouched], audio[:, untouched])
    assert not np.array_equal(output.audio[:, ~untouched], audio[:, ~untouched])
    assert voice["untouched_outside_speech"] is True
    # The matching set was computed once, on first use, and stored with the cameo.
    assert CameoMedia.objects.filter(cameo=voiced_cameo, role=CameoMedia.Role.FEATURES).count() == 1
    give_cameo_voice(
        generation,
        SimpleNamespace(audio=audio.copy(), sample_rate=24_000),
        hooks.cast().voice_for(generation),
    )
    assert CameoMedia.objects.filter(cameo=voiced_cameo, role=CameoMedia.Role.FEATURES).count() == 1


@pytest.mark.django_db
def test_a_finished_job_records_the_voice_route_and_the_export_manifest_carries_it(
    tiny_model, knnvc, voiced_cameo
):
    generation = generation_with(voiced_cameo.owner, [voiced_cameo], prompt="@ada says hello")

    assert run_generation(generation.pk) == "succeeded", Generation.objects.get(pk=generation.pk).error_detail

    generation.refresh_from_db()
    assert generation.voice["route"] == "knnvc" and generation.voice["cameo"] == voiced_cameo.code
    # The tiny model's sound is noise, so there may be no speech to convert; the record says which.
    assert "converted" in generation.voice
    Generation.objects.filter(pk=generation.pk).update(check_status=Generation.Check.PASSED)
    generation.refresh_from_db()
    export = ensure_export(generation)
    manifest = read_manifest(
        export.file.path, trust_anchors_pem=Path(django_settings.C2PA_TRUST_ANCHORS).read_bytes()
    )
    assert manifest["voice"]["route"] == "knnvc"
    assert manifest["voice"]["cameo"] == voiced_cameo.code
    assert [c["sha256"] for c in manifest["voice"]["checkpoints"]] == [
        c["sha256"] for c in generation.voice["checkpoints"]
    ]


@pytest.mark.django_db
def test_without_a_voice_route_or_with_the_owners_switch_off_the_models_voice_is_kept(
    tiny_model, settings, voice_models, voiced_cameo
):
    settings.VOICE_ROUTE = "none"
    first = generation_with(voiced_cameo.owner, [voiced_cameo])
    assert run_generation(first.pk) == "succeeded"
    first.refresh_from_db()
    assert first.voice == {}

    settings.VOICE_ROUTE = "knnvc"
    for name, value in voice_models.items():
        setattr(settings, name, value)
    Cameo.objects.filter(pk=voiced_cameo.pk).update(voice_use=False)
    second = generation_with(voiced_cameo.owner, [voiced_cameo])
    assert run_generation(second.pk) == "succeeded"
    second.refresh_from_db()
    assert second.voice == {}
    assert not CameoMedia.objects.filter(cameo=voiced_cameo, role=CameoMedia.Role.FEATURES).exists()


def test_a_missing_checkpoint_path_stops_the_site_at_startup(settings, tmp_path):
    settings.VOICE_ROUTE = "knnvc"
    settings.VOICE_DEMUCS_DIR = str(tmp_path / "no-such-dir")
    settings.VOICE_WAVLM_DIR = str(tmp_path / "no-wavlm")
    settings.VOICE_VOCODER_PATH = str(tmp_path / "no-vocoder.pt")
    with pytest.raises(SystemCheckError, match="VOICE_DEMUCS_DIR"):
        call_command("check")

    settings.VOICE_ROUTE = "none"
    settings.VOICE_ID_LORA = str(tmp_path / "missing-lora.safetensors")
    with pytest.raises(SystemCheckError, match="VOICE_ID_LORA"):
        call_command("check")

    settings.VOICE_ID_LORA = ""
    call_command("check")  # the defaults start


@pytest.mark.django_db
def test_route_one_conditions_the_generator_on_the_cameos_reading_and_records_the_lora(
    tiny_model, settings, tmp_path, voiced_cameo
):
    from generation.engine import build_tiny_id_lora, file_sha256

    lora = build_tiny_id_lora(tiny_model, tmp_path / "id-lora.safetensors")
    settings.VOICE_ROUTE = "none"
    settings.VOICE_ID_LORA = str(lora)
    generation = generation_with(voiced_cameo.owner, [voiced_cameo], prompt="@ada says hello")

    assert run_generation(generation.pk) == "succeeded", Generation.objects.get(pk=generation.pk).error_detail

    generation.refresh_from_db()
    assert generation.voice["route"] == "idlora"
    assert generation.voice["checkpoint_sha256"] == file_sha256(lora)
    assert generation.voice["cameo"] == voiced_cameo.code
