"""Frames of an existing video as conditions of a pass: the motion an extension continues, and the
context around a retake's range.

The VAE encodes 1 frame into the first latent frame and 8 into every later one, so conditions are
cut to 8k+1 frames and keyframes sit at latent-frame boundaries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .request import CONTINUE_FRAMES, RETAKE_CONTEXT_FRAMES, GenerationRequest, Retake


def continuation(request: GenerationRequest) -> tuple[list | None, int]:
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
    return [LTX2VideoCondition(frames=np.ascontiguousarray(frames[-count:]), index=0, strength=1.0)], count


@dataclass(frozen=True)
class RetakeWindow:
    """The frames one retake pass renders: ``before`` context frames, then source frames
    ``[first, end)`` regenerated, then ``after`` context frames (plus 7 free ones)."""

    first: int
    end: int
    before: int
    after: int

    @property
    def length(self) -> int:
        return self.end - self.first

    @property
    def num_frames(self) -> int:
        return self.before + self.length + (self.after + 7 if self.after else 0)


def retake_window(retake: Retake, fps: int) -> RetakeWindow:
    """The window around ``retake``'s range, rounded out to whole latent frames inside the video.

    Up to ``RETAKE_CONTEXT_FRAMES`` source frames before the range and as many after it; raises
    ``ValueError`` when the range is not inside the video or leaves it fewer than 8 frames.
    """
    total = len(retake.frames)
    first = round(retake.start * fps)
    wanted = round(retake.end * fps) - first
    if not 0 <= first < total or wanted < 1:
        raise ValueError("the range to retake must lie inside the video")
    before = _whole_latent_frames(min(first, RETAKE_CONTEXT_FRAMES))
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
    after = _whole_latent_frames(min(total - end, RETAKE_CONTEXT_FRAMES))
    return RetakeWindow(first=first, end=end, before=before, after=after)


def retake_conditions(source: np.ndarray, window: RetakeWindow) -> list | None:
    """The context before the range (a condition at latent index 0) and after it (a keyframe
    condition where the range ends); None when the range has no context on either side."""
    from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition

    first, end, before, after = window.first, window.end, window.before, window.after
    conditions = []
    if before:
        conditions.append(
            LTX2VideoCondition(frames=np.ascontiguousarray(source[first - before : first]), index=0)
        )
    if after:
        conditions.append(
            LTX2VideoCondition(
                frames=np.ascontiguousarray(source[end : end + after]),
                index=(before + window.length - 1) // 8 + 1,
            )
        )
    return conditions or None


def _whole_latent_frames(count: int) -> int:
    """The most frames, at most ``count``, that encode to whole latent frames (8k+1; 0 stays 0)."""
    return (count - 1) // 8 * 8 + 1 if count else 0
