"""Blind detection: accumulate the clip, resynchronise on the pilots, decode the soft bits.

The frames' luma is accumulated over the whole clip (luma.py), band-passed, and the keyed pilot
template is searched for over every crop of 0-10% per side, in both orientations of a
horizontal flip (sync.py). The best few alignments are refined, their soft coded bits (each the
sum of its ~20 cells, over every frame) go through the soft Viterbi decoder, and an id is
accepted only when the keyed CRC matches: a video without our mark passes with probability
~ (decodes tried) × 2^-32. Black bars are trimmed first; vertical video runs the grid along its
long side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .channel import coded_bits, decode_payload, viterbi
from .geometry import bandpass, oriented, sample
from .layout import CRC_BITS, DEFAULT_KEY, layout_for
from .luma import MeanLuma, mean_luma
from .sync import coarse_search, refine


@dataclass(frozen=True)
class TrackingReading:
    """Result of reading a tracking mark; `tracking_id` is set only when the keyed CRC matched.

    `sync` is the pilot correlation z-score of the best alignment (unmarked video: ~4-5, the
    maximum of many random hypotheses; readable marks: well above 8). `confidence` is 1.0 minus
    the chance of a false id when an id was read, else a 0..1 "looks marked" indication.
    """

    tracking_id: int | None
    confidence: float
    sync: float
    crop: tuple[float, float, float, float]  # left, right, top, bottom fractions removed (of the
    # frame as seen, i.e. after un-mirroring when `flipped`)
    flipped: bool
    frames: int
    # Soft coded-bit values at the chosen alignment (for bit error rates in benchmarks).
    soft: np.ndarray | None = field(default=None, repr=False, compare=False)
    # True when the id was not decoded but confirmed among candidates (see
    # confirm.confirm_tracking_from_luma); `sync` is then the whole pattern's z-score.
    confirmed: bool = False


def residuals(mean: MeanLuma) -> tuple[dict[bool, np.ndarray], bool]:
    """The band-passed landscape residual as read and mirrored ({flipped: residual}), and
    whether the video is portrait (a horizontal flip then flips the transposed rows)."""
    portrait = mean.luma.shape[0] > mean.luma.shape[1]
    residual = bandpass(oriented(mean.luma))
    mirrored = np.ascontiguousarray(np.flip(residual, axis=0 if portrait else 1))
    return {False: residual, True: mirrored}, portrait


def as_seen(crop: tuple[float, ...], portrait: bool) -> tuple[float, float, float, float]:
    """A landscape-layout crop as (left, right, top, bottom) of the video, rounded."""
    if portrait:
        crop = (crop[2], crop[3], crop[0], crop[1])
    return tuple(round(max(c, 0.0), 4) for c in crop)  # type: ignore[return-value]


def read_tracking_from_luma(
    mean: MeanLuma, *, key: bytes = DEFAULT_KEY, candidates: int = 3
) -> TrackingReading:
    """Find and decode the mark in a `mean_luma` result; see the module docstring.

    Cost: ~0.3 s. The sync search runs on the residual decimated by 2 with a coarse crop step;
    the best `candidates` alignments (over both flips) are refined at full resolution, decoded,
    and the first whose CRC matches wins."""
    layout = layout_for(key)
    flips, portrait = residuals(mean)
    found = [
        (z, flipped, crop)
        for flipped, res in flips.items()
        for z, crop in coarse_search(res, layout.pilot, candidates)
    ]
    found.sort(key=lambda item: -item[0])
    readings = []
    for tried, (_, flipped, crop) in enumerate(found[:candidates], start=1):
        res = flips[flipped]
        sync, crop = refine(res, crop, layout.pilot)
        soft = sample(res, crop) @ layout.spread
        tracking_id = decode_payload(viterbi(soft), layout)
        seen = as_seen(crop, portrait)
        if tracking_id is not None:
            confidence = 1.0 - tried * 2.0**-CRC_BITS
            return TrackingReading(tracking_id, confidence, sync, seen, flipped, mean.frames, soft)
        readings.append(TrackingReading(None, _looks_marked(sync), sync, seen, flipped, mean.frames, soft))
    return max(readings, key=lambda r: r.sync)


def _looks_marked(sync: float) -> float:
    # Unmarked videos peak around z 3-5 over all hypotheses; readable marks sit above 8.
    return float(np.clip((sync - 5.0) / 5.0, 0.0, 0.99))


def read_tracking(path: str | Path, *, key: bytes = DEFAULT_KEY, max_frames: int = 600) -> TrackingReading:
    """Decode up to `max_frames` frames of `path` and read the tracking mark. Cost: decoding
    plus ~0.5 s of search. Raises `av.error.FFmpegError`/`ValueError` on unreadable input."""
    return read_tracking_from_luma(mean_luma(path, max_frames=max_frames), key=key)


def extract_tracking_id(path: str | Path, *, key: bytes = DEFAULT_KEY) -> tuple[int | None, float]:
    """(tracking id or None, confidence 0..1) for the video at `path`; see `read_tracking`."""
    reading = read_tracking(path, key=key)
    return reading.tracking_id, reading.confidence


def bit_error_rate(reading: TrackingReading, tracking_id: int, *, key: bytes = DEFAULT_KEY) -> float:
    """Fraction of coded bits whose soft value in `reading` has the wrong sign for `tracking_id`
    (0.5 is chance); the channel code corrects up to roughly 10%."""
    if reading.soft is None:
        return 0.5
    coded = coded_bits(tracking_id, layout_for(key))
    return float(np.mean((reading.soft > 0) != (coded > 0)))
