"""The generation engine: LTX-2 text/image-to-video with sound, single prompts and storyboards.

Only worker processes should *call* this module. Importing it is cheap (numpy and Pillow): torch and
diffusers are imported when an engine loads, so the request/progress dataclasses can be used
anywhere.

Threading: one :class:`Engine` serialises its own calls (the diffusers pipelines keep per-call state),
so a worker that runs jobs on several threads still renders one video at a time per model.

The work is split by topic: :mod:`.config` (how an engine runs), :mod:`.loading`, :mod:`.denoise`
(one pipeline pass), :mod:`.shots` (shot by shot, or a storyboard in one pass), :mod:`.retake`,
:mod:`.conditioning` and :mod:`.postprocess`. This module holds the engine itself and the
process-wide cache of engines.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .capabilities import Capabilities, get_capabilities
from .config import EngineSettings
from .denoise import RenderJob
from .request import (
    CONTINUE_FRAMES,
    GenerationCancelled,
    GenerationOutput,
    GenerationRequest,
    Progress,
    Retake,
    Shot,
)

if TYPE_CHECKING:
    import torch

    from .loading import Pipelines

# What callers import from here (the engine's home before it was split by topic).
__all__ = ["CONTINUE_FRAMES", "Engine", "EngineSettings", "GenerationCancelled", "Retake", "get_engine"]


class Engine:
    """An LTX-2 pipeline loaded once and reused for every request.

    ``model`` is a hub id or a local directory in diffusers format (the tiny model is one such
    directory); ``capabilities`` is its profile. How it runs is an :class:`EngineSettings`, given
    whole as ``settings`` or field by field as keywords (``Engine(model, caps, two_stage=True)``),
    keywords overriding ``settings``.
    """

    def __init__(
        self, model: str, capabilities: Capabilities, settings: EngineSettings | None = None, **overrides
    ):
        self.model = str(model)
        self.capabilities = capabilities
        self.settings = dataclasses.replace(settings or EngineSettings(), **overrides)
        self.pipelines: Pipelines | None = None
        self._lock = threading.RLock()

    @property
    def id_lora(self) -> str | None:
        return self.settings.id_lora

    @property
    def identity_scale(self) -> float:
        return self.settings.identity_scale

    @property
    def loaded(self) -> bool:
        return self.pipelines is not None

    @property
    def _pipe(self):
        """The text-to-video pipeline, which owns the weights (None before :meth:`load`)."""
        return self.pipelines.text if self.pipelines is not None else None

    @property
    def load_seconds(self) -> float | None:
        return self.pipelines.seconds if self.pipelines is not None else None

    @property
    def resolved_device(self) -> str | None:
        """What the device setting ("auto") resolved to; None before :meth:`load`."""
        return self.pipelines.device if self.pipelines is not None else None

    @property
    def resolved_dtype(self) -> torch.dtype | None:
        return self.pipelines.dtype if self.pipelines is not None else None

    @property
    def id_lora_layers(self) -> int | None:
        """Linears the ID-LoRA wraps, once loaded."""
        return self.pipelines.id_lora_layers if self.pipelines is not None else None

    @property
    def sample_rate(self) -> int:
        """Audio rate of the loaded model's output."""
        return int(self.pipelines.text.vocoder.config.output_sampling_rate)

    def voice_record(self) -> dict:
        """What voiced an output through route 1: the ID-LoRA checkpoint and the identity scale."""
        return dict(self.pipelines.voice_record, identity_scale=self.settings.identity_scale)

    def load(self, pipeline=None, latent_upsampler=None) -> None:
        """Load the pipeline once; later calls return at once. Safe to call from several threads.

        ``pipeline`` (an ``LTX2Pipeline`` already in memory, on the CPU or the device, in the
        engine's dtype) and ``latent_upsampler`` replace reading them from ``model``: the GPU bench
        builds full-size random-weight models from their configs this way, without any download.
        """
        from .loading import load_pipelines

        with self._lock:
            if self.pipelines is None:
                self.pipelines = load_pipelines(self.model, self.settings, pipeline, latent_upsampler)

    def generate(
        self,
        request: GenerationRequest,
        on_progress: Callable[[Progress], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> GenerationOutput:
        """Render ``request`` into frames and a matching audio track.

        A storyboard is one continuous video: every shot uses the request's seed, shot k>0 starts
        from the last frame of shot k-1, each shot's audio is padded to its exact frame duration
        and the tracks are joined with a few-millisecond fade at each cut. The result has
        ``sum(num_frames(shot.seconds))`` frames and exactly ``frames / fps`` seconds of audio.

        ``on_progress`` is called from this thread after every denoising step (with a preview JPEG
        every few steps and always on a shot's last step); keep it fast. ``should_cancel`` is polled
        before loading, before each shot and after every step; when it returns True,
        :class:`GenerationCancelled` is raised at once and nothing is returned.

        Same request (seed included) on the same device and dtype gives bit-identical output on
        CPU. Raises ``ValueError`` for an unknown orientation or an impossible shot list, and for a
        ``reference_voice`` that isn't usable mono audio (checked only when it would be used).

        With an ID-LoRA loaded, a request with both ``condition_image`` and ``reference_voice`` runs
        every shot through the reference pipeline with that same voice (later shots of a storyboard
        are conditioned on the previous shot's last frame, and keep the voice), and
        ``output.voice`` records the checkpoint and scale that made it.
        """
        self._check(request)
        mode = self.storyboard_mode(request)
        job = RenderJob(
            request=request,
            steps=request.steps or self.capabilities.steps,
            report=on_progress or (lambda progress: None),
            cancelled=should_cancel or (lambda: False),
            timings={"load_s": 0.0},
            started=0.0,
            reference_voice=self._reference_voice(request),
        )
        with self._lock:
            job.started = time.perf_counter()
            if job.cancelled():
                raise GenerationCancelled
            if not self.loaded:
                job.report(Progress("loading", 0, len(request.shots), 0, job.steps))
                self.load()
                job.timings["load_s"] = self.load_seconds
            enhanced = self._enhance(request, job.timings)
            if enhanced is not None:
                shots = [Shot(text, shot.seconds) for text, shot in zip(enhanced, request.shots, strict=True)]
                job.request = dataclasses.replace(request, shots=shots)
            output = self._render(job, mode)
            output.enhanced_prompts = enhanced
            return output

    def _check(self, request: GenerationRequest) -> None:
        """Refuse (ValueError) what the profile can't render."""
        caps = self.capabilities
        if request.orientation not in caps.sizes:
            raise ValueError(f"orientation must be one of {sorted(caps.sizes)}")
        if not 1 <= len(request.shots) <= caps.max_shots:
            raise ValueError(f"a request has 1 to {caps.max_shots} shots")
        if any(shot.seconds <= 0 for shot in request.shots):
            raise ValueError("every shot needs a positive duration")
        if sum(shot.seconds for shot in request.shots) > caps.max_total_seconds:
            raise ValueError(f"at most {caps.max_total_seconds} s in total")

    def _reference_voice(self, request: GenerationRequest):
        """The checked reference voice when the ID-LoRA pipeline will use it, else None."""
        if not (self.id_lora and request.reference_voice is not None and request.condition_image is not None):
            return None
        from .reference_audio import as_reference_waveform

        return as_reference_waveform(request.reference_voice)

    def _enhance(self, request: GenerationRequest, timings: dict) -> list[str] | None:
        """Each shot's prompt rewritten by the profile's enhancer, or None when it has none.

        diffusers' ``enhance_prompt``: the text encoder (LTX-2.3) or a dedicated enhancer (LTX-2.5)
        writes a detailed audio-visual caption from a system prompt, sampling with the request's
        seed. Runs locally: the tiny profiles' random text model writes gibberish, the real one
        captions.
        """
        enabled = self.capabilities.prompt_enhancement and self.settings.enhance_prompts
        if not (enabled and request.enhance_prompt):
            return None
        if getattr(self._pipe, "processor", None) is None:
            return None  # a checkpoint saved without its processor can't template a chat
        from diffusers.pipelines.ltx2.utils import LTX2_5_T2V_DEFAULT_SYSTEM_PROMPT, T2V_DEFAULT_SYSTEM_PROMPT

        system = (
            LTX2_5_T2V_DEFAULT_SYSTEM_PROMPT
            if self.capabilities.family == "ltx2.5"
            else T2V_DEFAULT_SYSTEM_PROMPT
        )
        started = time.perf_counter()
        enhanced = []
        for index, shot in enumerate(request.shots):
            text = self._pipe.enhance_prompt(
                prompt=shot.prompt,
                system_prompt=system,
                max_new_tokens=self.settings.enhance_max_tokens,
                seed=request.seed + index,
            )[0].strip()
            # The user's words stay first: an enhancer that returns nothing usable loses nothing.
            enhanced.append(f"{shot.prompt}. {text}" if text else shot.prompt)
        timings["enhance_s"] = time.perf_counter() - started
        return enhanced

    def _render(self, job: RenderJob, mode: str) -> GenerationOutput:
        """Dispatch to the retake, one-pass or shot-by-shot renderer (called holding the lock)."""
        from .retake import render_retake
        from .shots import render_one_pass, render_sequential

        if job.request.retake is not None:
            return render_retake(self, job)
        if mode == "one_pass":
            return render_one_pass(self, job)
        output = render_sequential(self, job)
        output.storyboard_mode = mode
        return output

    def storyboard_mode(self, request: GenerationRequest) -> str:
        """How ``request`` renders: "" (one shot), "one_pass" or "sequential".

        "auto" picks one pass when the whole storyboard fits the profile's ``one_pass_seconds`` and
        no reference voice needs the ID-LoRA pipeline (which renders shot by shot); asking for
        "one_pass" beyond that limit is a ``ValueError``.
        """
        if request.storyboard_mode not in ("auto", "one_pass", "sequential"):
            raise ValueError("storyboard_mode must be auto, one_pass or sequential")
        if len(request.shots) == 1:
            return ""
        total = sum(shot.seconds for shot in request.shots)
        fits = total <= self.capabilities.one_pass_seconds
        if request.storyboard_mode == "one_pass" and not fits:
            raise ValueError(f"one pass holds at most {self.capabilities.one_pass_seconds} s")
        if request.storyboard_mode == "auto":
            voiced = (
                self.id_lora and request.reference_voice is not None and request.condition_image is not None
            )
            return "one_pass" if fits and not voiced else "sequential"
        return request.storyboard_mode


_engines: dict[tuple, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(model: str, profile: str, settings: EngineSettings | None = None, **overrides) -> Engine:
    """The process-wide engine for ``model``, ``profile`` and these settings, created on first use.

    ``settings`` (a worker passes ``EngineSettings.from_settings(django_settings)``) and keyword
    ``overrides`` of its fields make the engine's :class:`EngineSettings`, which is part of the
    key: the ID-LoRA path and identity scale, the GPU fast-path switches, everything.

    Loading is lazy (first :meth:`Engine.generate` or an explicit :meth:`Engine.load`), and happens
    once per process for each distinct setting, so a worker pays for the weights once, not per job.
    """
    settings = dataclasses.replace(settings or EngineSettings(), **overrides)
    key = (str(model), profile, settings)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = Engine(str(model), get_capabilities(profile), settings)
            _engines[key] = engine
        return engine
