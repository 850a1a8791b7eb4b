"""Identification of re-uploaded copies: tracking mark and fingerprint, combined by identify().

The fast test covers one clip per camera style under all attacks at once; the slow test measures
rates over many clips and attacks and prints them (run with -s to see the table).
"""

import pytest

from provenance.fingerprint import lookup_from
from provenance.verify import identify

from .conftest import BASE_ID
from .synthetic import transform

ATTACKS = {
    "crf28": dict(crf=28),
    "480p": dict(crf=23, height=480),
    "crop5": dict(crf=23, crop=0.05),
    "remux": dict(crf=None),
    "combined": dict(crf=28, height=480, crop=0.05),
}


def _site(make_clip, export, seeds, seconds=4.0):
    """Export clips for `seeds`; returns {tracking_id: result} (tracking ids double as keys)."""
    results = {}
    for seed in seeds:
        result = export(make_clip(seed, seconds=seconds), BASE_ID + 100 + seed)
        results[result.tracking_id] = result
    return results


def _identified(path, site) -> tuple[object, str | None]:
    found = identify(path, fingerprint_lookup=lookup_from((k, r.fingerprint) for k, r in site.items()))
    source = found.source
    return (None, None) if source is None else (source[1], source[0])


@pytest.mark.parametrize("seed", [0, 1], ids=["static-camera", "panning"])
def test_combined_attack_is_still_identified(make_clip, export, seed, tmp_path):
    site = _site(make_clip, export, [seed, seed + 2])
    expected = BASE_ID + 100 + seed
    copy = transform(site[expected].path, tmp_path / "copy.mp4", **ATTACKS["combined"])
    assert _identified(copy, site)[0] == expected


def test_videos_the_site_did_not_make_are_not_identified(make_clip, export, tmp_path):
    site = _site(make_clip, export, [0, 1])
    for seed in (40, 41):
        foreign = transform(make_clip(seed, seconds=3.0), tmp_path / f"f{seed}.mp4", crf=28, height=480)
        assert _identified(foreign, site) == (None, None)


@pytest.mark.slow
def test_identification_rate_over_many_clips_and_attacks(make_clip, export, tmp_path):
    seeds = list(range(10, 18))  # 4 static-camera and 4 panning clips
    site = _site(make_clip, export, seeds, seconds=6.0)
    trials, correct, by_tracking, wrong = 0, 0, {}, 0
    for tracking_id, result in site.items():
        for name, attack in ATTACKS.items():
            copy = transform(result.path, tmp_path / f"{tracking_id}-{name}.mp4", **attack)
            key, method = _identified(copy, site)
            trials += 1
            correct += key == tracking_id
            wrong += key is not None and key != tracking_id
            by_tracking.setdefault(name, 0)
            by_tracking[name] += method == "tracking" and key == tracking_id
    foreign_hits = 0
    for seed in range(60, 66):
        foreign = transform(make_clip(seed, seconds=4.0), tmp_path / f"f{seed}.mp4", crf=26)
        foreign_hits += _identified(foreign, site) != (None, None)
    print(f"\nidentified {correct}/{trials}; by tracking mark per attack (of {len(site)}): {by_tracking}")
    print(f"false identifications: {wrong} of site copies, {foreign_hits} of 6 foreign clips")
    assert correct / trials >= 0.95
    assert wrong == 0 and foreign_hits == 0
