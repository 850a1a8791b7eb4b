"""Where the mark lives in the frame: a keyed spread-spectrum layout over a grid of cells.

The frame is divided, in normalised coordinates, into GRID_X × GRID_Y cells (the long side of
the frame always has GRID_X), each carrying one ±amplitude chip of the low/mid spatial
frequencies of luma (see `geometry.render`). A keyed PILOT_FRACTION of the cells are pilots with
known signs, the template the detector aligns on after crops and rescales; the others are
scattered over the coded bits (~20 cells per bit, all over the frame) with keyed signs, so each
bit survives losing a region of the frame and the pattern looks like noise without the key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

DEFAULT_KEY = b"sora_site tracking mark v1"
GRID_X, GRID_Y = 96, 54
CELLS = GRID_X * GRID_Y
ID_BITS, CRC_BITS = 64, 32
PAYLOAD_BITS = ID_BITS + CRC_BITS
PILOT_FRACTION = 0.2
CONSTRAINT = 7  # of the convolutional code (channel.py)
CODED_BITS = 2 * (PAYLOAD_BITS + CONSTRAINT - 1)


@dataclass(frozen=True)
class Layout:
    pilot: np.ndarray  # float32 (GRID_Y, GRID_X): ±1 on pilot cells, 0 elsewhere
    bit_of_cell: np.ndarray  # int (cells,): coded bit index, -1 for pilots
    sign_of_cell: np.ndarray  # float32 (cells,) ±1
    spread: np.ndarray  # float32 (cells, CODED_BITS): the sign where a cell carries a bit
    whitening: np.ndarray  # uint8 (PAYLOAD_BITS,)
    crc_salt: bytes

    @property
    def data(self) -> np.ndarray:
        """bool (cells,): the cells that carry coded bits."""
        return self.bit_of_cell >= 0

    def unit_chips(self, coded: np.ndarray, *, pilots: bool = True) -> np.ndarray:
        """(cells,) ±1 chips for ±1 `coded` bits; the pilots' signs (or 0) elsewhere."""
        bits = coded[np.maximum(self.bit_of_cell, 0)] * self.sign_of_cell
        return np.where(self.data, bits, self.pilot.ravel() if pilots else 0.0)


@lru_cache(maxsize=8)
def layout_for(key: bytes) -> Layout:
    """The layout keyed by `key` (deterministic: the exporter and the detector agree)."""
    seed = int.from_bytes(hashlib.blake2b(key, person=b"trk-layout").digest()[:16], "big")
    rng = np.random.default_rng(seed)
    order = rng.permutation(CELLS)
    pilots = order[: int(CELLS * PILOT_FRACTION)]
    data = order[len(pilots) :]
    bit_of_cell = np.full(CELLS, -1, dtype=np.int64)
    bit_of_cell[data] = np.arange(len(data)) % CODED_BITS
    sign_of_cell = rng.choice(np.array([-1.0, 1.0], np.float32), size=CELLS)
    pilot = np.zeros(CELLS, np.float32)
    pilot[pilots] = sign_of_cell[pilots]
    spread = np.zeros((CELLS, CODED_BITS), np.float32)
    spread[data, bit_of_cell[data]] = sign_of_cell[data]
    return Layout(
        pilot=pilot.reshape(GRID_Y, GRID_X),
        bit_of_cell=bit_of_cell,
        sign_of_cell=sign_of_cell,
        spread=spread,
        whitening=rng.integers(0, 2, PAYLOAD_BITS, dtype=np.uint8),
        crc_salt=hashlib.blake2b(key, person=b"trk-crc").digest(),
    )
