"""Route 2 of cameo voice (separate, convert with kNN-VC, remix) on tiny models of the real architectures.

The models are built once per module by the ``build_voice_models`` command and loaded through the
same code a deployment uses. Their weights are random (apart from the tiny Demucs' speech stem, which
passes half the mix through so that voice-activity detection finds the speech; see
generation/voice/tiny.py), so the converted voice is noise: these tests check the mechanism (exact
length, untouched non-speech, the report, the MP4 path, settings), not the quality of the voice.
"""

import hashlib
import io
import json

import av
import numpy as np
import pytest
import torch
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from cameos.liveness.voice import voice_embedding
from generation import media
from generation.voice import stage as stage_module
from generation.voice.hifigan import load_vocoder
from generation.voice.knnvc import LAYER
from generation.voice.stage import VoiceError, VoiceStage, check_voice_settings, get_voice_stage
from generation.voice.tiny import build_vocoder, tiny_vocoder_config
from tests.media_factory import speech_samples

RATE = 24_000  # the engine's audio rate
SPEECH_AT = 1.0  # seconds of music before the speech starts
TAIL = 1.0  # seconds of music after it


@pytest.fixture(scope="module")
def voice_settings(tmp_path_factory):
    """The VOICE_* settings the command prints for freshly built tiny models."""
    out = io.StringIO()
    call_command(
        "build_voice_models", "--output", str(tmp_path_factory.mktemp("voice") / "models"), stdout=out
    )
    return dict(line.split("=", 1) for line in out.getvalue().splitlines())


@pytest.fixture(scope="module")
def stage(voice_settings):
    return VoiceStage.load(
        voice_settings["VOICE_DEMUCS_DIR"],
        voice_settings["VOICE_DEMUCS_MODEL"],
        voice_settings["VOICE_WAVLM_DIR"],
        voice_settings["VOICE_VOCODER_PATH"],
    )


@pytest.fixture(scope="module")
def cameo_voice():
    """The cameo owner's voice sample (flite's female voice), 16 kHz mono."""
    return speech_samples("I am the owner of this cameo, and this is how my voice sounds.", "slt", 16_000)


@pytest.fixture(scope="module")
def matching_set(stage, cameo_voice):
    return stage.enrol(cameo_voice)


@pytest.fixture(scope="module")
def target_embedding(cameo_voice):
    return voice_embedding(cameo_voice)


def music(seconds: float, rate: int = RATE) -> np.ndarray:
    """Stereo 'music': a chord of three sines with a slow tremolo, a little wider on the left."""
    t = np.arange(round(seconds * rate)) / rate
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) * (
        0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t)
    )
    return (0.05 * np.stack([chord, 0.8 * chord])).astype(np.float32)


@pytest.fixture(scope="module")
def clip():
    """Music, then a man's speech over it, then music again: float32 (2, n) at 24 kHz."""
    speech = speech_samples("Hello there, this is a quick test of the voice stage.", "rms", RATE)
    start = round(SPEECH_AT * RATE)
    audio = music(SPEECH_AT + len(speech) / RATE + TAIL)
    audio[:, start : start + len(speech)] += 0.7 * speech
    return audio, (start, start + len(speech))


@pytest.fixture(scope="module")
def converted(stage, clip, matching_set, target_embedding):
    return stage.convert(clip[0], RATE, matching_set, target_embedding)


def outside_mask(length: int, region_samples: list) -> np.ndarray:
    mask = np.ones(length, bool)
    for start, end in region_samples:
        mask[start:end] = False
    return mask


def test_conversion_keeps_the_exact_length_and_leaves_music_only_parts_bit_identical(clip, converted):
    audio, (speech_start, speech_end) = clip
    result, report = converted.audio, converted.report
    assert result.shape == audio.shape and result.dtype == np.float32
    assert report["converted"] is True
    regions = report["speech_regions"]
    assert regions, "the speech in the clip was not found"
    # The regions hold the speech (0.1 s VAD padding, and flite's leading silence) and no more.
    assert regions[0][0] >= SPEECH_AT - 0.15
    assert regions[-1][1] <= speech_end / RATE + 0.15
    assert any(
        start <= speech_start / RATE + 0.5 and end >= speech_start / RATE + 0.5 for start, end in regions
    )
    outside = outside_mask(audio.shape[1], report["speech_region_samples"])
    assert np.allclose(np.array(report["speech_region_samples"]) / RATE, regions, atol=1e-4)
    assert outside[: round(0.8 * RATE)].all() and outside[-round(0.8 * RATE) :].all()
    assert np.array_equal(result[:, outside], audio[:, outside])
    assert report["untouched_outside_speech"] is True
    # Inside, the speech was replaced: the random vocoder's noise is not the input.
    assert np.abs(result[:, ~outside] - audio[:, ~outside]).max() > 0.01


def test_region_edges_join_the_untouched_audio_without_a_jump(clip, converted):
    audio, result = clip[0], converted.audio
    for start, end in converted.report["speech_region_samples"]:
        for edge in (start, end - 1):
            # The fade starts from the input itself, so the first and last samples barely move.
            assert np.abs(result[:, edge] - audio[:, edge]).max() < 0.02


def test_report_gives_similarity_before_and_after_and_the_background_check(converted, voice_settings):
    report = converted.report
    json.dumps(report)  # stored with the video: must be JSON as is
    assert report["route"] == "knnvc"
    assert report["sample_rate"] == RATE
    assert -1.0 <= report["similarity_before"] <= 1.0
    assert -1.0 <= report["similarity_after"] <= 1.0
    assert report["similarity_after"] != report["similarity_before"]
    # Output minus converted speech is the input's background: only float rounding apart.
    assert report["background_snr_db"] > 80
    assert report["speech_seconds"] == pytest.approx(
        sum(e - s for s, e in report["speech_regions"]), abs=0.01
    )
    names = [c["name"] for c in report["checkpoints"]]
    assert names == [f"demucs:{voice_settings['VOICE_DEMUCS_MODEL']}", "wavlm", "hifigan"]
    vocoder = next(c for c in report["checkpoints"] if c["name"] == "hifigan")
    with open(voice_settings["VOICE_VOCODER_PATH"], "rb") as handle:
        assert vocoder["sha256"] == hashlib.sha256(handle.read()).hexdigest()
    assert all(len(c["sha256"]) == 64 for c in report["checkpoints"])


def test_music_without_speech_comes_back_unchanged(stage, matching_set, target_embedding):
    audio = music(3.0)
    result = stage.convert(audio, RATE, matching_set, target_embedding)
    assert np.array_equal(result.audio, audio)
    assert result.report["converted"] is False
    assert result.report["speech_regions"] == []
    assert "No speech" in result.report["note"]
    assert result.report["untouched_outside_speech"] is True


def test_mp4_keeps_its_exact_audio_duration_and_its_video_packets(tmp_path, stage, clip, matching_set):
    audio = clip[0]
    fps = 24
    frames = np.full((audio.shape[1] * fps // RATE, 48, 64, 3), 90, np.uint8)
    frames[:, :, : frames.shape[2] // 2] = 200
    source, target = tmp_path / "in.mp4", tmp_path / "out.mp4"
    media.write_mp4(source, frames, fps, audio, RATE)

    report = stage.convert_file(source, target, matching_set)

    before, after = media.probe(source), media.probe(target)
    assert after.audio_seconds == before.audio_seconds
    assert after.frames == before.frames and after.video_seconds == before.video_seconds
    decoded_before, _ = media.read_audio(source)
    decoded_after, rate = media.read_audio(target)
    assert rate == RATE and decoded_after.shape == decoded_before.shape
    assert report["converted"] is True and report["similarity_after"] is None

    def video_packets(path):
        with av.open(str(path)) as container:
            return [bytes(p) for p in container.demux(container.streams.video[0]) if p.size]

    assert video_packets(target) == video_packets(source)  # copied, not re-encoded


def test_enrolment_features_are_deterministic(stage, voice_settings, cameo_voice, matching_set):
    again = VoiceStage.load(
        voice_settings["VOICE_DEMUCS_DIR"],
        voice_settings["VOICE_DEMUCS_MODEL"],
        voice_settings["VOICE_WAVLM_DIR"],
        voice_settings["VOICE_VOCODER_PATH"],
    ).enrol(cameo_voice)
    assert matching_set.dtype == np.float32 and matching_set.ndim == 2
    assert matching_set.shape[1] == stage.knnvc.dim
    # One frame per 20 ms of speech (silences cut), so fewer frames than the whole sample has.
    assert 0 < len(matching_set) < len(cameo_voice) / 320
    # Bit for bit under the same torch thread count (Resemblyzer, used by other tests, changes it;
    # a different count only reorders float sums).
    assert np.array_equal(stage.enrol(cameo_voice), again)
    np.testing.assert_allclose(again, matching_set, rtol=0, atol=1e-4)


def test_enrolling_silence_is_refused(stage):
    with pytest.raises(VoiceError, match="No speech"):
        stage.enrol(np.zeros(16_000 * 3, np.float32))


def test_vocoder_loads_the_published_checkpoint_format(voice_settings):
    package = torch.load(voice_settings["VOICE_VOCODER_PATH"], weights_only=True)
    keys = set(package["generator"])
    assert "conv_pre.weight_g" in keys and "ups.0.weight_v" in keys and "lin_pre.weight" in keys
    loaded = load_vocoder(voice_settings["VOICE_VOCODER_PATH"])
    original = build_vocoder(tiny_vocoder_config(), seed=0)  # the weights the command saved
    features = torch.randn(1, 7, loaded.config.hubert_dim)
    with torch.inference_mode():
        expected, actual = original(features), loaded(features)
    assert actual.shape == (1, 7 * 320)
    assert torch.allclose(actual, expected, atol=1e-5)


def test_wavlm_cut_to_six_layers_gives_the_full_models_layer_six(stage, voice_settings):
    from transformers import WavLMModel

    full = WavLMModel.from_pretrained(voice_settings["VOICE_WAVLM_DIR"], local_files_only=True).eval()
    wav = torch.randn(1, 8000)
    with torch.inference_mode():
        expected = full(wav, output_hidden_states=True).hidden_states[LAYER]
        actual = stage.knnvc.wavlm(wav, output_hidden_states=True).hidden_states[LAYER]
    assert len(full.encoder.layers) == LAYER and len(stage.knnvc.wavlm.encoder.layers) == LAYER
    assert torch.allclose(actual, expected)
    # A different cut (e.g. keeping the final LayerNorm) would change the features.
    assert stage.knnvc.features(wav[0].numpy()).shape == (25, stage.knnvc.dim)


def test_settings_check_names_missing_paths_and_unknown_routes(settings, voice_settings, tmp_path):
    settings.VOICE_ROUTE = "pyworld"
    assert any(
        "VOICE_ROUTE" in problem and "pyworld" in problem for problem in check_voice_settings(settings)
    )

    settings.VOICE_ROUTE = "knnvc"
    for name in ("VOICE_DEMUCS_DIR", "VOICE_DEMUCS_MODEL", "VOICE_WAVLM_DIR", "VOICE_VOCODER_PATH"):
        setattr(settings, name, voice_settings[name])
    assert check_voice_settings(settings) == []

    missing = tmp_path / "no-such-wavlm"
    settings.VOICE_WAVLM_DIR = str(missing)
    settings.VOICE_VOCODER_PATH = ""
    problems = check_voice_settings(settings)
    assert any(
        "VOICE_WAVLM_DIR" in p and str(missing) in p and "not an existing directory" in p for p in problems
    )
    assert any("VOICE_VOCODER_PATH" in p and "empty" in p for p in problems)

    settings.VOICE_WAVLM_DIR = voice_settings["VOICE_WAVLM_DIR"]
    settings.VOICE_VOCODER_PATH = voice_settings["VOICE_VOCODER_PATH"]
    settings.VOICE_DEMUCS_MODEL = "htdemucs_ft"
    assert any("VOICE_DEMUCS_MODEL" in p and "htdemucs_ft" in p for p in check_voice_settings(settings))


@pytest.fixture
def fresh_stage_cache():
    saved = stage_module._stage, stage_module._stage_key
    stage_module._stage = stage_module._stage_key = None
    yield
    stage_module._stage, stage_module._stage_key = saved


def test_route_none_gives_no_stage_and_knnvc_loads_one_per_process(
    settings, voice_settings, fresh_stage_cache
):
    settings.VOICE_ROUTE = "none"
    settings.VOICE_DEMUCS_DIR = ""
    assert get_voice_stage() is None

    settings.VOICE_ROUTE = "knnvc"
    with pytest.raises(ImproperlyConfigured, match="VOICE_DEMUCS_DIR"):
        get_voice_stage()

    for name in ("VOICE_DEMUCS_DIR", "VOICE_DEMUCS_MODEL", "VOICE_WAVLM_DIR", "VOICE_VOCODER_PATH"):
        setattr(settings, name, voice_settings[name])
    stage = get_voice_stage()
    assert isinstance(stage, VoiceStage)
    assert get_voice_stage() is stage


def test_build_command_refuses_to_overwrite(voice_settings, tmp_path):
    built = voice_settings["VOICE_WAVLM_DIR"].rsplit("/", 1)[0]
    with pytest.raises(CommandError, match="--force"):
        call_command("build_voice_models", "--output", built)
    (tmp_path / "keep.txt").write_text("not a model")
    with pytest.raises(CommandError, match="not empty"):
        call_command("build_voice_models", "--output", str(tmp_path), "--force")
    assert (tmp_path / "keep.txt").exists()
