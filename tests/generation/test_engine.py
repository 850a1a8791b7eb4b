"""The generation engine on a real (tiny, random-weight) LTX-2 model: no mocks."""

import io
import json
import subprocess
import sys

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from generation import media
from generation.engine import (
    MARKER_FILE,
    PROFILES,
    GenerationCancelled,
    GenerationRequest,
    Progress,
    Shot,
    get_capabilities,
    get_engine,
    is_tiny_model,
)

TINY = get_capabilities("tiny")


def one_shot(prompt="a red fox runs through snow", seconds=1, orientation="portrait", seed=7, **fields):
    return GenerationRequest(shots=[Shot(prompt, seconds)], orientation=orientation, seed=seed, **fields)


def test_engine_package_imports_without_torch():
    code = (
        "import sys, generation.engine, generation.media;"
        "heavy = {'torch', 'diffusers', 'transformers'} & set(sys.modules);"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_profiles_offer_sizes_the_vae_can_generate(profile):
    caps = PROFILES[profile]
    for orientation, (width, height) in caps.sizes.items():
        assert width % 32 == 0 and height % 32 == 0
        out_width, out_height = caps.output_sizes[orientation]
        assert (out_width > out_height) == (width > height)
    assert caps.sizes["portrait"][0] < caps.sizes["portrait"][1]
    assert max(caps.durations) <= caps.max_total_seconds


@pytest.mark.parametrize("seconds", [0.5, 1, 2, 4, 5, 12])
def test_num_frames_is_8k_plus_1_covering_the_duration(seconds):
    frames = TINY.num_frames(seconds)
    assert (frames - 1) % 8 == 0
    assert frames / TINY.fps >= seconds
    assert (frames - 8) / TINY.fps < seconds


def test_num_frames_known_values():
    assert TINY.num_frames(2) == 49
    assert TINY.num_frames(5) == 121  # LTX's classic 5 s clip


def test_unknown_profile_names_the_known_ones():
    with pytest.raises(KeyError, match="tiny"):
        get_capabilities("sora-9000")


def test_tiny_model_builds_offline_and_reloads_with_from_pretrained(tiny_model_dir):
    from diffusers import LTX2Pipeline

    assert is_tiny_model(tiny_model_dir)
    assert json.loads((tiny_model_dir / MARKER_FILE).read_text())["profile"] == "tiny"
    pipe = LTX2Pipeline.from_pretrained(tiny_model_dir)
    assert (pipe.vae_spatial_compression_ratio, pipe.vae_temporal_compression_ratio) == (32, 8)
    assert pipe.vocoder.config.output_sampling_rate == 24000
    assert pipe.transformer.config.caption_channels == pipe.text_encoder.config.text_config.hidden_size


def test_generate_portrait_gives_frames_and_audio_of_the_same_length(tiny_engine):
    output = tiny_engine.generate(one_shot(seconds=2))

    assert output.frames.dtype == np.uint8
    assert output.frames.shape == (49, 320, 192, 3)
    assert output.audio.dtype == np.float32
    assert output.audio.shape == (2, 49 * 24000 // 24)
    assert output.sample_rate == 24000 and output.fps == 24
    assert np.isfinite(output.audio).all()
    assert output.timings["pipeline_s"] > 0


def test_generate_landscape(tiny_engine):
    output = tiny_engine.generate(one_shot(orientation="landscape"))
    assert output.frames.shape == (25, 192, 320, 3)


def test_same_seed_is_bit_identical_and_another_seed_differs(tiny_engine):
    first = tiny_engine.generate(one_shot(seed=11))
    again = tiny_engine.generate(one_shot(seed=11))
    other = tiny_engine.generate(one_shot(seed=12))

    assert np.array_equal(first.frames, again.frames)
    assert np.array_equal(first.audio, again.audio)
    assert not np.array_equal(first.frames, other.frames)
    assert not np.array_equal(first.audio, other.audio)


def test_storyboard_is_one_video_with_continuous_exact_audio(tiny_engine):
    shots = [Shot("a city at dawn", 1), Shot("the same city at noon", 2), Shot("and at night", 1)]
    output = tiny_engine.generate(
        GenerationRequest(shots=shots, orientation="portrait", seed=5, storyboard_mode="sequential")
    )

    assert output.storyboard_mode == "sequential" and output.cuts == [25, 25 + 49]
    assert output.frames.shape[0] == 25 + 49 + 25
    assert output.audio.shape[1] == output.frames.shape[0] * output.sample_rate // output.fps
    assert np.isfinite(output.audio).all()
    # The first shot is exactly what a plain prompt with the same seed renders, so the storyboard
    # shares the seed and its audio starts on the first frame; the fade only touches the cut.
    plain = tiny_engine.generate(GenerationRequest(shots=[shots[0]], orientation="portrait", seed=5))
    assert np.array_equal(output.frames[:25], plain.frames)
    assert np.array_equal(output.audio[:, :24000], plain.audio[:, :24000])


def test_storyboard_shot_continues_from_the_previous_shots_last_frame(tiny_engine):
    second = Shot("the lights go out", 1)
    calm = tiny_engine.generate(
        GenerationRequest([Shot("a calm lake", 1), second], "portrait", seed=5, storyboard_mode="sequential")
    )
    storm = tiny_engine.generate(
        GenerationRequest([Shot("a stormy sea", 1), second], "portrait", seed=5, storyboard_mode="sequential")
    )

    # Same prompt and seed for shot 2: it can only differ because it starts from a different frame.
    assert not np.array_equal(calm.frames[:25], storm.frames[:25])
    assert not np.array_equal(calm.frames[25:], storm.frames[25:])


def test_condition_image_of_any_aspect_steers_the_video(tiny_engine):
    red = tiny_engine.generate(one_shot(condition_image=Image.new("RGB", (640, 360), "red")))
    blue = tiny_engine.generate(one_shot(condition_image=Image.new("RGB", (300, 900), "blue")))

    assert red.frames.shape == blue.frames.shape == (25, 320, 192, 3)
    assert not np.array_equal(red.frames, blue.frames)


def test_progress_reports_every_step_and_a_preview_jpeg(tiny_engine):
    seen: list[Progress] = []
    shots = [Shot("a", 1), Shot("b", 1)]
    request = GenerationRequest(shots, "landscape", seed=1, steps=4, storyboard_mode="sequential")
    tiny_engine.generate(request, on_progress=seen.append)

    generating = [(p.shot, p.step) for p in seen if p.stage == "generating"]
    assert generating == [(0, 1), (0, 2), (0, 3), (0, 4), (1, 1), (1, 2), (1, 3), (1, 4)]
    assert [p.shot for p in seen if p.stage == "decoding"] == [0, 1]
    assert all(p.shots == 2 and p.total_steps == 4 for p in seen)
    previews = [p for p in seen if p.preview_jpeg]
    assert {p.shot for p in previews} == {0, 1}
    image = Image.open(io.BytesIO(previews[0].preview_jpeg))
    assert image.format == "JPEG" and max(image.size) <= 256
    assert image.size[0] > image.size[1]  # landscape
    assert seen[-1].fraction == 1.0


def test_should_cancel_stops_generation_at_once_and_engine_stays_usable(tiny_engine):
    seen = []

    def cancel_after_two_steps():
        return len([p for p in seen if p.stage == "generating"]) >= 2

    with pytest.raises(GenerationCancelled):
        tiny_engine.generate(one_shot(), on_progress=seen.append, should_cancel=cancel_after_two_steps)

    assert [p.step for p in seen] == [1, 2]
    assert tiny_engine.generate(one_shot()).frames.shape[0] == 25


def test_invalid_requests_are_refused(tiny_engine):
    with pytest.raises(ValueError, match="orientation"):
        tiny_engine.generate(one_shot(orientation="square"))
    with pytest.raises(ValueError, match="shots"):
        tiny_engine.generate(GenerationRequest([Shot("x", 1)] * 7, "portrait", seed=1))
    with pytest.raises(ValueError, match="in total"):
        tiny_engine.generate(GenerationRequest([Shot("x", 2)] * 5, "portrait", seed=1))


def test_get_engine_is_one_engine_per_setting(tiny_model_dir):
    engine = get_engine(str(tiny_model_dir), "tiny")
    assert get_engine(str(tiny_model_dir), "tiny") is engine
    assert get_engine(str(tiny_model_dir), "tiny", vae_tiling=True) is not engine
    assert engine.capabilities is TINY


def test_generated_video_writes_to_an_mp4_that_probes_back(tiny_engine, tmp_path):
    output = tiny_engine.generate(one_shot(seconds=2))
    path = tmp_path / "clip.mp4"
    media.write_mp4(path, output.frames, output.fps, output.audio, output.sample_rate)

    info = media.probe(path)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert (info.width, info.height, info.frames) == (192, 320, 49)
    assert abs(info.audio_seconds - info.video_seconds) < 1 / output.fps


def test_build_tiny_model_command_prints_path_and_needs_force_to_rebuild(tmp_path):
    out = io.StringIO()
    target = tmp_path / "model"
    call_command("build_tiny_model", str(target), stdout=out)
    assert out.getvalue().strip() == str(target.resolve())
    assert is_tiny_model(target)

    with pytest.raises(CommandError, match="--force"):
        call_command("build_tiny_model", str(target), stdout=io.StringIO())
    call_command("build_tiny_model", str(target), "--force", stdout=io.StringIO())
    assert is_tiny_model(target)


def test_build_tiny_model_command_never_deletes_other_directories(tmp_path):
    (tmp_path / "precious.safetensors").write_text("real weights")
    with pytest.raises(CommandError, match="not"):
        call_command("build_tiny_model", str(tmp_path), "--force", stdout=io.StringIO())
    assert (tmp_path / "precious.safetensors").exists()
