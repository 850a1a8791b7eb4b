"""Confirmation: which of a few candidate ids (named by the fingerprint) is marked in a copy
whose mark is too damaged to decode blindly.

Testing whether one known pattern is present needs far less signal than decoding 204 unknown
bits: every data cell counts (four times as many cells as the pilots) and nothing has to be
error-corrected, so a copy whose raw bit error rate is far beyond the code's reach (up to
~0.35) still shows its pattern. The mark and the fingerprint thus back each other up: a video
must look like a post AND carry that post's keyed pattern, or carry a decodable id with a valid
keyed CRC.
"""

from __future__ import annotations

import math

import numpy as np

from .channel import coded_bits
from .detect import TrackingReading, as_seen, residuals
from .geometry import sample
from .layout import DEFAULT_KEY, GRID_X, GRID_Y, Layout, layout_for
from .luma import MeanLuma
from .sync import coarse_search, refine, score_at

# Whole-pattern z-score that confirms a candidate id ...
CONFIRM_Z = 7.0
# ... and at least this multiple of the pilots' z-score at the same alignment.
CONFIRM_RATIO = 1.2


def data_pattern(tracking_id: int, layout: Layout) -> np.ndarray:
    """The unit-amplitude signs of `tracking_id`'s data cells, 0 on pilots: (GRID_Y, GRID_X).

    Pilots are left out because every id shares them: with them, a strong mark of one export
    would correlate with any other candidate's pattern."""
    coded = 2.0 * coded_bits(tracking_id, layout) - 1.0
    return layout.unit_chips(coded, pilots=False).astype(np.float32).reshape(GRID_Y, GRID_X)


def _best_alignment(flips: dict[bool, np.ndarray], pattern: np.ndarray) -> tuple[float, bool, tuple]:
    """(z, flipped, crop) of `pattern`'s best alignment over every crop in both flips."""
    best = None
    for flipped, res in flips.items():
        ((_, coarse),) = coarse_search(res, pattern, 1)
        z, crop = refine(res, coarse, pattern)
        if best is None or z > best[0]:
            best = (z, flipped, crop)
    return best


def confirm_tracking_from_luma(
    mean: MeanLuma, tracking_ids: list[int], *, key: bytes = DEFAULT_KEY
) -> TrackingReading | None:
    """Which of `tracking_ids` is marked in the video, when the blind read found no id: a
    reading for it, or None.

    Each candidate's whole data pattern is searched over every crop in both flips; the best
    z-score must reach CONFIRM_Z, which unmarked videos do not (maximum of ~15 k hypotheses,
    about 4-5), and CONFIRM_RATIO times the pilots' z-score there, which another export's
    pattern does not: tracking ids are random, so two ids' coded bits agree by chance only
    (correlation ~±0.07), and a mark strong enough to lend a wrong pattern CONFIRM_Z also lends
    the pilots far more. Exactly one candidate must pass (two: neither can be trusted). Cost:
    ~0.1 s per candidate."""
    layout = layout_for(key)
    flips, portrait = residuals(mean)
    passed = []
    for tracking_id in dict.fromkeys(tracking_ids):
        z, flipped, crop = _best_alignment(flips, data_pattern(tracking_id, layout))
        # The pilots show how strong the mark is there, whatever its id.
        pilots = score_at(flips[flipped], crop, layout.pilot)
        if z >= CONFIRM_Z and z >= CONFIRM_RATIO * pilots:
            passed.append((z, tracking_id, flipped, crop))
    if len(passed) != 1:
        return None
    z, tracking_id, flipped, crop = passed[0]
    soft = sample(flips[flipped], crop) @ layout.spread
    # Chance that an unmarked video reaches z somewhere: ~hypotheses × candidates × tail.
    false_alarm = min(1.0, 3e4 * len(tracking_ids) * math.erfc(z / math.sqrt(2)) / 2)
    return TrackingReading(
        tracking_id, 1.0 - false_alarm, z, as_seen(crop, portrait), flipped, mean.frames, soft, confirmed=True
    )
