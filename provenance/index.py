"""Fingerprint lookups that scale: multi-index hashing over the exports' frame hashes.

Each export stores two frame hashes per second (every INDEX_STEP-th of the fingerprint's) as
`FingerprintHash` rows with the 64-bit pHash split into four indexed 16-bit bands. A lookup:

1. takes the query's hashes (plain and mirrored) and fetches every row that equals one of them in
   at least one band: one `IN` list per band, united, each answered from a covering index
   (band, value, export) by an index-only scan in PostgreSQL and SQLite alike, never a scan of
   the table;
2. keeps rows within CLOSE_DISTANCE bits of some query hash (the exact Hamming check: a row that
   shares a band by chance differs in ~24 of its other 48 bits, and only ~1 in 4000 of those
   comes within 12) and ranks exports by how many of their rows came close;
3. scores the best CANDIDATES exports with the full `match_score` (alignment, audio), exactly
   what the brute-force scan computes for them.

Why it finds copies: a re-encoded, rescaled or slightly cropped copy keeps most frame hashes
within ~10 bits, and a hash pair that close has an exact band in common about a fifth of the time;
with two indexed hashes a second and six query hashes a second, a clip of a second or more has
many such chances. Uniformly random hashes give ~rows/65536 rows per band value; see
BENCHMARKS.md for timings at a million exports.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from django.db import connection

from .fingerprint import Fingerprint, match_score

INDEX_STEP = 3  # of the 6 fps fingerprint hashes: 2 per second
CLOSE_DISTANCE = 12
CANDIDATES = 20
BAND_BITS = 16
BANDS = 4


def bands(hashes: np.ndarray) -> np.ndarray:
    """(n, 4) int64 band values (most significant first) of uint64 hashes."""
    h = np.asarray(hashes, np.uint64)
    shifts = np.array([BAND_BITS * (BANDS - 1 - i) for i in range(BANDS)], np.uint64)
    return ((h[:, None] >> shifts[None, :]) & np.uint64(0xFFFF)).astype(np.int64)


def signed(hashes: np.ndarray) -> np.ndarray:
    """uint64 hashes as int64 (how a signed bigint column stores them)."""
    return np.asarray(hashes, np.uint64).view(np.int64)


def index_rows(fingerprint: Fingerprint) -> list[tuple[int, int, int, int, int]]:
    """(value, band0, band1, band2, band3) rows to index for one fingerprint (distinct hashes)."""
    hashes = np.unique(np.asarray(fingerprint.video, np.uint64)[::INDEX_STEP])
    return [(int(v), *(int(b) for b in row)) for v, row in zip(signed(hashes), bands(hashes), strict=True)]


def index_export(export, fingerprint: Fingerprint | None = None) -> None:
    """Write the index rows of `export` (an Export) from its stored fingerprint."""
    from .models import FingerprintHash

    fingerprint = fingerprint or Fingerprint.from_bytes(bytes(export.fingerprint))
    FingerprintHash.objects.bulk_create(
        FingerprintHash(export=export, value=v, band0=b0, band1=b1, band2=b2, band3=b3)
        for v, b0, b1, b2, b3 in index_rows(fingerprint)
    )


def candidate_exports(query: Fingerprint, *, limit: int = CANDIDATES) -> list[int]:
    """Primary keys of the exports most likely to match `query`, best first (steps 1-2)."""
    from .models import FingerprintHash

    hashes = [np.asarray(query.video, np.uint64)]
    if query.flipped is not None:
        hashes.append(np.asarray(query.flipped, np.uint64))
    probe = np.unique(np.concatenate(hashes))
    if not len(probe):
        return []
    values = bands(probe)
    # One query per band, united: each is an index-only scan of its covering index (an OR of
    # the four would make PostgreSQL combine bitmaps and then visit the table for every row).
    # Plain SQL because the ORM spends longer compiling this union than the database runs it.
    table = FingerprintHash._meta.db_table
    parts, params = [], []
    for band in range(BANDS):
        wanted = sorted(set(values[:, band].tolist()))
        parts.append(
            f"SELECT export_id, value FROM {table} WHERE band{band} IN ({', '.join(['%s'] * len(wanted))})"
        )
        params.extend(wanted)
    with connection.cursor() as cursor:
        cursor.execute(" UNION ".join(parts), params)
        rows = cursor.fetchall()
    if not rows:
        return []
    found = np.array(rows, np.int64)
    distance = np.bitwise_count(found[:, 1:2].view(np.uint64) ^ probe[None, :]).min(axis=1)
    close = found[distance <= CLOSE_DISTANCE, 0]
    if not len(close):
        return []
    exports, counts = np.unique(close, return_counts=True)
    best = np.argsort(-counts, kind="stable")[:limit]
    return [int(pk) for pk in exports[best]]


def indexed_lookup(*, limit: int = 10, candidates: int = CANDIDATES):
    """A `FingerprintLookup` over the Export table that uses the index (see module docstring)."""
    from .models import Export

    def lookup(query: Fingerprint) -> list[tuple[Any, float]]:
        pks = candidate_exports(query, limit=candidates)
        rows = Export.objects.filter(pk__in=pks).values_list("pk", "fingerprint")
        scored = [
            (pk, match_score(query, Fingerprint.from_bytes(bytes(data))).confidence) for pk, data in rows
        ]
        scored = [item for item in scored if item[1] >= 0.01]
        scored.sort(key=lambda item: -item[1])
        return scored[:limit]

    return lookup
