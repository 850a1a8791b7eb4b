"""Regenerating a range of an existing video (see :class:`~generation.engine.request.Retake`)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from .conditioning import RetakeWindow, retake_conditions, retake_window
from .denoise import RenderJob, ShotPass, run_pass
from .postprocess import (
    CUT_FADE_SECONDS,
    finish_timings,
    fit_length,
    join_with_fades,
    resample,
    to_output_frames,
)
from .request import GenerationOutput, Retake

if TYPE_CHECKING:
    from .pipeline import Engine


def render_retake(engine: Engine, job: RenderJob) -> GenerationOutput:
    """Regenerate ``job.request.retake``'s range from ``job.request.shots[0].prompt``.

    One condition-pipeline pass over a window: up to ``RETAKE_CONTEXT_FRAMES`` source frames
    before the range (a condition at latent index 0), the range itself, then up to as many
    frames after it (a keyframe condition where the range ends) plus 7 free frames that make
    the window's length 8k+1. The range's new frames and sound replace the old; everything
    else is the source's, and the sound is faded over a few milliseconds at both joints.
    """
    caps = engine.capabilities
    request = job.request
    retake = request.retake
    source = retake.frames
    width, height = caps.sizes[request.orientation]
    window = retake_window(retake, caps.fps)
    spec = ShotPass(
        prompt=request.shots[0].prompt,
        num_frames=window.num_frames,
        width=width,
        height=height,
        conditions=retake_conditions(source, window),
    )
    video, audio, shot_timings = run_pass(engine, job, spec)
    job.timings.update(shot_timings)
    post_started = time.perf_counter()
    middle = to_output_frames(
        video[window.before : window.before + window.length], source.shape[2], source.shape[1]
    )
    del video
    frames = np.concatenate([source[: window.first], middle, source[window.end :]])
    sample_rate = engine.sample_rate
    parts = _spliced_audio(retake, audio, window, sample_rate, caps.fps)
    job.timings["postprocess_s"] = time.perf_counter() - post_started
    finish_timings(job.timings, job.started)
    return GenerationOutput(
        frames=frames,
        audio=join_with_fades(parts, round(CUT_FADE_SECONDS * sample_rate)),
        sample_rate=sample_rate,
        fps=caps.fps,
        timings=job.timings,
        cuts=[cut for cut in (window.first, window.end) if 0 < cut < len(source)],
    )


def _spliced_audio(
    retake: Retake, audio: np.ndarray, window: RetakeWindow, sample_rate: int, fps: int
) -> list[np.ndarray]:
    """The source's sound before the range, the pass's sound of the range, the source's after it."""
    old_audio = resample(retake.audio, retake.sample_rate, sample_rate)
    old_audio = fit_length(old_audio, round(len(retake.frames) * sample_rate / fps))
    cut_in, cut_out = round(window.first * sample_rate / fps), round(window.end * sample_rate / fps)
    new_audio = fit_length(audio[:, round(window.before * sample_rate / fps) :], cut_out - cut_in)
    return [part for part in (old_audio[:, :cut_in], new_audio, old_audio[:, cut_out:]) if part.shape[1]]
