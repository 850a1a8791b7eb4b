"""Rendering a request's shots: shot by shot (each continuing from the last frame of the one
before), or a whole storyboard in one joint pass (see :mod:`.storyboard`).

A single prompt is the one-shot case of the shot-by-shot renderer.
"""

from __future__ import annotations

import itertools
import time
from typing import TYPE_CHECKING

import numpy as np

from .conditioning import continuation
from .denoise import RenderJob, ShotPass, run_pass
from .postprocess import (
    CUT_FADE_SECONDS,
    finish_timings,
    fit_length,
    join_with_fades,
    last_frame_image,
    to_output_frames,
)
from .request import GenerationCancelled, GenerationOutput

if TYPE_CHECKING:
    from .pipeline import Engine


def render_one_pass(engine: Engine, job: RenderJob) -> GenerationOutput:
    """One joint denoising of the whole storyboard (see :mod:`.storyboard`)."""
    from .storyboard import frame_cuts

    caps = engine.capabilities
    request = job.request
    width, height = caps.sizes[request.orientation]
    out_width, out_height = caps.output_sizes[request.orientation]
    sample_rate = engine.sample_rate
    conditions, skip = continuation(request)
    shot_ends = list(itertools.accumulate(float(shot.seconds) for shot in request.shots))
    # The pass starts with the source's frames when it continues one: every shot shifts by them.
    ends = [skip / caps.fps + end for end in shot_ends]
    pass_frames = caps.num_frames(shot_ends[-1]) + max(skip - 1, 0)
    spec = ShotPass(
        prompt=[shot.prompt for shot in request.shots],
        num_frames=pass_frames,
        width=width,
        height=height,
        image=request.condition_image,
        ends=ends,
        conditions=conditions,
    )
    video, audio, shot_timings = run_pass(engine, job, spec)
    job.timings.update(shot_timings)
    post_started = time.perf_counter()
    frames = to_output_frames(video[skip:], out_width, out_height)
    del video
    audio = audio[:, round(skip * sample_rate / caps.fps) :]
    audio = fit_length(audio, round(len(frames) * sample_rate / caps.fps)).astype(np.float32)
    job.timings["postprocess_s"] = time.perf_counter() - post_started
    finish_timings(job.timings, job.started)
    return GenerationOutput(
        frames=frames,
        audio=np.ascontiguousarray(audio),
        sample_rate=sample_rate,
        fps=caps.fps,
        timings=job.timings,
        storyboard_mode="one_pass",
        # Measured over the delivered frames plus skip - 1 (as it always was): one latent frame
        # short of the pass when it continues a source, which only the last latent frame notices.
        cuts=[
            cut - skip
            for cut in frame_cuts(
                engine.pipelines.text.transformer, len(frames) + max(skip - 1, 0), float(caps.fps), ends
            )
        ],
    )


def render_sequential(engine: Engine, job: RenderJob) -> GenerationOutput:
    """Every shot in its own pass, with the request's seed. Shot k>0 starts from the last frame of
    shot k-1 (at generation size); each shot's audio is padded to its exact frame duration and the
    tracks are joined with a few-millisecond fade at each cut."""
    caps = engine.capabilities
    out_width, out_height = caps.output_sizes[job.request.orientation]
    sample_rate = engine.sample_rate
    video_parts: list[np.ndarray] = []
    audio_parts: list[np.ndarray] = []
    condition = job.request.condition_image
    frames_so_far = 0
    for index in range(len(job.request.shots)):
        if job.cancelled():
            raise GenerationCancelled
        video, audio = _render_shot(engine, job, index, condition)
        post_started = time.perf_counter()
        # The next shot continues from this one's last frame, taken at generation size.
        condition = last_frame_image(video)
        video_parts.append(to_output_frames(video, out_width, out_height))
        del video
        # Cut points are computed from the running frame total, so rounding never accumulates
        # and the whole track is exactly total_frames / fps long.
        start = round(frames_so_far * sample_rate / caps.fps)
        frames_so_far += len(video_parts[-1])
        end = round(frames_so_far * sample_rate / caps.fps)
        audio_parts.append(fit_length(audio, end - start))
        job.timings["postprocess_s"] = (
            job.timings.get("postprocess_s", 0.0) + time.perf_counter() - post_started
        )
    finish_timings(job.timings, job.started)
    return GenerationOutput(
        frames=np.concatenate(video_parts) if len(video_parts) > 1 else video_parts[0],
        audio=join_with_fades(audio_parts, round(CUT_FADE_SECONDS * sample_rate)),
        sample_rate=sample_rate,
        fps=caps.fps,
        timings=job.timings,
        voice=engine.voice_record() if job.reference_voice is not None else None,
        cuts=list(itertools.accumulate(len(part) for part in video_parts[:-1])),
    )


def _render_shot(engine: Engine, job: RenderJob, index: int, condition):
    """Shot ``index``'s (video on device, audio), without the continued source's frames; adds its
    timings to the job's, per shot and summed."""
    caps = engine.capabilities
    shot = job.request.shots[index]
    width, height = caps.sizes[job.request.orientation]
    num_frames = caps.num_frames(shot.seconds)
    # Only the first shot continues a source video; later ones continue the previous shot.
    conditions, skip = continuation(job.request) if index == 0 else (None, 0)
    spec = ShotPass(
        prompt=shot.prompt,
        num_frames=num_frames + max(skip - 1, 0),
        width=width,
        height=height,
        index=index,
        shots=len(job.request.shots),
        image=condition,
        reference_voice=job.reference_voice if conditions is None else None,
        conditions=conditions,
    )
    video, audio, shot_timings = run_pass(engine, job, spec)
    if skip:
        video = video[skip:]
        audio = audio[:, round(skip * engine.sample_rate / caps.fps) :]
    for key, value in shot_timings.items():
        job.timings[f"shot{index}_{key}"] = value
        job.timings[key] = job.timings.get(key, 0.0) + value
    return video, audio
