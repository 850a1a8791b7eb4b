"""Route 1 of cameo voice: reference-audio conditioning of LTX-2 with an ID-LoRA, on the tiny model.

Everything runs for real: the tiny random LTX-2, a tiny random LoRA in the published ID-LoRA key
format loaded by diffusers' LoRA loader, and the engine. Transformer passes are counted with a
forward hook on its input projection (it runs once per pass), not by replacing anything.
"""

import dataclasses
import hashlib
import io
import os
import shutil

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from generation.engine import (
    Engine,
    GenerationRequest,
    Shot,
    build_tiny_id_lora,
    file_sha256,
    get_capabilities,
    get_engine,
)

TINY = get_capabilities("tiny")
# The tiny profile at its smallest frame size: what these tests check doesn't depend on the size.
SMALL_TINY = dataclasses.replace(TINY, sizes={"portrait": (64, 96)}, output_sizes={"portrait": (64, 96)})
SAMPLE_RATE = 16_000
# Smallest clip the pipeline makes: 9 frames of 64x64 (2x2 latent patches, 9 audio tokens).
SMALL = dict(
    height=64, width=64, num_frames=9, frame_rate=24.0, num_inference_steps=2, max_sequence_length=64
)
GUIDANCE_OFF = dict(
    guidance_scale=1.0,
    audio_guidance_scale=1.0,
    stg_scale=0.0,
    audio_stg_scale=0.0,
    modality_scale=1.0,
    audio_modality_scale=1.0,
    guidance_rescale=0.0,
    audio_guidance_rescale=0.0,
    spatio_temporal_guidance_blocks=None,
)


def synthetic_voice(f0: float, formants: tuple[float, ...], seconds: float = 2.0) -> np.ndarray:
    """A voiced, vowel-like signal: a glottal pulse train at ``f0`` through formant resonators,
    in syllable-long bursts. Two calls with different pitch and formants sound like two speakers."""
    from scipy.signal import lfilter

    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    source = np.zeros(n)
    source[(np.arange(0, seconds, 1 / f0) * SAMPLE_RATE).astype(int)] = 1.0
    signal = source
    for formant in formants:
        radius = np.exp(-np.pi * 90 / SAMPLE_RATE)
        theta = 2 * np.pi * formant / SAMPLE_RATE
        signal = lfilter([1 - radius], [1, -2 * radius * np.cos(theta), radius**2], signal)
    syllables = np.clip(np.sin(2 * np.pi * 3.0 * t), 0, None) ** 0.5
    signal = signal * syllables
    return (0.5 * signal / np.abs(signal).max()).astype(np.float32)


@pytest.fixture(scope="module")
def voices():
    """Two different voices, 2 s of mono 16 kHz each: flite's rms and slt when flite and sox are
    installed, else two synthetic speakers (a low male-like and a high female-like vowel)."""
    if shutil.which("flite") and shutil.which("sox"):
        from tests.media_factory import speech_samples

        text = "The quick brown fox jumps over the lazy dog."
        return [speech_samples(text, voice, SAMPLE_RATE)[: 2 * SAMPLE_RATE] for voice in ("rms", "slt")]
    return [synthetic_voice(105, (700, 1220, 2600)), synthetic_voice(220, (300, 2300, 3000))]


@pytest.fixture(scope="module")
def id_lora(tiny_model, tmp_path_factory):
    return build_tiny_id_lora(tiny_model, tmp_path_factory.mktemp("id-lora") / "tiny-id-lora.safetensors")


@pytest.fixture(scope="module")
def reference_pipe(tiny_model, id_lora):
    """The reference pipeline on the tiny model with the tiny ID-LoRA, and the linears it wrapped."""
    import torch
    from diffusers import LTX2Pipeline

    from generation.engine.reference_audio import LTX2ReferenceAudioPipeline, load_id_lora

    base = LTX2Pipeline.from_pretrained(tiny_model, dtype=torch.float32)
    wrapped = load_id_lora(base, id_lora)
    pipe = LTX2ReferenceAudioPipeline.from_pipe(base)
    pipe.set_progress_bar_config(disable=True)
    return pipe, wrapped


@pytest.fixture
def count_passes(reference_pipe):
    """A list that gets one entry per transformer forward pass while the test runs."""
    pipe, _ = reference_pipe
    passes = []
    handle = pipe.transformer.proj_in.register_forward_hook(lambda *args: passes.append(1))
    yield passes
    handle.remove()


@pytest.fixture
def audio_latents(reference_pipe):
    """The audio latents each call hands to the audio VAE decoder, recorded as they pass."""
    pipe, _ = reference_pipe
    seen = []
    handle = pipe.audio_vae.decoder.register_forward_pre_hook(
        lambda module, args: seen.append(args[0].clone())
    )
    yield seen
    handle.remove()


def render(pipe, reference, scale=0.0, seed=1, **overrides):
    """Audio waveform (channels, samples) of one small image-to-video call."""
    import torch

    out = pipe(
        image=Image.new("RGB", (64, 64), (180, 120, 90)),
        prompt="a person says hello",
        output_type="pt",
        generator=torch.Generator().manual_seed(seed),
        reference_audio=reference,
        identity_guidance_scale=scale,
        **{**SMALL, **GUIDANCE_OFF, **overrides},
    )
    return out.audio[0].numpy()


def test_id_lora_in_the_published_key_format_wraps_18_linears_per_block(reference_pipe, id_lora):
    from safetensors import safe_open

    from generation.engine.reference_audio import count_id_lora_layers

    pipe, wrapped = reference_pipe
    blocks = pipe.transformer.config.num_layers
    assert wrapped == blocks * 18 == 36
    assert count_id_lora_layers(pipe.transformer) == wrapped
    with safe_open(str(id_lora), "pt") as fh:
        keys = list(fh.keys())
    assert len(keys) == 2 * wrapped
    assert all(key.startswith("diffusion_model.transformer_blocks.") for key in keys)
    assert "diffusion_model.transformer_blocks.1.video_to_audio_attn.to_out.0.lora_B.weight" in keys
    assert "diffusion_model.transformer_blocks.0.audio_ff.net.0.proj.lora_A.weight" in keys


def test_a_lora_for_other_layers_or_a_missing_file_is_refused(tiny_model, tmp_path):
    import torch
    from diffusers import LTX2Pipeline

    from generation.engine.reference_audio import load_id_lora
    from generation.engine.tiny_voice import write_random_lora

    pipe = LTX2Pipeline.from_pretrained(tiny_model, dtype=torch.float32)
    elsewhere = tmp_path / "48-block.safetensors"  # the tiny model has 2 blocks
    write_random_lora(elsewhere, {"transformer_blocks.40.audio_attn1.to_q": (16, 16)})

    with pytest.raises(ValueError, match="48-block.safetensors is not an LTX-2 ID-LoRA"):
        load_id_lora(pipe, elsewhere)
    with pytest.raises(FileNotFoundError, match="ID-LoRA checkpoint not found"):
        Engine(str(tiny_model), TINY, id_lora=str(tmp_path / "missing.safetensors")).load()


def test_generated_audio_follows_the_reference_and_repeats_for_the_same_seed(
    reference_pipe, voices, audio_latents
):
    pipe, _ = reference_pipe
    first = render(pipe, voices[0], scale=2.0)
    again = render(pipe, voices[0], scale=2.0)
    other = render(pipe, voices[1], scale=2.0)

    assert np.array_equal(first, again)
    assert np.array_equal(audio_latents[0], audio_latents[1])
    assert not np.array_equal(first, other)
    # A real change, not float noise (same-seed runs are bit-identical, and rounding differences
    # would be ~1e-7 of the latents' spread); random tiny weights keep the effect small, and the
    # tiny vocoder's waveform reacts to its input even less, so it is checked on what it is fed.
    spread = audio_latents[0].std().item()
    assert (audio_latents[0] - audio_latents[2]).abs().max().item() > 1e-3 * spread


def test_reference_and_lora_change_the_audio_of_the_plain_image_to_video_call(
    reference_pipe, voices, audio_latents
):
    pipe, _ = reference_pipe
    plain = render(pipe, None)
    with_voice = render(pipe, voices[0])

    assert not np.array_equal(plain, with_voice)
    assert not np.array_equal(audio_latents[0], audio_latents[1])


def test_identity_guidance_pass_runs_only_when_its_scale_is_positive(reference_pipe, voices, count_passes):
    pipe, _ = reference_pipe
    without = render(pipe, voices[0], scale=0.0)
    assert len(count_passes) == 2  # one pass per step

    count_passes.clear()
    guided = render(pipe, voices[0], scale=3.0)
    assert len(count_passes) == 4  # plus one pass without the reference per step
    assert not np.array_equal(without, guided)

    # With classifier-free guidance the [negative, positive] batch is one pass; the extra pass
    # (positive prompt only) still comes on top of it, once per step.
    count_passes.clear()
    render(pipe, voices[0], scale=3.0, guidance_scale=3.0, audio_guidance_scale=7.0)
    assert len(count_passes) == 4


def test_a_failed_reference_call_leaves_the_shared_transformer_as_it_was(reference_pipe, voices):
    pipe, _ = reference_pipe
    transformer = pipe.transformer

    with pytest.raises(ValueError, match="divisible by 32"):
        render(pipe, voices[0], scale=3.0, height=50)

    assert "forward" not in vars(transformer)
    lora_layers = [m for m in transformer.modules() if hasattr(m, "lora_A") and "id_lora" in m.lora_A]
    assert lora_layers and all(layer.disable_adapters for layer in lora_layers)


def test_reference_tokens_sit_just_before_the_clip_starts(reference_pipe):
    pipe, _ = reference_pipe
    coords = pipe.reference_audio_coords(50, "cpu")  # 2 s of reference at 25 tokens/s

    assert coords.shape == (1, 1, 50, 2)
    starts, ends = coords[0, 0, :, 0], coords[0, 0, :, 1]
    assert (ends <= -0.04 + 1e-6).all() and abs(ends.max().item() + 0.04) < 1e-6  # one latent frame before 0
    assert (starts[1:] > starts[:-1]).all()
    assert abs((ends[-1] - ends[-2]).item() - 0.04) < 1e-6


def test_reference_mel_is_the_slaney_log_mel_ltx2_expects(voices):
    import librosa
    import torch

    from generation.engine.reference_audio import log_mel_spectrogram

    waveform = voices[0]
    ours = log_mel_spectrogram(torch.from_numpy(waveform)[None, None], SAMPLE_RATE, 64, 160)[0, 0].numpy()
    magnitude = librosa.feature.melspectrogram(
        y=waveform,
        sr=SAMPLE_RATE,
        n_fft=1024,
        hop_length=160,
        n_mels=64,
        power=1.0,
        center=True,
        pad_mode="reflect",
    )
    reference = np.log(np.maximum(magnitude, 1e-5)).T

    assert ours.shape == reference.shape == (len(waveform) // 160 + 1, 64)
    assert np.abs(ours - reference).max() < 1e-3


@pytest.mark.parametrize(
    ("audio", "message"),
    [
        (np.zeros((2, 32000), np.float32), "mono"),
        (np.ones(4000, np.float32) * 0.1, "at least"),
        (np.full(16000, np.nan, np.float32), "NaN"),
        (np.zeros(16000, np.float32), "silent"),
    ],
)
def test_unusable_reference_audio_is_refused_with_a_clear_error(audio, message):
    from generation.engine.reference_audio import as_reference_waveform

    with pytest.raises(ValueError, match=message):
        as_reference_waveform(audio)


# --- The engine -------------------------------------------------------------------------------


# 0.25 s is the engine's shortest clip: 9 frames (one latent frame after the first).
CLIP_SECONDS = 0.25
CLIP_SAMPLES = 24000 * 9 // 24


def voiced_request(voice, **fields):
    fields.setdefault("shots", [Shot("a person says hello", CLIP_SECONDS)])
    fields.setdefault("condition_image", Image.new("RGB", (300, 500), (180, 120, 90)))
    return GenerationRequest(orientation="portrait", seed=3, steps=2, reference_voice=voice, **fields)


@pytest.fixture(scope="module")
def voice_engine(tiny_model, id_lora):
    engine = Engine(str(tiny_model), SMALL_TINY, id_lora=str(id_lora), identity_scale=2.0)
    engine.load()
    return engine


@pytest.fixture(scope="module")
def plain_engine(tiny_model):
    engine = Engine(str(tiny_model), SMALL_TINY)
    engine.load()
    return engine


def test_engine_records_which_id_lora_voiced_the_clip(voice_engine, plain_engine, voices, id_lora):
    output = voice_engine.generate(voiced_request(voices[0]))
    plain = plain_engine.generate(voiced_request(voices[0]))

    assert voice_engine.id_lora_layers == 36
    assert output.voice == {
        "route": "idlora",
        "checkpoint": id_lora.name,
        "checkpoint_sha256": hashlib.sha256(id_lora.read_bytes()).hexdigest(),
        "identity_scale": 2.0,
    }
    assert output.audio.shape == plain.audio.shape == (2, CLIP_SAMPLES)
    assert not np.array_equal(output.audio, plain.audio)
    # An engine without the LoRA ignores the voice: nothing claims a voice it didn't make.
    assert plain.voice is None


def test_engine_without_reference_voice_renders_exactly_what_the_plain_engine_does(
    voice_engine, plain_engine
):
    request = voiced_request(None)
    output = voice_engine.generate(request)
    plain = plain_engine.generate(request)

    assert output.voice is None
    assert np.array_equal(output.frames, plain.frames)
    assert np.array_equal(output.audio, plain.audio)


def test_reference_voice_without_a_condition_image_is_not_used(voice_engine, plain_engine, voices):
    request = voiced_request(voices[0], condition_image=None)
    output = voice_engine.generate(request)

    assert output.voice is None
    assert np.array_equal(output.audio, plain_engine.generate(request).audio)


def test_every_shot_of_a_storyboard_gets_the_voice(voice_engine, voices):
    shots = [Shot("she says hello", CLIP_SECONDS), Shot("she says goodbye", CLIP_SECONDS)]
    first = voice_engine.generate(voiced_request(voices[0], shots=shots))
    second = voice_engine.generate(voiced_request(voices[1], shots=shots))

    assert first.voice is not None and first.voice == second.voice
    assert first.audio.shape == (2, 2 * CLIP_SAMPLES)
    # Each shot's audio differs with the voice, the second shot's too (it is conditioned on the
    # first shot's last frame, and still on the cameo's voice).
    assert not np.array_equal(first.audio[:, :CLIP_SAMPLES], second.audio[:, :CLIP_SAMPLES])
    assert not np.array_equal(first.audio[:, CLIP_SAMPLES:], second.audio[:, CLIP_SAMPLES:])


def test_engine_refuses_an_unusable_reference_voice_before_rendering(voice_engine):
    stereo = np.zeros((2, 32000), np.float32)
    with pytest.raises(ValueError, match="mono"):
        voice_engine.generate(voiced_request(stereo))


def test_get_engine_keys_on_the_id_lora_and_its_scale(tiny_model, id_lora):
    plain = get_engine(str(tiny_model), "tiny")
    voiced = get_engine(str(tiny_model), "tiny", id_lora=str(id_lora), identity_scale=3.0)

    assert voiced is not plain
    assert get_engine(str(tiny_model), "tiny", id_lora=str(id_lora), identity_scale=3.0) is voiced
    assert get_engine(str(tiny_model), "tiny", id_lora=str(id_lora), identity_scale=1.0) is not voiced
    assert (voiced.id_lora, voiced.identity_scale) == (str(id_lora), 3.0)


def test_file_sha256_matches_hashlib_and_notices_a_replaced_file(tmp_path):
    path = tmp_path / "weights.safetensors"
    path.write_bytes(b"first version")
    assert file_sha256(path) == hashlib.sha256(b"first version").hexdigest()

    path.write_bytes(b"second version, same name")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert file_sha256(path) == hashlib.sha256(b"second version, same name").hexdigest()
    with pytest.raises(FileNotFoundError):
        file_sha256(tmp_path / "missing.safetensors")


def test_build_tiny_id_lora_command_writes_a_loadable_lora_and_needs_force(tiny_model, tmp_path):
    from safetensors import safe_open

    target = tmp_path / "lora.safetensors"
    out = io.StringIO()
    call_command("build_tiny_id_lora", "--output", str(target), "--model", str(tiny_model), stdout=out)

    assert out.getvalue().strip() == str(target.resolve())
    with safe_open(str(target), "pt") as fh:
        assert len(list(fh.keys())) == 72
    with pytest.raises(CommandError, match="--force"):
        call_command("build_tiny_id_lora", "--output", str(target), "--model", str(tiny_model))
    call_command(
        "build_tiny_id_lora", "--output", str(target), "--model", str(tiny_model), "--force", stdout=out
    )
    with pytest.raises(CommandError, match="not a tiny model"):
        call_command(
            "build_tiny_id_lora", "--output", str(tmp_path / "x.safetensors"), "--model", str(tmp_path)
        )
