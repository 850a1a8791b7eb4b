"""One pipeline pass: pick the pipeline, schedule and guidance, denoise (in one or two stages) and
decode, reporting progress, previews and cancellation from diffusers' step callback.

Every renderer (single shot, storyboard shot by shot or in one pass, retake) is one or more of
these passes; :class:`RenderJob` is what they share, :class:`ShotPass` what differs per pass.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from .postprocess import fit_image, preview_jpeg
from .request import GenerationCancelled, GenerationRequest, Progress

if TYPE_CHECKING:
    from .pipeline import Engine


@dataclass
class RenderJob:
    """One :meth:`Engine.generate` call as the renderers see it (they run under the engine's lock).

    ``timings`` collects every stage's seconds; ``started`` is when the call began (for ``total_s``).
    ``reference_voice`` is the checked mono 16 kHz voice, when the ID-LoRA pipeline is to use it.
    """

    request: GenerationRequest
    steps: int
    report: Callable[[Progress], None]
    cancelled: Callable[[], bool]
    timings: dict[str, float]
    started: float
    reference_voice: np.ndarray | None = None


@dataclass
class ShotPass:
    """What one pass renders: ``num_frames`` frames at ``width`` x ``height``, reported as shot
    ``index`` of ``shots``.

    ``image`` is the first frame (image-to-video); with ``reference_voice`` too, the pass runs
    through the ID-LoRA reference pipeline. ``conditions`` (``LTX2VideoCondition`` list) send it
    through the condition pipeline instead. With ``ends`` (the shots' cumulative end times),
    ``prompt`` is the list of the shots' prompts and the pass renders them all as one storyboard.
    """

    prompt: str | list[str]
    num_frames: int
    width: int
    height: int
    index: int = 0
    shots: int = 1
    image: Image.Image | None = None
    reference_voice: np.ndarray | None = None
    ends: list[float] | None = None
    conditions: list | None = None


def run_pass(engine: Engine, job: RenderJob, spec: ShotPass):
    """Run one pipeline pass. Returns (video float [0,1] (T, 3, H, W) on device, audio, timings)."""
    import torch

    pipe = _choose_pipe(engine, spec)
    schedule = _schedule(engine.settings.distilled, job.steps)
    first_steps = schedule["num_inference_steps"]
    # Two-stage: denoise at half size, upsample the latents 2x, refine them at full size with
    # the distilled stage-2 schedule (3 steps). The ID-LoRA reference pipeline stays one-stage.
    half = (spec.height // 2, spec.width // 2)
    upsample = engine.pipelines.upsample
    two_stage = (
        upsample is not None
        # Text-to-video only: the image and condition pipelines re-apply their conditions to
        # supplied latents in ways not yet checked against the reference two-stage recipe.
        and pipe is engine.pipelines.text
        and all(side % pipe.vae_spatial_compression_ratio == 0 for side in half)
    )
    refine = _refine_sigmas() if two_stage else []
    callback = _StepCallback(
        job,
        spec,
        total_steps=first_steps + len(refine),
        preview_every=_preview_every(engine, first_steps + len(refine)),
        latent_shape=_latent_shape(
            pipe, spec.num_frames, *(half if two_stage else (spec.height, spec.width))
        ),
    )
    kwargs, storyboard = _call_kwargs(engine, pipe, job, spec, schedule, callback)
    call_started = time.perf_counter()
    timings = {}
    with storyboard:
        if two_stage:
            first = pipe(**dict(kwargs, height=half[0], width=half[1], output_type="latent"))
            upsample_started = time.perf_counter()
            timings["stage1_s"] = upsample_started - call_started
            upsampled = _upsample(upsample, first.frames, half, spec.num_frames)
            timings["upsample_s"] = time.perf_counter() - upsample_started
            callback.next_stage(first_steps, _latent_shape(pipe, spec.num_frames, spec.height, spec.width))
            kwargs.update(
                latents=upsampled,
                audio_latents=first.audio,
                sigmas=refine,
                num_inference_steps=len(refine),
                noise_scale=refine[0],
                generator=torch.Generator(device="cpu").manual_seed(job.request.seed + 1),
            )
        output = pipe(**kwargs)
    finished = time.perf_counter()
    denoised_at = callback.denoised_at or finished
    timings.update(
        denoise_s=denoised_at - call_started, decode_s=finished - denoised_at, preview_s=callback.preview_s
    )
    video = output.frames[0]  # (T, 3, H, W) float in [0, 1]
    audio = output.audio[0].float().cpu().numpy().astype(np.float32)
    return video, audio, timings


def _choose_pipe(engine: Engine, spec: ShotPass):
    pipelines = engine.pipelines
    if spec.conditions:
        return pipelines.condition
    if spec.image is None:
        return pipelines.text
    if spec.reference_voice is not None:
        return pipelines.reference
    return pipelines.image


def _preview_every(engine: Engine, total_steps: int) -> int:
    """Every few steps, and always on the last. With CPU offload, decoding a preview would swap
    the VAE onto the GPU and the transformer off it every time, so only the last step (where the
    VAE is about to run anyway) gets one."""
    if engine.settings.cpu_offload and engine.pipelines.device != "cpu":
        return total_steps
    return max(2, math.ceil(total_steps / 6))


def _latent_shape(pipe, num_frames: int, height: int, width: int) -> tuple[int, int, int]:
    return (
        (num_frames - 1) // pipe.vae_temporal_compression_ratio + 1,
        height // pipe.vae_spatial_compression_ratio,
        width // pipe.vae_spatial_compression_ratio,
    )


def _call_kwargs(engine: Engine, pipe, job: RenderJob, spec: ShotPass, schedule: dict, callback):
    """(the pipeline call's keyword arguments, the context to call it in)."""
    import torch

    caps = engine.capabilities
    sampler = sampler_kwargs(caps, pipe.transformer)
    if spec.ends is None:
        prompt_kwargs = {"prompt": spec.prompt, "negative_prompt": job.request.negative_prompt or None}
        storyboard = contextlib.nullcontext()
    else:
        from .storyboard import encode_shots, storyboard_attention

        guidance = sampler["guidance_scale"] > 1.0
        prompt_kwargs = encode_shots(
            pipe, spec.prompt, job.request.negative_prompt, guidance, caps.max_sequence_length
        )
        storyboard = storyboard_attention(pipe, spec.ends)
    kwargs = dict(
        **prompt_kwargs,
        height=spec.height,
        width=spec.width,
        num_frames=spec.num_frames,
        frame_rate=float(caps.fps),
        **schedule,
        # A CPU generator gives the same noise whatever the device the model runs on.
        generator=torch.Generator(device="cpu").manual_seed(job.request.seed),
        output_type="pt",
        max_sequence_length=caps.max_sequence_length,
        callback_on_step_end=callback,
        callback_on_step_end_tensor_inputs=["latents"],
        **sampler,
    )
    if spec.conditions:
        kwargs["conditions"] = spec.conditions
    elif spec.image is not None:
        kwargs["image"] = fit_image(spec.image, (spec.width, spec.height))
        if spec.reference_voice is not None:
            kwargs["reference_audio"] = spec.reference_voice
            kwargs["identity_guidance_scale"] = engine.settings.identity_scale
    return kwargs, storyboard


def _upsample(upsample_pipe, latents, half: tuple[int, int], num_frames: int):
    return upsample_pipe(
        latents=latents.to(upsample_pipe.latent_upsampler.dtype),
        height=half[0],
        width=half[1],
        num_frames=num_frames,
        latents_normalized=False,
        output_type="latent",
        return_dict=False,
    )[0]


class _StepCallback:
    """diffusers' ``callback_on_step_end``: polls cancellation, reports progress with a preview
    every ``preview_every`` steps (and on the last), and notes when denoising ended."""

    def __init__(self, job: RenderJob, spec: ShotPass, total_steps: int, preview_every: int, latent_shape):
        self.job, self.spec = job, spec
        self.total_steps, self.preview_every = total_steps, preview_every
        self.latent_shape = latent_shape
        self.offset = 0  # steps of earlier stages
        self.previous = None
        self.denoised_at: float | None = None
        self.preview_s = 0.0

    def next_stage(self, offset: int, latent_shape) -> None:
        self.offset, self.previous, self.latent_shape = offset, None, latent_shape

    def __call__(self, pipeline, i, t, tensors) -> dict:
        if self.job.cancelled():
            raise GenerationCancelled
        latents = tensors["latents"]
        step = self.offset + i + 1
        preview = None
        if step % self.preview_every == 0 or step == self.total_steps:
            preview_started = time.perf_counter()
            preview = preview_jpeg(pipeline, latents, self.previous, i, self.latent_shape)
            self.preview_s += time.perf_counter() - preview_started
        self.previous = latents
        index, shots = self.spec.index, self.spec.shots
        self.job.report(Progress("generating", index, shots, step, self.total_steps, preview))
        if step == self.total_steps:
            self.denoised_at = time.perf_counter()
            self.job.report(Progress("decoding", index, shots, step, self.total_steps))
        return {}


def sampler_kwargs(caps, transformer) -> dict[str, Any]:
    """The guidance settings of the profile, for the checkpoint's LTX version."""
    # LTX-2.0 checkpoints project the prompt in the transformer; 2.3 and later in the connectors.
    ltx2_3 = not transformer.config.use_prompt_embeddings
    if caps.guidance_scale <= 1.0:
        # All guidance off: one transformer pass per step. Every scale must be neutral, because
        # the pipeline falls back from an unset/zero audio scale to the video one and defaults
        # the audio CFG to 7.
        return {
            "guidance_scale": 1.0,
            "audio_guidance_scale": 1.0,
            "stg_scale": 0.0,
            "audio_stg_scale": 0.0,
            "modality_scale": 1.0,
            "audio_modality_scale": 1.0,
            "guidance_rescale": 0.0,
            "audio_guidance_rescale": 0.0,
            "spatio_temporal_guidance_blocks": None,
            "use_cross_timestep": ltx2_3,
        }
    return {
        "guidance_scale": caps.guidance_scale,
        # diffusers' remaining defaults follow LTX-2.3; LTX-2.0 checkpoints (prompt projection in
        # the transformer) want the legacy timestep handling and STG on block 29.
        "use_cross_timestep": ltx2_3,
        "spatio_temporal_guidance_blocks": [28] if ltx2_3 else [29],
    }


def _schedule(distilled: bool, steps: int) -> dict:
    """The first (or only) pass's schedule: the distilled 8 sigmas, or ``steps`` default ones."""
    if distilled:
        from diffusers.pipelines.ltx2.utils import DISTILLED_SIGMA_VALUES

        return {
            "num_inference_steps": len(DISTILLED_SIGMA_VALUES),
            "sigmas": list(DISTILLED_SIGMA_VALUES),
        }
    return {"num_inference_steps": steps}


def _refine_sigmas() -> list[float]:
    from diffusers.pipelines.ltx2.utils import STAGE_2_DISTILLED_SIGMA_VALUES

    return list(STAGE_2_DISTILLED_SIGMA_VALUES)
