"""The fingerprint index (multi-index hashing) gives the brute-force scan's answers, from a few rows.

A small site: real exports of tiny-profile clips among a couple of hundred decoy fingerprints
(random-walk hashes like real clips, plus fingerprints of clips the site never exported).
Copies of the exports and foreign clips are looked up both ways.
"""

import numpy as np
import pytest

from provenance import index
from provenance.fingerprint import Fingerprint, compute_fingerprint, lookup_from
from provenance.models import Export, FingerprintHash
from provenance.verify import MATCH_CONFIDENCE
from tests.conftest import queued_generation

from .conftest import BASE_ID
from .synthetic import transform

TINY = dict(width=320, height=192)
COPIES = {
    "combined": dict(crf=28, height=480, crop=0.05),
    "trim": dict(crf=23, trim_start=1.0),
    "flip": dict(crf=23, flip=True),
}


def _store(owner, n: int, fingerprint: Fingerprint) -> Export:
    generation = queued_generation(
        owner, prompt=f"clip {n}", seconds=3, seed=n, status="succeeded", model_id="tiny"
    )
    export = Export.objects.create(
        generation=generation, tracking_id=n, file="x.mp4", fingerprint=fingerprint.to_bytes()
    )
    index.index_export(export)
    return export


def _random_walk(rng, length: int) -> Fingerprint:
    steps = rng.integers(0, 2**64, length, dtype=np.uint64, endpoint=False)
    for _ in range(3):
        steps &= rng.integers(0, 2**64, length, dtype=np.uint64, endpoint=False)
    steps[0] = rng.integers(0, 2**64, dtype=np.uint64, endpoint=False)
    return Fingerprint(np.bitwise_xor.accumulate(steps), np.zeros(0, np.uint16), length / 6)


@pytest.mark.django_db
def test_indexed_lookup_gives_the_brute_force_answers(make_user, make_clip, export, tmp_path):
    owner = make_user()
    rng = np.random.default_rng(5)
    made = {seed: export(make_clip(seed, seconds=3.0, **TINY), BASE_ID + 500 + seed) for seed in (0, 1)}
    stored = {seed: _store(owner, seed, result.fingerprint) for seed, result in made.items()}
    for n in range(3, 5):  # clips the site has but that nobody copies
        _store(owner, n, compute_fingerprint(make_clip(n, seconds=3.0, **TINY), with_flipped=False))
    for n in range(5, 125):
        _store(owner, n, _random_walk(rng, int(rng.integers(6, 60))))
    every = [
        (pk, Fingerprint.from_bytes(bytes(data)))
        for pk, data in Export.objects.values_list("pk", "fingerprint")
    ]
    brute, indexed = lookup_from(every), index.indexed_lookup()

    queries = {
        f"{seed}-{name}": (stored[seed].pk, transform(result.path, tmp_path / f"{seed}-{name}.mp4", **attack))
        for seed, result in made.items()
        for name, attack in COPIES.items()
    }
    for seed in (40,):
        queries[f"foreign-{seed}"] = (
            None,
            transform(make_clip(seed, seconds=3.0, **TINY), tmp_path / "f.mp4", crf=26),
        )
    for name, (expected, path) in queries.items():
        query = compute_fingerprint(path, with_flipped=True)
        want = [(pk, round(c, 9)) for pk, c in brute(query) if c >= MATCH_CONFIDENCE]
        got = [(pk, round(c, 9)) for pk, c in indexed(query) if c >= MATCH_CONFIDENCE]
        assert got == want, name
        assert (want[0][0] if want else None) == expected, name
        # Only a few exports were scored, not the 125 a scan compares.
        assert len(index.candidate_exports(query)) <= index.CANDIDATES


@pytest.mark.django_db
def test_index_rows_are_two_hashes_a_second_split_into_bands(make_user):
    fingerprint = _random_walk(np.random.default_rng(1), 24)  # 4 s at 6 fps
    export = _store(make_user(), 1, fingerprint)
    rows = FingerprintHash.objects.filter(export=export)
    assert rows.count() == len(np.unique(fingerprint.video[:: index.INDEX_STEP])) == 8
    for row in rows:
        value = row.value & (2**64 - 1)
        assert [row.band0, row.band1, row.band2, row.band3] == [
            (value >> s) & 0xFFFF for s in (48, 32, 16, 0)
        ]
    export.delete()
    assert not FingerprintHash.objects.exists()
