"""Resynchronisation: find how a copy was cropped, rescaled or mirrored, from the pilots.

Every hypothesis is a pair of crops per axis (the fractions removed at each end, 0-MAX_CROP),
i.e. an offset and a scale per axis; the keyed pilot template is correlated with the band-passed
luma at every hypothesis (separable sums: ~15 k hypotheses on a 2× decimated residual in
~0.1 s), and the best few are refined at full resolution.
"""

from __future__ import annotations

import numpy as np

from .geometry import positions
from .layout import GRID_X, GRID_Y

MAX_CROP = 0.10
COARSE_STEP = 0.01


def crop_pairs(lo: float = 0.0, hi: float = MAX_CROP, step: float = COARSE_STEP) -> np.ndarray:
    """(n, 2) every (start, end) crop pair of one axis on a `step` grid."""
    values = np.arange(lo, hi + step / 2, step)
    a, b = np.meshgrid(values, values, indexing="ij")
    return np.stack([a.ravel(), b.ravel()], axis=1)


def sync_scores(
    residual: np.ndarray, xpairs: np.ndarray, ypairs: np.ndarray, pattern: np.ndarray
) -> np.ndarray:
    """Correlation z-scores (n_ypairs, n_xpairs) of a (GRID_Y, GRID_X) `pattern` (the pilots, or
    a candidate's whole pattern) for every pair of axis crops.

    Separable: the column positions depend only on the x crop and the rows only on the y crop,
    so sum_cells pilot * R[row, col] = sum_rows (R[:, cols] @ pilot.T)[row]. The noise term
    uses the frame's mean residual energy times the number of pilots still inside the frame."""
    h, w = residual.shape
    xi, xin = positions(w, GRID_X, xpairs)
    yi, yin = positions(h, GRID_Y, ypairs)
    # Gather whole columns (contiguous rows of the transpose), correlate them with the pilot
    # grid in one matrix product, then add up one gathered row per grid row: far faster than
    # element-wise fancy indexing of a (rows, hypotheses, cells) array.
    columns = np.ascontiguousarray(residual.T)[xi] * xin[..., None]  # (nx, GX, h)
    per_row = pattern @ columns.transpose(1, 0, 2).reshape(GRID_X, -1)  # (GY, nx * h)
    per_row = np.ascontiguousarray(per_row.reshape(GRID_Y, len(xpairs), h).transpose(0, 2, 1))
    corr = np.zeros((len(ypairs), len(xpairs)), np.float32)
    for gy in range(GRID_Y):
        corr += per_row[gy, yi[:, gy]] * yin[:, gy, None]
    inside = yin.astype(np.float32) @ np.abs(pattern) @ xin.T.astype(np.float32)
    return corr / np.sqrt(float(np.mean(residual * residual)) * inside + 1e-9)


def local_maxima(scores: np.ndarray, count: int, spacing: int = 2) -> list[tuple[int, int]]:
    """Up to `count` (row, column) peaks of `scores`, more than `spacing` apart."""
    picked: list[tuple[int, int]] = []
    for index in np.argsort(scores, axis=None)[::-1][: count * 200]:
        iy, ix = (int(i) for i in np.unravel_index(index, scores.shape))
        if all(max(abs(iy - py), abs(ix - px)) > spacing for py, px in picked):
            picked.append((iy, ix))
        if len(picked) == count:
            break
    return picked


def coarse_search(residual: np.ndarray, pattern: np.ndarray, count: int) -> list[tuple[float, tuple]]:
    """The `count` best (z, crop) hypotheses for `pattern` on the 2× decimated `residual`.

    The band-passed residual has nothing above ~1/3 of the cell frequency, so decimating by two
    (cells still ~2.7 px) keeps the sync peak while quartering the search cost."""
    pairs = crop_pairs(step=COARSE_STEP)
    scores = sync_scores(residual[::2, ::2], pairs, pairs, pattern)
    return [
        (float(scores[iy, ix]), tuple(float(c) for c in (*pairs[ix], *pairs[iy])))
        for iy, ix in local_maxima(scores, count)
    ]


def refine(
    residual: np.ndarray, crop: tuple[float, ...], pattern: np.ndarray
) -> tuple[float, tuple[float, ...]]:
    """Best z-score and crop within ±COARSE_STEP of `crop`, at full work resolution."""
    offsets = np.arange(-COARSE_STEP, COARSE_STEP + 1e-9, COARSE_STEP / 4)

    def around(a: float, b: float) -> np.ndarray:
        grid = np.stack(np.meshgrid(a + offsets, b + offsets, indexing="ij"), axis=-1).reshape(-1, 2)
        return grid[(grid >= -0.002).all(axis=1) & (grid.sum(axis=1) < 0.5)]

    xs, ys = around(*crop[:2]), around(*crop[2:])
    scores = sync_scores(residual, xs, ys, pattern)
    iy, ix = np.unravel_index(np.argmax(scores), scores.shape)
    return float(scores[iy, ix]), (float(xs[ix][0]), float(xs[ix][1]), float(ys[iy][0]), float(ys[iy][1]))


def score_at(residual: np.ndarray, crop: tuple[float, ...], pattern: np.ndarray) -> float:
    """z-score of `pattern` at exactly `crop`."""
    return float(sync_scores(residual, np.array([crop[:2]]), np.array([crop[2:]]), pattern)[0, 0])
