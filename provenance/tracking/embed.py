"""Embedding: the chip amplitudes for one export and the per-frame luma pattern.

The same pattern is added to every frame, so the detector can accumulate all frames: moving
content averages out and the mark does not. What does not average out is the static part of the
video itself, which at the detector is ~10 dB stronger than the mark. Because the exporter knows
the video, it measures that host interference first (a decode-only pre-pass, `host_chips`) and
sets each coded bit's amplitude so the detector sees the right sign with a margin ("informed
embedding"): bits the content already pushes the right way get a small amplitude, the others
more, up to a cap. This keeps the amplitude (and the H.264 size growth a static pattern causes
under motion) low.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from .channel import coded_bits
from .geometry import oriented, render, sampled_bandpass, sampled_response
from .layout import DEFAULT_KEY, layout_for
from .luma import WORK_WIDTH, MeanLuma

# Baseline chip amplitude in luma levels (small frames), the one at 720p and above, and the
# range of the informed gain around it.
DEFAULT_STRENGTH = 2.2
LARGE_STRENGTH = 1.7
MAX_GAIN = 2.5
MIN_GAIN = 0.3


def host_chips(mean: MeanLuma) -> np.ndarray:
    """What the detector would read at each cell of the unmarked video: (cells,) float32."""
    return sampled_bandpass(oriented(mean.luma)).astype(np.float32)


def _per_bit(values: np.ndarray, layout) -> np.ndarray:
    """`values @ layout.spread` (each coded bit's signed sum over its cells), without the
    dense (cells, bits) product."""
    data = layout.data
    weights = values[data].astype(np.float64) * layout.sign_of_cell[data]
    return np.bincount(layout.bit_of_cell[data], weights, minlength=layout.spread.shape[1])


def chip_amplitudes(
    tracking_id: int,
    *,
    key: bytes = DEFAULT_KEY,
    host: np.ndarray | None = None,
    strength: float = DEFAULT_STRENGTH,
    work_shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """Signed chip values (cells,) in luma levels for `tracking_id`.

    Without `host` every chip is ±strength. With the host interference from `host_chips` (and
    the `work_shape` of that mean luma), each coded bit's amplitude is chosen so that host plus
    mark reach the soft value `strength` alone would give on a neutral host, within
    [MIN_GAIN, MAX_GAIN] × strength.
    """
    layout = layout_for(key)
    coded = 2.0 * coded_bits(tracking_id, layout) - 1.0
    unit = layout.unit_chips(coded)
    if host is None:
        return strength * unit
    h, w = work_shape or (round(WORK_WIDTH * 9 / 16), WORK_WIDTH)
    response = sampled_response(unit, w, h)
    lo, hi = MIN_GAIN * strength, MAX_GAIN * strength
    # Data: one amplitude per coded bit, so host + mark reach the neutral-host soft value.
    mark_soft = _per_bit(response, layout) * coded  # > 0: what unit amplitude adds per bit
    host_soft = _per_bit(host, layout) * coded  # > 0 where the content already helps
    gain = np.clip((strength * mark_soft - host_soft) / np.maximum(mark_soft, 1e-6), lo, hi)
    # Pilots: one amplitude for all, cancelling the host's pilot correlation at the true
    # alignment (its spread is small next to the pilots' total, so this costs little).
    pilot_mark = float(response @ layout.pilot.ravel())
    pilot_host = float(host @ layout.pilot.ravel())
    pilot_gain = float(np.clip((strength * pilot_mark - pilot_host) / max(pilot_mark, 1e-6), lo, hi))
    amplitude = np.where(layout.data, gain[np.maximum(layout.bit_of_cell, 0)], pilot_gain)
    return unit * amplitude


def strength_for(width: int, height: int) -> float:
    """Default chip amplitude for a video of this size: DEFAULT_STRENGTH up to the tiny profile's
    320×192, falling (log-linearly in pixels) to LARGE_STRENGTH at 720p and above.

    A small frame has few pixels per cell for the encoder to keep, so it needs the stronger mark;
    at 704×1280 the weaker one still decodes after CRF 35 and costs the encoder less on panning
    content, where a static pattern is new residual in every frame (bench/bench_export.py)."""
    small, large = math.log(320 * 192), math.log(1280 * 720)
    t = min(max((math.log(max(width * height, 1)) - small) / (large - small), 0.0), 1.0)
    return DEFAULT_STRENGTH + t * (LARGE_STRENGTH - DEFAULT_STRENGTH)


@lru_cache(maxsize=4)
def _dither(height: int, width: int) -> np.ndarray:
    dither = np.random.default_rng(0).uniform(-0.5, 0.5, (height, width)).astype(np.float32)
    dither.flags.writeable = False  # cached: the same for every export of this size
    return dither


class TrackingMark:
    """Adds a tracking pattern to the luma plane of yuv420p frames of one size.

    Cost: ~1 ms per 720p frame (two uint8 passes). Luma is first limited to
    [peak, 255 - peak] so the wrapping uint8 addition cannot overflow; this only touches
    super-black and super-white values that video-range content does not use.
    """

    def __init__(self, chips: np.ndarray, width: int, height: int):
        # Rounding a smooth sub-2-level field to integers draws sharp 1-level contours, which
        # H.264 then spends bits re-creating wherever content moves across them; a static
        # dither breaks them up into noise the encoder quantises away (measured: about a third
        # less size growth).
        dither = _dither(height, width)
        smooth = render(chips, height, width).T if height > width else render(chips, width, height)
        pattern = np.rint(smooth + dither)
        self.limit = int(np.abs(pattern).max())
        self.height = height
        self.delta = pattern.astype(np.int16).astype(np.uint8)  # two's complement: wraps back

    @classmethod
    def for_video(
        cls,
        tracking_id: int,
        width: int,
        height: int,
        *,
        key: bytes = DEFAULT_KEY,
        mean: MeanLuma | None = None,
        strength: float = DEFAULT_STRENGTH,
    ) -> TrackingMark:
        """The mark for `tracking_id`, informed by the video's `mean_luma` when given."""
        host = host_chips(mean) if mean is not None else None
        shape = oriented(mean.luma).shape if mean is not None else None
        chips = chip_amplitudes(tracking_id, key=key, host=host, strength=strength, work_shape=shape)
        return cls(chips, width, height)

    def apply(self, yuv: np.ndarray) -> None:
        """Add the mark to the luma rows of a (H*3/2, W) uint8 yuv420p array, in place."""
        luma = yuv[: self.height]
        np.clip(luma, self.limit, 255 - self.limit, out=luma)
        luma += self.delta
