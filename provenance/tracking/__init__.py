"""Invisible tracking mark: a keyed spread-spectrum pattern in the low/mid spatial frequencies
of luma that carries a 64-bit id through re-uploads.

- `layout`: the keyed grid of cells, pilots (the sync template) and data cells (~20 per bit).
- `channel`: keyed CRC-32, whitening, rate-1/2 K=7 convolutional code, soft Viterbi.
- `geometry`: the smooth chip kernel, the detector's band-pass, cell positions under crops.
- `embed`: informed chip amplitudes and the per-frame pattern (`TrackingMark`).
- `luma`: accumulation of the clip's frames (the soft evidence of every frame adds up).
- `sync`: resynchronisation by a search over scale and offset per axis, both flips.
- `detect`: blind reading; `confirm`: testing the fingerprint's candidates' patterns.

Measured in bench/bench_tracking.py (BENCHMARKS.md, "Tracking mark and identification"). Without
the key nobody can read, forge or precisely subtract the mark, so the site passes a secret key
(derived from its SECRET_KEY); `DEFAULT_KEY` exists for tests and tools.
"""

from .confirm import CONFIRM_Z, confirm_tracking_from_luma
from .detect import (
    TrackingReading,
    bit_error_rate,
    extract_tracking_id,
    read_tracking,
    read_tracking_from_luma,
)
from .embed import DEFAULT_STRENGTH, TrackingMark, chip_amplitudes, host_chips, strength_for
from .layout import CODED_BITS, DEFAULT_KEY
from .luma import LumaSum, MeanLuma, mean_luma

__all__ = [
    "CODED_BITS",
    "CONFIRM_Z",
    "DEFAULT_KEY",
    "DEFAULT_STRENGTH",
    "LumaSum",
    "MeanLuma",
    "TrackingMark",
    "TrackingReading",
    "bit_error_rate",
    "chip_amplitudes",
    "confirm_tracking_from_luma",
    "extract_tracking_id",
    "host_chips",
    "mean_luma",
    "read_tracking",
    "read_tracking_from_luma",
    "strength_for",
]
