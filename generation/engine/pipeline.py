"""The generation engine: LTX-2 text/image-to-video with sound, single prompts and storyboards.

Only worker processes should *call* this module. Importing it is cheap (numpy and Pillow): torch and
diffusers are imported when an engine loads, so the request/progress dataclasses can be used
anywhere.

Threading: one :class:`Engine` serialises its own calls (the diffusers pipelines keep per-call state),
so a worker that runs jobs on several threads still renders one video at a time per model.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import itertools
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps

from .capabilities import Capabilities, get_capabilities

if TYPE_CHECKING:
    import torch

PREVIEW_MAX_SIDE = 256
# Fade applied on both sides of a storyboard cut. Each shot's audio is padded to its exact frame
# duration; without a fade the jump to that padding would click.
CUT_FADE_SECONDS = 0.005


@dataclass
class Shot:
    prompt: str
    seconds: float


# Frames of a source video an extension or remix continues from (8k+1, as the VAE encodes them):
# enough for the model to see the motion, not only the pose.
CONTINUE_FRAMES = 17
# Frames kept on each side of a retake's range as its conditions.
RETAKE_CONTEXT_FRAMES = 17


@dataclass
class Retake:
    """Regenerate ``[start, end)`` seconds of a video, keeping what is before and after.

    ``frames`` (uint8 (T, H, W, 3)) and ``audio`` ((channels, n) at ``sample_rate``) are the whole
    source; the range is rounded out to whole latent frames (8 frames) and must lie inside it.
    """

    frames: np.ndarray
    audio: np.ndarray
    sample_rate: int
    start: float
    end: float


@dataclass
class GenerationRequest:
    """What to render. One shot for a plain prompt, ``min_shots``..``max_shots`` for a storyboard.

    ``condition_image`` becomes the first frame (cameo reference, or a remix source's last frame); it
    is centre-cropped to the target aspect ratio, never stretched.

    ``reference_voice`` is the voice the generated speech should have: mono float32 samples at
    16 kHz (~5 s, as ID-LoRA was trained on). It is used only together with a ``condition_image``
    and by an engine loaded with an ID-LoRA (route 1 of cameo voice); otherwise it is ignored and
    :attr:`GenerationOutput.voice` stays ``None``.
    """

    shots: list[Shot]
    orientation: str
    seed: int
    negative_prompt: str = ""
    condition_image: Image.Image | None = None
    steps: int | None = None
    reference_voice: np.ndarray | None = None
    # How a storyboard renders: "auto" (one pass when it fits, see Capabilities.one_pass_seconds),
    # "one_pass" or "sequential". Ignored for a single shot.
    storyboard_mode: str = "auto"
    # The last frames of a source video (uint8 (T, H, W, 3)): the new video continues their motion
    # (LTX2ConditionPipeline), starting on the frame after the last one. Takes precedence over
    # ``condition_image``.
    continue_frames: np.ndarray | None = None
    # Regenerate part of a video instead (one shot: its prompt describes the new range).
    retake: Retake | None = None
    # Let the profile's text encoder rewrite each prompt into a detailed caption first (profiles
    # with Capabilities.prompt_enhancement, on an engine that allows it). Seeded by ``seed``.
    enhance_prompt: bool = True


@dataclass
class Progress:
    """One progress report. ``step`` counts finished denoising steps of shot ``shot`` (0-based)."""

    stage: str  # "loading" | "generating" | "decoding"
    shot: int
    shots: int
    step: int
    total_steps: int
    preview_jpeg: bytes | None = None

    @property
    def fraction(self) -> float:
        """Overall completion in [0, 1], counting every shot's steps equally."""
        if self.stage == "loading" or self.shots == 0 or self.total_steps == 0:
            return 0.0
        return min(1.0, (self.shot + self.step / self.total_steps) / self.shots)


class GenerationCancelled(Exception):
    """Raised out of :meth:`Engine.generate` when ``should_cancel()`` returned True."""


@dataclass
class GenerationOutput:
    frames: np.ndarray  # uint8 (T, H, W, 3) at the profile's output size
    audio: np.ndarray  # float32 (channels, samples), exactly T / fps seconds
    sample_rate: int
    fps: int
    timings: dict[str, float] = field(default_factory=dict)
    # What produced the voice, when route 1 (ID-LoRA reference conditioning) ran: {"route": "idlora",
    # "checkpoint": file name, "checkpoint_sha256": hex, "identity_scale": s}. None otherwise.
    voice: dict | None = None
    # How a storyboard was rendered ("one_pass" or "sequential"); "" for a single shot. ``cuts`` are
    # the first frame of every shot after the first.
    storyboard_mode: str = ""
    cuts: list[int] = field(default_factory=list)
    # The prompts the model was given, one per shot, when prompt enhancement rewrote them.
    enhanced_prompts: list[str] | None = None

    @property
    def seconds(self) -> float:
        return self.frames.shape[0] / self.fps


def _resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


_DTYPES = {
    "float32": "float32",
    "fp32": "float32",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
}


def _resolve_dtype(dtype: str, device: str) -> torch.dtype:
    import torch

    if dtype == "auto":
        # bf16 halves memory on GPUs; CPUs are slow at bf16 matmuls and float32 keeps results exact.
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    try:
        return getattr(torch, _DTYPES[dtype])
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}; use auto, {', '.join(_DTYPES)}") from None


def _fit(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Centre-crop and scale ``image`` to exactly ``size`` (width, height) without distorting it."""
    return ImageOps.fit(ImageOps.exif_transpose(image).convert("RGB"), size, Image.Resampling.LANCZOS)


def _jpeg(rgb: np.ndarray, max_side: int = PREVIEW_MAX_SIDE, quality: int = 70) -> bytes:
    image = Image.fromarray(rgb)
    image.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _fit_length(audio: np.ndarray, samples: int) -> np.ndarray:
    """Zero-pad or trim (channels, n) audio to exactly ``samples``."""
    if audio.shape[1] >= samples:
        return audio[:, :samples]
    return np.pad(audio, ((0, 0), (0, samples - audio.shape[1])))


class Engine:
    """An LTX-2 pipeline loaded once and reused for every request.

    ``model`` is a hub id or a local directory in diffusers format (the tiny model is one such
    directory). ``cpu_offload`` keeps idle components in CPU memory (slower, for GPUs under ~48 GB);
    ``vae_tiling`` decodes in tiles to bound VAE memory at large sizes.

    ``id_lora`` is the path of an ID-LoRA checkpoint (safetensors, LTX-2 key format). With it, the
    engine also builds :class:`~generation.engine.reference_audio.LTX2ReferenceAudioPipeline` at
    load time (sharing every weight, LoRA loaded once), and image-conditioned requests that carry a
    ``reference_voice`` run through it with identity-guidance scale ``identity_scale``. The LoRA is
    disabled for every other request, whose output is the same as without it.

    Prompt enhancement (profiles that have it): ``enhance_prompts`` allows it, ``enhance_max_tokens``
    bounds each rewritten prompt. GPU fast path: ``two_stage`` renders text-to-video at half size,
    upsamples the latents 2x (the checkpoint's ``latent_upsampler/``) and refines them in 3 steps;
    ``distilled`` uses the distilled checkpoints' 8-sigma schedule; ``compile`` compiles the
    transformer's repeated blocks (CUDA only); ``attention_backend`` picks diffusers' attention
    dispatch ("native" is torch SDPA, which picks flash/cuDNN kernels on a GPU by itself).
    """

    def __init__(
        self,
        model: str,
        capabilities: Capabilities,
        device: str = "auto",
        dtype: str = "auto",
        cpu_offload: bool = False,
        vae_tiling: bool = False,
        id_lora: str | None = None,
        identity_scale: float = 0.0,
        enhance_prompts: bool = True,
        enhance_max_tokens: int = 256,
        two_stage: bool = False,
        distilled: bool = False,
        compile: bool = False,
        attention_backend: str = "native",
    ):
        if identity_scale < 0:
            raise ValueError("identity_scale must be >= 0")
        self.model = str(model)
        self.capabilities = capabilities
        self.device = device
        self.dtype = dtype
        self.cpu_offload = cpu_offload
        self.vae_tiling = vae_tiling
        self.id_lora = str(id_lora) if id_lora else None
        self.identity_scale = float(identity_scale)
        self.enhance_prompts = enhance_prompts
        self.enhance_max_tokens = enhance_max_tokens
        self.two_stage = two_stage
        self.distilled = distilled
        self.compile = compile
        self.attention_backend = attention_backend
        self._upsample_pipe = None
        # Linears the ID-LoRA wraps and the record of it put on outputs; set by load().
        self.id_lora_layers: int | None = None
        self._voice_record: dict | None = None
        self.load_seconds: float | None = None
        # What "auto" resolved to; set by load().
        self.resolved_device: str | None = None
        self.resolved_dtype: torch.dtype | None = None
        self._pipe = None
        self._image_pipe = None
        self._condition_pipe = None
        self._reference_pipe = None
        self._lock = threading.RLock()

    @property
    def loaded(self) -> bool:
        return self._pipe is not None

    def load(self, pipeline=None, latent_upsampler=None) -> None:
        """Load the pipeline once; later calls return at once. Safe to call from several threads.

        ``pipeline`` (an ``LTX2Pipeline`` already in memory, on the CPU or the device, in the
        engine's dtype) and ``latent_upsampler`` replace reading them from ``model``: the GPU bench
        builds full-size random-weight models from their configs this way, without any download.
        """
        with self._lock:
            if self._pipe is not None:
                return
            started = time.perf_counter()
            from diffusers import LTX2ConditionPipeline, LTX2ImageToVideoPipeline, LTX2Pipeline

            device = _resolve_device(self.device)
            torch_dtype = _resolve_dtype(self.dtype, device)
            pipe = (
                pipeline
                if pipeline is not None
                else LTX2Pipeline.from_pretrained(self.model, dtype=torch_dtype)
            )
            pipe.set_progress_bar_config(disable=True)
            voice_record = None
            if self.id_lora:
                from .checkpoints import file_sha256
                from .reference_audio import load_id_lora

                # Into the shared transformer, before offload hooks or a device move, so the LoRA
                # weights follow the model wherever it goes. load_id_lora leaves it disabled.
                self.id_lora_layers = load_id_lora(pipe, self.id_lora)
                voice_record = {
                    "route": "idlora",
                    "checkpoint": Path(self.id_lora).name,
                    "checkpoint_sha256": file_sha256(self.id_lora),
                }
            if self.cpu_offload and device != "cpu":
                pipe.enable_model_cpu_offload(device=device)
            elif device != "cpu":  # from_pretrained already put everything on the CPU
                pipe.to(device)
            if self.vae_tiling:
                pipe.vae.enable_tiling()
            if self.attention_backend != "native":
                pipe.transformer.set_attention_backend(self.attention_backend)
            if self.compile and device.startswith("cuda"):
                # Regional compilation: the 48 identical blocks compile once (seconds, not minutes);
                # on a CPU compiling costs more than it saves on a clip, so it stays off there.
                pipe.transformer.compile_repeated_blocks(fullgraph=True)
            if self.two_stage:
                self._upsample_pipe = self._load_upsampler(pipe, torch_dtype, device, latent_upsampler)
            # Shares every module (no second copy of the weights). Offload hooks live on the shared
            # modules, so they apply to this pipeline too.
            image_pipe = LTX2ImageToVideoPipeline.from_pipe(pipe)
            image_pipe.set_progress_bar_config(disable=True)
            condition_pipe = LTX2ConditionPipeline.from_pipe(pipe)
            condition_pipe.set_progress_bar_config(disable=True)
            reference_pipe = None
            if self.id_lora:
                from .reference_audio import LTX2ReferenceAudioPipeline

                reference_pipe = LTX2ReferenceAudioPipeline.from_pipe(pipe)
                reference_pipe.set_progress_bar_config(disable=True)
            self.resolved_device, self.resolved_dtype = device, torch_dtype
            self._pipe, self._image_pipe, self._condition_pipe = pipe, image_pipe, condition_pipe
            self._reference_pipe, self._voice_record = reference_pipe, voice_record
            self.load_seconds = time.perf_counter() - started

    def _sampler_kwargs(self) -> dict:
        caps = self.capabilities
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
                "use_cross_timestep": self._is_ltx2_3(),
            }
        return {
            "guidance_scale": caps.guidance_scale,
            # diffusers' remaining defaults follow LTX-2.3; LTX-2.0 checkpoints (prompt projection in
            # the transformer) want the legacy timestep handling and STG on block 29.
            "use_cross_timestep": self._is_ltx2_3(),
            "spatio_temporal_guidance_blocks": [28] if self._is_ltx2_3() else [29],
        }

    def _is_ltx2_3(self) -> bool:
        return not self._pipe.transformer.config.use_prompt_embeddings

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
        caps = self.capabilities
        if request.orientation not in caps.sizes:
            raise ValueError(f"orientation must be one of {sorted(caps.sizes)}")
        if not 1 <= len(request.shots) <= caps.max_shots:
            raise ValueError(f"a request has 1 to {caps.max_shots} shots")
        if any(shot.seconds <= 0 for shot in request.shots):
            raise ValueError("every shot needs a positive duration")
        total_seconds = sum(shot.seconds for shot in request.shots)
        if total_seconds > caps.max_total_seconds:
            raise ValueError(f"at most {caps.max_total_seconds} s in total")
        steps = request.steps or caps.steps
        mode = self.storyboard_mode(request)
        reference_voice = None
        if self.id_lora and request.reference_voice is not None and request.condition_image is not None:
            from .reference_audio import as_reference_waveform

            reference_voice = as_reference_waveform(request.reference_voice)

        def cancelled() -> bool:
            return should_cancel is not None and should_cancel()

        def report(progress: Progress) -> None:
            if on_progress is not None:
                on_progress(progress)

        with self._lock:
            started = time.perf_counter()
            timings: dict[str, float] = {"load_s": 0.0}
            if cancelled():
                raise GenerationCancelled
            if not self.loaded:
                report(Progress("loading", 0, len(request.shots), 0, steps))
                self.load()
                timings["load_s"] = self.load_seconds
            enhanced = self._enhance(request, timings)
            if enhanced is not None:
                request = dataclasses.replace(
                    request,
                    shots=[
                        Shot(text, shot.seconds) for text, shot in zip(enhanced, request.shots, strict=True)
                    ],
                )
            output = self._render(request, mode, steps, report, cancelled, timings, started, reference_voice)
            output.enhanced_prompts = enhanced
            return output

    def _enhance(self, request: GenerationRequest, timings: dict) -> list[str] | None:
        """Each shot's prompt rewritten by the profile's enhancer, or None when it has none.

        diffusers' ``enhance_prompt``: the text encoder (LTX-2.3) or a dedicated enhancer (LTX-2.5)
        writes a detailed audio-visual caption from a system prompt, sampling with the request's
        seed. Runs locally: the tiny profiles' random text model writes gibberish, the real one
        captions.
        """
        if not (self.capabilities.prompt_enhancement and self.enhance_prompts and request.enhance_prompt):
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
                max_new_tokens=self.enhance_max_tokens,
                seed=request.seed + index,
            )[0].strip()
            # The user's words stay first: an enhancer that returns nothing usable loses nothing.
            enhanced.append(f"{shot.prompt}. {text}" if text else shot.prompt)
        timings["enhance_s"] = time.perf_counter() - started
        return enhanced

    def _render(
        self, request, mode, steps, report, cancelled, timings, started, reference_voice
    ) -> GenerationOutput:
        """Dispatch to the retake, one-pass or shot-by-shot renderer (called holding the lock)."""
        if request.retake is not None:
            return self._generate_retake(request, steps, report, cancelled, timings, started)
        if mode == "one_pass":
            return self._generate_one_pass(request, steps, report, cancelled, timings, started)
        output = self._generate_locked(request, steps, report, cancelled, timings, started, reference_voice)
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

    def _generate_one_pass(self, request, steps, report, cancelled, timings, started) -> GenerationOutput:
        """One joint denoising of the whole storyboard (see :mod:`.storyboard`)."""
        from .storyboard import frame_cuts

        caps = self.capabilities
        width, height = caps.sizes[request.orientation]
        out_width, out_height = caps.output_sizes[request.orientation]
        sample_rate = int(self._pipe.vocoder.config.output_sampling_rate)
        ends = list(itertools.accumulate(float(shot.seconds) for shot in request.shots))
        num_frames = caps.num_frames(ends[-1])
        conditions, skip = self._continuation(request, num_frames)
        video, audio, shot_timings = self._run_shot(
            0,
            1,
            [shot.prompt for shot in request.shots],
            request,
            request.condition_image,
            num_frames + max(skip - 1, 0),
            steps,
            width,
            height,
            report,
            cancelled,
            ends=[skip / caps.fps + end for end in ends],
            conditions=conditions,
        )
        timings.update(shot_timings)
        post_started = time.perf_counter()
        frames = self._to_output_frames(video[skip:], out_width, out_height)
        num_frames = len(frames)
        del video
        audio = audio[:, round(skip * sample_rate / caps.fps) :]
        audio = _fit_length(audio, round(num_frames * sample_rate / caps.fps)).astype(np.float32)
        timings["postprocess_s"] = time.perf_counter() - post_started
        timings["pipeline_s"] = timings["denoise_s"] + timings["decode_s"]
        timings["total_s"] = time.perf_counter() - started
        return GenerationOutput(
            frames=frames,
            audio=np.ascontiguousarray(audio),
            sample_rate=sample_rate,
            fps=caps.fps,
            timings=timings,
            storyboard_mode="one_pass",
            cuts=[
                cut - skip
                for cut in frame_cuts(
                    self._pipe.transformer,
                    num_frames + max(skip - 1, 0),
                    float(caps.fps),
                    [skip / caps.fps + end for end in ends],
                )
            ],
        )

    def _load_upsampler(self, pipe, torch_dtype, device, upsampler=None):
        """The latent upsampler saved beside the pipeline (``latent_upsampler/``), in a pipeline
        that shares the VAE. Raises FileNotFoundError when the checkpoint has none."""
        from diffusers import LTX2LatentUpsamplePipeline
        from diffusers.pipelines.ltx2 import LTX2LatentUpsamplerModel

        from .tiny import LATENT_UPSAMPLER_DIR

        if upsampler is None:
            folder = Path(self.model) / LATENT_UPSAMPLER_DIR
            if not folder.is_dir():
                raise FileNotFoundError(f"two-stage generation needs {folder} (the latent upsampler)")
            upsampler = LTX2LatentUpsamplerModel.from_pretrained(folder, torch_dtype=torch_dtype)
        upsample_pipe = LTX2LatentUpsamplePipeline(vae=pipe.vae, latent_upsampler=upsampler)
        if device != "cpu":
            upsampler.to(device)
        upsample_pipe.set_progress_bar_config(disable=True)
        return upsample_pipe

    @property
    def sample_rate(self) -> int:
        """Audio rate of the loaded model's output."""
        return int(self._pipe.vocoder.config.output_sampling_rate)

    def _generate_retake(self, request, steps, report, cancelled, timings, started) -> GenerationOutput:
        """Regenerate a range of a video (see :class:`Retake`) from ``request.shots[0].prompt``.

        One condition-pipeline pass over a window: up to ``RETAKE_CONTEXT_FRAMES`` source frames
        before the range (a condition at latent index 0), the range itself, then up to as many
        frames after it (a keyframe condition where the range ends) plus 7 free frames that make
        the window's length 8k+1. The range's new frames and sound replace the old; everything
        else is the source's, and the sound is faded over a few milliseconds at both joints.
        """
        from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition

        caps = self.capabilities
        retake = request.retake
        source = retake.frames
        total = len(source)
        fps = caps.fps
        sample_rate = self.sample_rate
        width, height = caps.sizes[request.orientation]
        first = round(retake.start * fps)
        wanted = round(retake.end * fps) - first
        if not 0 <= first < total or wanted < 1:
            raise ValueError("the range to retake must lie inside the video")
        before = min(first, RETAKE_CONTEXT_FRAMES)
        before = (before - 1) // 8 * 8 + 1 if before else 0
        # The window's first latent frame holds 1 frame, the others 8: with context before, the
        # range is whole latent frames (8k); from the very start it is 8k+1.
        offset = 0 if before else 1
        length = math.ceil((wanted - offset) / 8) * 8 + offset
        if first + length > total:
            length = (total - first - offset) // 8 * 8 + offset
        if length < 8:
            raise ValueError(
                f"the range to retake must leave at least 8 frames ({8 / fps:.2f} s) inside the video"
            )
        end = first + length
        after = min(total - end, RETAKE_CONTEXT_FRAMES)
        after = (after - 1) // 8 * 8 + 1 if after else 0
        num_frames = before + length + (after + 7 if after else 0)
        conditions = []
        if before:
            conditions.append(
                LTX2VideoCondition(frames=np.ascontiguousarray(source[first - before : first]), index=0)
            )
        if after:
            conditions.append(
                LTX2VideoCondition(
                    frames=np.ascontiguousarray(source[end : end + after]),
                    index=(before + length - 1) // 8 + 1,
                )
            )
        video, audio, shot_timings = self._run_shot(
            0,
            1,
            request.shots[0].prompt,
            request,
            None,
            num_frames,
            steps,
            width,
            height,
            report,
            cancelled,
            conditions=conditions or None,
        )
        timings.update(shot_timings)
        post_started = time.perf_counter()
        middle = self._to_output_frames(video[before : before + length], source.shape[2], source.shape[1])
        del video
        frames = np.concatenate([source[:first], middle, source[end:]])

        old_audio = _resample(retake.audio, retake.sample_rate, sample_rate)
        old_audio = _fit_length(old_audio, round(total * sample_rate / fps))
        cut_in, cut_out = round(first * sample_rate / fps), round(end * sample_rate / fps)
        new_audio = _fit_length(audio[:, round(before * sample_rate / fps) :], cut_out - cut_in)
        parts = [part for part in (old_audio[:, :cut_in], new_audio, old_audio[:, cut_out:]) if part.shape[1]]
        timings["postprocess_s"] = time.perf_counter() - post_started
        timings["pipeline_s"] = timings["denoise_s"] + timings["decode_s"]
        timings["total_s"] = time.perf_counter() - started
        return GenerationOutput(
            frames=frames,
            audio=_join_with_fades(parts, round(CUT_FADE_SECONDS * sample_rate)),
            sample_rate=sample_rate,
            fps=fps,
            timings=timings,
            cuts=[cut for cut in (first, end) if 0 < cut < total],
        )

    def _continuation(self, request, num_frames: int):
        """(conditions, frames to drop) continuing ``request.continue_frames``, or (None, 0).

        The source's last 8k+1 frames become the first frames of the pass (a condition at latent
        index 0, strength 1), so the model sees them move and carries the motion on; they are
        dropped from the output, which then starts on the frame after the source's last. The pass
        grows by those frames minus one, keeping its length 8k+1; the delivered length is
        ``num_frames - 1`` (whole latent frames after the source).
        """
        frames = request.continue_frames
        if frames is None or len(frames) == 0:
            return None, 0
        from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition

        count = min(len(frames), CONTINUE_FRAMES)
        count = (count - 1) // 8 * 8 + 1
        return [
            LTX2VideoCondition(frames=np.ascontiguousarray(frames[-count:]), index=0, strength=1.0)
        ], count

    def _generate_locked(
        self, request, steps, report, cancelled, timings, started, reference_voice=None
    ) -> GenerationOutput:
        import torch

        caps = self.capabilities
        width, height = caps.sizes[request.orientation]
        out_width, out_height = caps.output_sizes[request.orientation]
        sample_rate = int(self._pipe.vocoder.config.output_sampling_rate)
        shots = len(request.shots)

        video_parts: list[np.ndarray] = []
        audio_parts: list[np.ndarray] = []
        condition = request.condition_image
        frames_so_far = 0
        for index, shot in enumerate(request.shots):
            if cancelled():
                raise GenerationCancelled
            num_frames = caps.num_frames(shot.seconds)
            # Only the first shot continues a source video; later ones continue the previous shot.
            conditions, skip = self._continuation(request, num_frames) if index == 0 else (None, 0)
            video, audio, shot_timings = self._run_shot(
                index,
                shots,
                shot.prompt,
                request,
                condition,
                num_frames + max(skip - 1, 0),
                steps,
                width,
                height,
                report,
                cancelled,
                reference_voice if conditions is None else None,
                conditions=conditions,
            )
            if skip:
                video = video[skip:]
                audio = audio[:, round(skip * sample_rate / caps.fps) :]
                num_frames = len(video)
            for key, value in shot_timings.items():
                timings[f"shot{index}_{key}"] = value
                timings[key] = timings.get(key, 0.0) + value

            post_started = time.perf_counter()
            # The next shot continues from this one's last frame, taken at generation size.
            last = video[-1].permute(1, 2, 0).mul(255).round().clamp(0, 255).to(torch.uint8).cpu().numpy()
            condition = Image.fromarray(last)
            video_parts.append(self._to_output_frames(video, out_width, out_height))
            del video

            # Cut points are computed from the running frame total, so rounding never accumulates
            # and the whole track is exactly total_frames / fps long.
            start = round(frames_so_far * sample_rate / caps.fps)
            frames_so_far += num_frames
            end = round(frames_so_far * sample_rate / caps.fps)
            audio_parts.append(_fit_length(audio, end - start))
            timings["postprocess_s"] = timings.get("postprocess_s", 0.0) + time.perf_counter() - post_started

        cuts = list(itertools.accumulate(len(part) for part in video_parts[:-1]))
        frames = np.concatenate(video_parts) if len(video_parts) > 1 else video_parts[0]
        audio = _join_with_fades(audio_parts, round(CUT_FADE_SECONDS * sample_rate))
        timings["pipeline_s"] = timings.get("denoise_s", 0.0) + timings.get("decode_s", 0.0)
        timings["total_s"] = time.perf_counter() - started
        return GenerationOutput(
            frames=frames,
            audio=audio,
            sample_rate=sample_rate,
            fps=caps.fps,
            timings=timings,
            voice=(
                dict(self._voice_record, identity_scale=self.identity_scale)
                if reference_voice is not None
                else None
            ),
            cuts=cuts,
        )

    def _run_shot(
        self,
        index,
        shots,
        prompt,
        request,
        condition,
        num_frames,
        steps,
        width,
        height,
        report,
        cancelled,
        reference_voice=None,
        ends=None,
        conditions=None,
    ):
        """Run one pipeline pass. Returns (video float [0,1] (T, 3, H, W) on device, audio, timings).

        ``reference_voice`` (checked mono 16 kHz samples) sends an image-conditioned shot through the
        ID-LoRA reference pipeline. With ``ends`` (the shots' cumulative end times), ``prompt`` is
        the list of the shots' prompts and the pass renders them all as one storyboard.
        ``conditions`` (``LTX2VideoCondition`` list) send the pass through the condition pipeline.
        """
        import torch

        caps = self.capabilities
        if conditions:
            pipe = self._condition_pipe
        elif condition is None:
            pipe = self._pipe
        elif reference_voice is not None:
            pipe = self._reference_pipe
        else:
            pipe = self._image_pipe
        schedule = self._schedule(steps)
        first_steps = schedule["num_inference_steps"]
        # Two-stage: denoise at half size, upsample the latents 2x, refine them at full size with
        # the distilled stage-2 schedule (3 steps). The ID-LoRA reference pipeline stays one-stage.
        half = (height // 2, width // 2)
        two_stage = (
            self._upsample_pipe is not None
            # Text-to-video only: the image and condition pipelines re-apply their conditions to
            # supplied latents in ways not yet checked against the reference two-stage recipe.
            and pipe is self._pipe
            and all(side % pipe.vae_spatial_compression_ratio == 0 for side in half)
        )
        refine = self._refine_sigmas() if two_stage else []
        total_steps = first_steps + len(refine)

        def shape_at(h, w):
            return (
                (num_frames - 1) // pipe.vae_temporal_compression_ratio + 1,
                h // pipe.vae_spatial_compression_ratio,
                w // pipe.vae_spatial_compression_ratio,
            )

        # Every few steps, and always on the last. With CPU offload, decoding a preview would swap
        # the VAE onto the GPU and the transformer off it every time, so only the last step (where
        # the VAE is about to run anyway) gets one.
        preview_every = (
            total_steps
            if (self.cpu_offload and self.resolved_device != "cpu")
            else max(2, math.ceil(total_steps / 6))
        )
        state = {
            "previous": None,
            "denoised_at": None,
            "preview_s": 0.0,
            "offset": 0,
            "latent_shape": shape_at(*(half if two_stage else (height, width))),
        }

        def on_step_end(pipeline, i, t, tensors):
            if cancelled():
                raise GenerationCancelled
            latents = tensors["latents"]
            step = state["offset"] + i + 1
            preview = None
            if step % preview_every == 0 or step == total_steps:
                preview_started = time.perf_counter()
                preview = self._preview(pipeline, latents, state["previous"], i, state["latent_shape"])
                state["preview_s"] += time.perf_counter() - preview_started
            state["previous"] = latents
            report(Progress("generating", index, shots, step, total_steps, preview))
            if step == total_steps:
                state["denoised_at"] = time.perf_counter()
                report(Progress("decoding", index, shots, step, total_steps))
            return {}

        sampler = self._sampler_kwargs()
        if ends is None:
            prompt_kwargs = {"prompt": prompt, "negative_prompt": request.negative_prompt or None}
            storyboard = contextlib.nullcontext()
        else:
            from .storyboard import encode_shots, storyboard_attention

            guidance = sampler["guidance_scale"] > 1.0
            prompt_kwargs = encode_shots(
                pipe, prompt, request.negative_prompt, guidance, caps.max_sequence_length
            )
            storyboard = storyboard_attention(pipe, ends)
        kwargs = dict(
            **prompt_kwargs,
            height=height,
            width=width,
            num_frames=num_frames,
            frame_rate=float(caps.fps),
            **schedule,
            # A CPU generator gives the same noise whatever the device the model runs on.
            generator=torch.Generator(device="cpu").manual_seed(request.seed),
            output_type="pt",
            max_sequence_length=caps.max_sequence_length,
            callback_on_step_end=on_step_end,
            callback_on_step_end_tensor_inputs=["latents"],
            **sampler,
        )
        if conditions:
            kwargs["conditions"] = conditions
        elif condition is not None:
            kwargs["image"] = _fit(condition, (width, height))
            if reference_voice is not None:
                kwargs["reference_audio"] = reference_voice
                kwargs["identity_guidance_scale"] = self.identity_scale

        call_started = time.perf_counter()
        timings = {}
        with storyboard:
            if two_stage:
                first = pipe(**dict(kwargs, height=half[0], width=half[1], output_type="latent"))
                upsample_started = time.perf_counter()
                timings["stage1_s"] = upsample_started - call_started
                upsampled = self._upsample_pipe(
                    latents=first.frames.to(self._upsample_pipe.latent_upsampler.dtype),
                    height=half[0],
                    width=half[1],
                    num_frames=num_frames,
                    latents_normalized=False,
                    output_type="latent",
                    return_dict=False,
                )[0]
                timings["upsample_s"] = time.perf_counter() - upsample_started
                state.update(offset=first_steps, previous=None, latent_shape=shape_at(height, width))
                kwargs.update(
                    latents=upsampled,
                    audio_latents=first.audio,
                    sigmas=refine,
                    num_inference_steps=len(refine),
                    noise_scale=refine[0],
                    generator=torch.Generator(device="cpu").manual_seed(request.seed + 1),
                )
            output = pipe(**kwargs)
        finished = time.perf_counter()
        denoised_at = state["denoised_at"] or finished
        timings.update(
            denoise_s=denoised_at - call_started,
            decode_s=finished - denoised_at,
            preview_s=state["preview_s"],
        )
        video = output.frames[0]  # (T, 3, H, W) float in [0, 1]
        audio = output.audio[0].float().cpu().numpy().astype(np.float32)
        return video, audio, timings

    def _schedule(self, steps: int) -> dict:
        """The first (or only) pass's schedule: the distilled 8 sigmas, or ``steps`` default ones."""
        if self.distilled:
            from diffusers.pipelines.ltx2.utils import DISTILLED_SIGMA_VALUES

            return {
                "num_inference_steps": len(DISTILLED_SIGMA_VALUES),
                "sigmas": list(DISTILLED_SIGMA_VALUES),
            }
        return {"num_inference_steps": steps}

    @staticmethod
    def _refine_sigmas() -> list[float]:
        from diffusers.pipelines.ltx2.utils import STAGE_2_DISTILLED_SIGMA_VALUES

        return list(STAGE_2_DISTILLED_SIGMA_VALUES)

    def _preview(self, pipe, latents, previous, i, latent_shape) -> bytes | None:
        """A ≤256 px JPEG of the current estimate of the clip's middle frame.

        The estimate is the model's clean-sample prediction, recovered from two consecutive
        flow-matching states (x0 = x_t - sigma_t * v with v = dx / dsigma), so it shows the scene
        early instead of noise. That one latent frame is decoded with the real VAE (a single
        latent frame decodes to a single image) and scaled down; on a GPU that costs a small
        fraction of one denoising step. Returns None on the first step of a multi-step run, where
        no earlier state exists yet. Runs inside the pipeline's ``no_grad`` context.
        """
        sigmas = pipe.scheduler.sigmas
        sigma_next = float(sigmas[i + 1])
        if sigma_next == 0.0:
            estimate = latents
        elif previous is None:
            return None
        else:
            velocity = (latents - previous) / (sigma_next - float(sigmas[i]))
            estimate = latents - sigma_next * velocity
        frames, height, width = latent_shape
        unpacked = pipe._unpack_latents(
            # Keyframe conditions (a retake's frames after its range) are extra tokens after the video's.
            estimate[:, : frames * height * width],
            frames,
            height,
            width,
            pipe.transformer_spatial_patch_size,
            pipe.transformer_temporal_patch_size,
        )
        middle = unpacked[:1, :, frames // 2 : frames // 2 + 1]
        middle = pipe._denormalize_latents(
            middle, pipe.vae.latents_mean, pipe.vae.latents_std, pipe.vae.config.scaling_factor
        ).to(pipe.vae.dtype)
        timestep = None
        if pipe.vae.config.timestep_conditioning:
            import torch

            timestep = torch.zeros(1, device=middle.device, dtype=middle.dtype)
        image = pipe.vae.decode(middle, timestep, return_dict=False)[0][0, :, 0]  # (3, H, W) in [-1, 1]
        rgb = ((image.float() + 1) * 127.5).round().clamp(0, 255).byte().permute(1, 2, 0).cpu().numpy()
        return _jpeg(rgb)

    @staticmethod
    def _to_output_frames(video, out_width: int, out_height: int, chunk: int = 16) -> np.ndarray:
        """(T, 3, H, W) float [0, 1] on device -> uint8 (T, out_h, out_w, 3) numpy, scaling if needed.

        Scales on the device in chunks (bicubic, antialiased) so a 12 s 720p clip never needs the
        whole float video at output size at once.
        """
        import torch
        import torch.nn.functional as F

        total, _, height, width = video.shape
        result = np.empty((total, out_height, out_width, 3), dtype=np.uint8)
        for begin in range(0, total, chunk):
            part = video[begin : begin + chunk].float()
            if (height, width) != (out_height, out_width):
                part = F.interpolate(part, size=(out_height, out_width), mode="bicubic", antialias=True)
            part = part.mul(255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
            result[begin : begin + chunk] = part.cpu().numpy()
        return result


def _resample(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    """(channels, n) audio at ``rate`` -> at ``target`` by linear interpolation (same rate: as is).

    Only for a source file written at another rate than the model's; ours are written at its rate.
    """
    if rate == target:
        return audio.astype(np.float32, copy=False)
    count = round(audio.shape[1] * target / rate)
    positions = np.arange(count) * rate / target
    return np.stack([np.interp(positions, np.arange(audio.shape[1]), channel) for channel in audio]).astype(
        np.float32
    )


def _join_with_fades(parts: list[np.ndarray], fade: int) -> np.ndarray:
    """Concatenate (channels, n) tracks, fading each side of every internal cut over ``fade`` samples."""
    if len(parts) == 1:
        return np.ascontiguousarray(parts[0], dtype=np.float32)
    parts = [part.astype(np.float32, copy=True) for part in parts]
    for number, part in enumerate(parts):
        length = min(fade, part.shape[1])
        if length == 0:
            continue
        ramp = np.linspace(0.0, 1.0, length, endpoint=False, dtype=np.float32)
        if number > 0:
            part[:, :length] *= ramp
        if number < len(parts) - 1:
            part[:, part.shape[1] - length :] *= ramp[::-1]
    return np.concatenate(parts, axis=1)


_engines: dict[tuple, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(
    model: str,
    profile: str,
    device: str = "auto",
    dtype: str = "auto",
    cpu_offload: bool = False,
    vae_tiling: bool = False,
    id_lora: str | None = None,
    identity_scale: float = 0.0,
    **fast_path,
) -> Engine:
    """The process-wide engine for these settings, created on first use.

    Loading is lazy (first :meth:`Engine.generate` or an explicit :meth:`Engine.load`), and happens
    once per process for each distinct setting, so a worker pays for the weights once, not per job.
    The ID-LoRA path and identity scale are part of the setting, and so are the GPU fast-path
    switches in ``fast_path`` (two_stage, distilled, compile, attention_backend; see Engine).
    """
    key = (
        str(model),
        profile,
        device,
        dtype,
        cpu_offload,
        vae_tiling,
        str(id_lora or ""),
        float(identity_scale),
        tuple(sorted(fast_path.items())),
    )
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = Engine(
                str(model),
                get_capabilities(profile),
                device=device,
                dtype=dtype,
                cpu_offload=cpu_offload,
                vae_tiling=vae_tiling,
                id_lora=id_lora,
                identity_scale=identity_scale,
                **fast_path,
            )
            _engines[key] = engine
        return engine
