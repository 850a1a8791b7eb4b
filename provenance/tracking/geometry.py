"""From cells to pixels and back: the smooth chip kernel, the detector's band-pass, and where
each cell centre falls in a cropped or rescaled copy."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .layout import GRID_X, GRID_Y


@lru_cache(maxsize=16)
def interp(pixels: int, cells: int) -> np.ndarray:
    """(pixels, cells) weights of a cos² kernel one cell wide on each side (rows sum to 1).

    The pattern therefore has nothing above half the cell frequency: it lives in the low and
    mid spatial frequencies that H.264 at CRF 28-35, downscaling to 360p and small crops keep."""
    pos = (np.arange(pixels) + 0.5) / pixels * cells - 0.5
    dist = pos[:, None] - np.arange(cells)[None, :]
    weights = np.where(np.abs(dist) < 1, np.cos(np.pi / 2 * dist) ** 2, 0.0)
    # Pixels beyond the outermost cell centre: renormalise so the edge keeps the chip value.
    kernel = (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)
    kernel.flags.writeable = False  # cached: shared by every caller
    return kernel


def render(chips: np.ndarray, width: int, height: int) -> np.ndarray:
    """The (height, width) float32 luma pattern of (cells,) chip values, landscape layout."""
    grid = chips.reshape(GRID_Y, GRID_X).astype(np.float32)
    return interp(height, GRID_Y) @ grid @ interp(width, GRID_X).T


def bandpass(luma: np.ndarray) -> np.ndarray:
    """The detector's view of a (landscape) luma image: content slower than the cells removed
    (1/f content dominates there), and a low-pass matched to the cell shape."""
    from scipy.ndimage import gaussian_filter

    fine, coarse = _sigmas(luma.shape[1])
    return gaussian_filter(luma, fine) - gaussian_filter(luma, coarse)


def _sigmas(width: int) -> tuple[float, float]:
    cell = width / GRID_X
    return 0.35 * cell, 1.5 * cell


@lru_cache(maxsize=8)
def _band_rows(pixels: int, cells: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(cells, pixels) float64 rows of the two Gaussians of `bandpass` along one axis of a
    landscape image `width` wide, at the uncropped cell centres: filtering is linear, so the
    filtered image at the centres is these rows times the image (same reflect edges)."""
    from scipy.ndimage import gaussian_filter1d

    index = positions(pixels, cells, np.zeros((1, 2)))[0][0]
    eye = np.eye(pixels)
    rows = tuple(gaussian_filter1d(eye, s, axis=0)[index] for s in _sigmas(width))
    for row in rows:
        row.flags.writeable = False
    return rows


def sampled_bandpass(luma: np.ndarray) -> np.ndarray:
    """`sample(bandpass(luma), no crop)` for a landscape image, by two small matrix products
    per Gaussian instead of filtering every pixel (equal up to float rounding)."""
    h, w = luma.shape
    (y1, y2), (x1, x2) = _band_rows(h, GRID_Y, w), _band_rows(w, GRID_X, w)
    image = luma.astype(np.float64)
    return ((y1 @ image @ x1.T) - (y2 @ image @ x2.T)).ravel()


@lru_cache(maxsize=8)
def _response_operators(width: int, height: int) -> tuple[np.ndarray, ...]:
    """(Y1, X1, Y2, X2): `sampled_bandpass(render(chips, width, height))` is
    Y1 @ grid @ X1.T - Y2 @ grid @ X2.T for the (GRID_Y, GRID_X) chip grid."""
    iy, ix = interp(height, GRID_Y).astype(np.float64), interp(width, GRID_X).astype(np.float64)
    (y1, y2), (x1, x2) = _band_rows(height, GRID_Y, width), _band_rows(width, GRID_X, width)
    return y1 @ iy, x1 @ ix, y2 @ iy, x2 @ ix


def sampled_response(chips: np.ndarray, width: int, height: int) -> np.ndarray:
    """What the detector reads at each cell (no crop) of `render(chips, width, height)`."""
    y1, x1, y2, x2 = _response_operators(width, height)
    grid = chips.reshape(GRID_Y, GRID_X).astype(np.float64)
    return ((y1 @ grid @ x1.T) - (y2 @ grid @ x2.T)).ravel()


def oriented(image: np.ndarray) -> np.ndarray:
    """Portrait images transposed to landscape: the grid always runs GRID_X cells along the
    long side, so cells stay square for vertical video."""
    return np.ascontiguousarray(image.T) if image.shape[0] > image.shape[1] else image


def positions(pixels: int, cells: int, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel index (n, cells) of every cell centre for crop pairs (n, 2) = fractions removed at
    the start and end of the axis, and whether the centre is still inside the frame.

    A pair (start, end) is an offset and a scale of the axis at once: the search over pairs in
    sync.py is the detector's search over scale and offset."""
    centres = (np.arange(cells) + 0.5) / cells
    start, end = crops[:, :1], crops[:, 1:]
    pos = (centres[None, :] - start) / (1.0 - start - end) * pixels - 0.5
    idx = np.rint(pos).astype(np.int64)
    inside = (idx >= 0) & (idx < pixels)
    return np.clip(idx, 0, pixels - 1), inside


def sample(residual: np.ndarray, crop: tuple[float, float, float, float]) -> np.ndarray:
    """Residual at every cell centre (cells,) for one crop (left, right, top, bottom); 0 outside."""
    h, w = residual.shape
    xi, xin = positions(w, GRID_X, np.array([crop[:2]]))
    yi, yin = positions(h, GRID_Y, np.array([crop[2:]]))
    values = residual[yi[0][:, None], xi[0][None, :]] * (yin[0][:, None] & xin[0][None, :])
    return values.ravel()
