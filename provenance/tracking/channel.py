"""The mark's error-correcting code: keyed CRC, whitening and a convolutional code.

The 64-bit id and a keyed CRC-32 of it (96 bits) are XOR-whitened with a keyed stream and
encoded with a rate-1/2, constraint-length-7 convolutional code (generators 171/133 octal, the
one used by 802.11 and DVB) with a zero tail: 204 coded bits. Decoding is soft-decision
Viterbi over the accumulated evidence of the whole clip; it corrects raw bit error rates up to
roughly 10%. The keyed CRC then accepts a wrong payload with probability 2^-32, so a video
without the mark (or with another site's) does not yield an id.
"""

from __future__ import annotations

import zlib

import numpy as np

from .layout import CODED_BITS, CONSTRAINT, CRC_BITS, PAYLOAD_BITS, Layout

_G = (0o171, 0o133)

__all__ = ["CODED_BITS", "CRC_BITS", "PAYLOAD_BITS", "coded_bits", "decode_payload", "viterbi"]


def _parity(values: np.ndarray) -> np.ndarray:
    return np.bitwise_count(values.astype(np.uint8)) & 1


_REGS = np.arange(1 << CONSTRAINT)
_OUT = np.stack([_parity(_REGS & g) for g in _G], axis=1)  # (128, 2) output bits per register


def conv_encode(bits: np.ndarray) -> np.ndarray:
    """Coded bits (2 per input bit, tail included) of `bits` (uint8 0/1)."""
    state, out = 0, []
    for bit in np.concatenate([bits, np.zeros(CONSTRAINT - 1, np.uint8)]):
        reg = (int(bit) << (CONSTRAINT - 1)) | state
        out.extend(_OUT[reg])
        state = reg >> 1
    return np.array(out, np.uint8)


def viterbi(soft: np.ndarray) -> np.ndarray:
    """Maximum-likelihood input bits for soft coded values (positive = 1), zero-terminated."""
    n_states = 1 << (CONSTRAINT - 1)
    steps = len(soft) // 2
    states = np.arange(n_states)
    # Predecessors of each next state ns: s = ((ns & 31) << 1) | b, input u = ns >> 5.
    prev = np.stack([((states & (n_states // 2 - 1)) << 1) | b for b in (0, 1)])  # (2, 64)
    regs = ((states >> (CONSTRAINT - 2)) << (CONSTRAINT - 1))[None, :] | prev  # (2, 64)
    expected = 2.0 * _OUT[regs] - 1.0  # (2, 64, 2)
    metric = np.full(n_states, -np.inf)
    metric[0] = 0.0
    decisions = np.empty((steps, n_states), np.uint8)
    for t in range(steps):
        branch = expected @ soft[2 * t : 2 * t + 2]  # (2, 64)
        candidates = metric[prev] + branch
        decisions[t] = candidates[1] > candidates[0]
        metric = np.maximum(candidates[0], candidates[1])
    bits = np.empty(steps, np.uint8)
    state = 0
    for t in range(steps - 1, -1, -1):
        bits[t] = state >> (CONSTRAINT - 2)
        state = prev[decisions[t, state], state]
    return bits[: steps - (CONSTRAINT - 1)]


def coded_bits(tracking_id: int, layout: Layout) -> np.ndarray:
    """The CODED_BITS uint8 0/1 bits that carry `tracking_id` under `layout`'s key."""
    if not 0 <= tracking_id < 2**64:
        raise ValueError("tracking_id must fit in 64 unsigned bits")
    raw = tracking_id.to_bytes(8, "big")
    crc = zlib.crc32(layout.crc_salt + raw).to_bytes(4, "big")
    return conv_encode(np.unpackbits(np.frombuffer(raw + crc, np.uint8)) ^ layout.whitening)


def decode_payload(payload: np.ndarray, layout: Layout) -> int | None:
    """The id in Viterbi-decoded `payload` bits, or None when the keyed CRC does not match."""
    data = np.packbits(payload ^ layout.whitening).tobytes()
    raw, crc = data[:8], data[8:]
    if zlib.crc32(layout.crc_salt + raw).to_bytes(4, "big") != crc:
        return None
    return int.from_bytes(raw, "big")
