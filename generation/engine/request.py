"""What the engine is asked to render and what it gives back; plain data, importable anywhere.

Nothing here imports torch: the web process builds requests and reads progress with these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image


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
