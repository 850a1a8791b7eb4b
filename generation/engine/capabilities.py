"""What each generation profile can do: sizes, durations, frame rate, default sampler settings.

Pure Python on purpose: forms, views and templates read these numbers in the web process, which must
never import torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Capabilities:
    """The offer of one model profile.

    ``sizes`` are what the model generates (width, height), always divisible by 32 because the LTX-2
    VAE compresses 32x in space; ``output_sizes`` are what the delivered MP4 has. Durations are whole
    seconds; the frame count actually generated comes from :meth:`num_frames`.
    """

    name: str
    fps: int
    sizes: dict[str, tuple[int, int]]
    output_sizes: dict[str, tuple[int, int]]
    durations: tuple[int, ...]
    shot_durations: tuple[int, ...]
    max_total_seconds: int
    steps: int
    guidance_scale: float
    min_shots: int = 2
    max_shots: int = 6
    # Prompt tokens fed to the text encoder (prompts are padded to this length). Not in the original
    # brief; added with a default so callers constructing Capabilities by keyword keep working.
    max_sequence_length: int = field(default=1024)
    # Longest storyboard rendered in one joint pass (all shots' tokens at once); longer ones go shot
    # by shot. 0 means "as long as max_total_seconds".
    one_pass_seconds: int = 0
    # Which LTX architecture the profile runs (see architectures.FAMILIES), the rate of the audio
    # its vocoder writes, whether its text encoder rewrites prompts before generating (prompt
    # enhancement) and whether it can pick a clip's length itself (LTX-2.5's duration head).
    family: str = "ltx2"
    audio_sample_rate: int = 24000
    prompt_enhancement: bool = False
    auto_duration: bool = False
    # Distilled checkpoints need few steps; the GPU fast path (two-stage) uses this many.
    distilled_steps: int = 8

    def __post_init__(self):
        if not self.one_pass_seconds:
            object.__setattr__(self, "one_pass_seconds", self.max_total_seconds)

    def num_frames(self, seconds: float) -> int:
        """Smallest frame count of the form 8k+1 whose duration at ``fps`` is at least ``seconds``.

        LTX-2's VAE compresses time 8x with one extra leading frame, so only 8k+1 frames decode
        without the pipeline silently rounding down.
        """
        if seconds <= 0:
            raise ValueError("seconds must be positive")
        # Round first so float noise (e.g. 2.0000000001 * 24) doesn't add a whole latent frame.
        wanted = round(seconds * self.fps, 6)
        k = max(0, math.ceil((wanted - 1) / 8))
        return 8 * k + 1

    def seconds_for(self, num_frames: int) -> float:
        """Exact playback duration of ``num_frames`` frames."""
        return num_frames / self.fps


PROFILES: dict[str, Capabilities] = {
    # Random-weight LTX-2 built offline by ``build_tiny_model``: same architecture and compression as
    # the real model, so every code path (audio, conditioning, storyboards, previews) runs, but small
    # enough that a 2 s clip takes seconds on two CPU cores. 24 fps like the real model so frame and
    # sample arithmetic are the same in tests as in production.
    "tiny": Capabilities(
        name="tiny",
        fps=24,
        sizes={"portrait": (192, 320), "landscape": (320, 192)},
        output_sizes={"portrait": (192, 320), "landscape": (320, 192)},
        durations=(1, 2, 4),
        shot_durations=(1, 2),
        max_total_seconds=8,
        steps=4,
        # Guidance off: one transformer pass per step instead of three (CFG + STG + modality).
        guidance_scale=1.0,
        max_sequence_length=64,
        # Short enough that the tests reach the sequential mode with a 6 s storyboard.
        one_pass_seconds=4,
    ),
    # Lightricks LTX-2 (diffusers format). 24 fps is its native rate. 720p is the delivered size, but
    # the VAE needs multiples of 32, so 704x1280 is generated and scaled up by 16 px on the short side.
    # 30 steps and CFG 3.0 follow the diffusers LTX-2 example; the pipeline's other guidance defaults
    # (STG, modality isolation, rescale) are left as diffusers ships them. Durations stop at 12 s:
    # the pipeline's own duration range is 1-20 s and token count (so attention cost) grows with
    # length; 12 s at 704x1280 is ~33k video tokens, which an 80 GB GPU handles in one pass.
    # Storyboards up to 12 s render in one pass; longer ones shot by shot, each conditioned on the last.
    "ltx2": Capabilities(
        name="ltx2",
        fps=24,
        sizes={"portrait": (704, 1280), "landscape": (1280, 704)},
        output_sizes={"portrait": (720, 1280), "landscape": (1280, 720)},
        durations=(4, 8, 12),
        shot_durations=(2, 3, 4, 5, 6),
        max_total_seconds=20,
        steps=30,
        guidance_scale=3.0,
        max_sequence_length=1024,
        # One pass holds as much as the longest single clip (the token count an 80 GB GPU handles).
        one_pass_seconds=12,
    ),
}


def _tiny(family: str, **fields) -> Capabilities:
    """A tiny profile of ``family``: the tiny sizes and steps, that family's audio and features."""
    return replace(PROFILES["tiny"], name=f"tiny-{family}", family=family, **fields)


def _full(family: str, **fields) -> Capabilities:
    return replace(PROFILES["ltx2"], name=family, family=family, **fields)


# LTX-2.3 and 2.5: 48 kHz audio (vocoder + bandwidth extension), prompt enhancement by the text
# encoder (2.3) or a dedicated enhancer (2.5), clips up to 20 s; 2.5 also predicts a caption's
# natural length. Same VAE compression and 24 fps as LTX-2, so sizes stay multiples of 32.
PROFILES.update(
    {
        "ltx2.3": _full(
            "ltx2.3",
            audio_sample_rate=48000,
            prompt_enhancement=True,
            durations=(4, 8, 12, 16, 20),
            one_pass_seconds=16,
        ),
        "ltx2.5": _full(
            "ltx2.5",
            audio_sample_rate=48000,
            prompt_enhancement=True,
            auto_duration=True,
            durations=(4, 8, 12, 16, 20),
            one_pass_seconds=16,
        ),
        "tiny-ltx2.3": _tiny("ltx2.3", audio_sample_rate=48000, prompt_enhancement=True),
        "tiny-ltx2.5": _tiny("ltx2.5", audio_sample_rate=48000, prompt_enhancement=True, auto_duration=True),
    }
)


def capability_table() -> list[dict]:
    """Every profile's offer in one table (one dict per profile), for the README and the bench."""
    return [
        {
            "profile": caps.name,
            "family": caps.family,
            "sizes": ", ".join(f"{w}x{h}" for w, h in caps.output_sizes.values()),
            "durations": caps.durations,
            "one_pass_seconds": caps.one_pass_seconds,
            "fps": caps.fps,
            "steps": caps.steps,
            "distilled_steps": caps.distilled_steps,
            "audio_sample_rate": caps.audio_sample_rate,
            "prompt_enhancement": caps.prompt_enhancement,
            "auto_duration": caps.auto_duration,
        }
        for caps in PROFILES.values()
    ]


def get_capabilities(name: str) -> Capabilities:
    """The profile called ``name``; raises ``KeyError`` naming the known profiles otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown generation profile {name!r}; known: {', '.join(sorted(PROFILES))}") from None
