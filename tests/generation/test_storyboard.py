"""A storyboard in one pass on the tiny model: the shot mask, lengths, determinism, prompt locality."""

import numpy as np
import pytest

from generation.engine import GenerationRequest, Shot

STEPS = 2  # enough for the shot mask to shape the result; keeps each render to a few seconds


def storyboard(second="a red car drives through rain", *, seed=5, **fields):
    shots = [Shot("a calm lake at dawn, birdsong", 1), Shot(second, 1)]
    return GenerationRequest(shots, "portrait", seed=seed, steps=STEPS, storyboard_mode="one_pass", **fields)


@pytest.fixture(scope="module")
def one_pass(tiny_engine):
    return tiny_engine.generate(storyboard())


def test_video_and_audio_tokens_of_shot_k_see_only_prompt_k(tiny_engine):
    import torch

    from generation.engine.storyboard import shot_cross_attention_bias

    transformer = tiny_engine._pipe.transformer
    ends = [1.0, 3.0, 4.0]  # shots of 1, 2 and 1 s
    per_shot = 6
    text_mask = torch.ones(1, 3 * per_shot)
    text_mask[0, [0, 1, per_shot]] = 0  # left padding of prompts 1 and 2
    video = transformer.rope.prepare_video_coords(1, 13, 2, 2, torch.device("cpu"), fps=24.0)
    audio = transformer.audio_rope.prepare_audio_coords(1, 100, torch.device("cpu"))

    for coords in (video, audio):
        allowed = shot_cross_attention_bias(coords, ends, text_mask)[0, 0] == 0  # (tokens, text)
        times = coords[0, 0].mean(dim=-1)
        for token, time in enumerate(times.tolist()):
            shot = 0 if time < 1 else 1 if time < 3 else 2
            expected = torch.zeros(3 * per_shot, dtype=torch.bool)
            expected[shot * per_shot : (shot + 1) * per_shot] = True
            expected &= text_mask[0].bool()
            assert torch.equal(allowed[token], expected), (token, time)


def test_one_pass_has_the_whole_length_in_frames_and_audio(one_pass):
    # 2 s at 24 fps in one pass: the smallest 8k+1 frame count covering it (not 25 + 25).
    assert one_pass.storyboard_mode == "one_pass"
    assert one_pass.frames.shape == (49, 320, 192, 3)
    assert one_pass.audio.shape == (2, 49 * one_pass.sample_rate // one_pass.fps)
    assert np.isfinite(one_pass.audio).all()
    assert one_pass.cuts == [25]  # the first latent frame of the second second


def test_one_pass_is_deterministic(tiny_engine, one_pass):
    again = tiny_engine.generate(storyboard())
    assert np.array_equal(one_pass.frames, again.frames)
    assert np.array_equal(one_pass.audio, again.audio)


def test_changing_shot_two_changes_shot_two_far_more_than_shot_one(tiny_engine, one_pass):
    other = tiny_engine.generate(storyboard("a blue whale sings in deep water"))
    change = np.abs(one_pass.frames.astype(np.float32) - other.frames).mean(axis=(1, 2, 3))
    cut = one_pass.cuts[0]
    # Decoding mixes a few frames either side of a cut; compare the shots away from it.
    first, second = change[: cut - 8].mean(), change[cut + 8 :].mean()
    assert second > 1.8 * first, (first, second)


def test_auto_mode_runs_one_pass_when_it_fits_and_shot_by_shot_beyond(tiny_engine):
    fits = GenerationRequest([Shot("a", 2), Shot("b", 2)], "portrait", seed=1)
    too_long = GenerationRequest([Shot("a", 2), Shot("b", 2), Shot("c", 2)], "portrait", seed=1)
    assert tiny_engine.capabilities.one_pass_seconds == 4
    assert tiny_engine.storyboard_mode(fits) == "one_pass"
    assert tiny_engine.storyboard_mode(too_long) == "sequential"
    assert tiny_engine.storyboard_mode(GenerationRequest([Shot("a", 2)], "portrait", seed=1)) == ""
    too_long.storyboard_mode = "one_pass"
    with pytest.raises(ValueError, match="one pass holds at most 4 s"):
        tiny_engine.generate(too_long)
