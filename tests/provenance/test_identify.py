"""Identification of re-uploaded copies: tracking mark and fingerprint, combined by identify().

The fast test covers one clip per camera style under all attacks at once; the slow test measures
rates over many clips and attacks and prints them (run with -s to see the table).
"""

import pytest

from provenance.fingerprint import lookup_from
from provenance.verify import identify

from .conftest import BASE_ID
from .synthetic import transform
from .test_tracking import random_id

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


def _identify(path, site):
    return identify(path, fingerprint_lookup=lookup_from((k, r.fingerprint) for k, r in site.items()))


def _identified(path, site) -> tuple[object, str | None]:
    source = _identify(path, site).source
    return (None, None) if source is None else (source[1], source[0])


@pytest.fixture(scope="module")
def small_site(make_clip, export):
    return _site(make_clip, export, [0, 1])


@pytest.mark.parametrize("seed", [0, 1], ids=["static-camera", "panning"])
def test_combined_attack_is_still_identified(small_site, seed, tmp_path):
    expected = BASE_ID + 100 + seed
    copy = transform(small_site[expected].path, tmp_path / "copy.mp4", **ATTACKS["combined"])
    assert _identified(copy, small_site)[0] == expected


def test_videos_the_site_did_not_make_are_not_identified(make_clip, small_site, tmp_path):
    for seed in (40, 41):
        foreign = transform(make_clip(seed, seconds=3.0), tmp_path / f"f{seed}.mp4", crf=28, height=480)
        assert _identified(foreign, small_site) == (None, None)


TINY_COPIES = {
    "crf28+480p+crop5": dict(crf=28, height=480, crop=0.05),
    "crf35": dict(crf=35),
    "crop10": dict(crf=23, crop=0.10),
    "flip": dict(crf=23, flip=True),
}


@pytest.fixture(scope="module")
def tiny_site(make_clip, export):
    """Two exports at the tiny profile's 320×192 (bench/bench_tracking.py measures more)."""
    return {
        result.tracking_id: result
        for result in (
            export(make_clip(seed, seconds=3.0, width=320, height=192), random_id(seed + 50))
            for seed in (0, 1)
        )
    }


@pytest.mark.parametrize("attack", list(TINY_COPIES))
def test_tiny_profile_copies_name_their_post(tiny_site, attack, tmp_path):
    for tracking_id, result in tiny_site.items():
        copy = transform(result.path, tmp_path / f"{tracking_id}.mp4", **TINY_COPIES[attack])
        assert _identified(copy, tiny_site)[0] == tracking_id, attack


def test_tiny_foreign_clips_name_no_post(make_clip, tiny_site, tmp_path):
    for seed in range(50, 54):
        foreign = transform(
            make_clip(seed, seconds=2.0, width=320, height=192), tmp_path / f"f{seed}.mp4", crf=26
        )
        assert _identified(foreign, tiny_site) == (None, None)


@pytest.mark.slow
def test_identification_rate_over_many_clips_and_attacks(make_clip, export, tmp_path):
    seeds = list(range(10, 18))  # 4 static-camera and 4 panning clips
    site = _site(make_clip, export, seeds, seconds=6.0)
    trials = correct = wrong = 0
    by_tracking: dict[str, int] = {}
    by_fingerprint: dict[str, int] = {}
    for tracking_id, result in site.items():
        for name, attack in ATTACKS.items():
            found = _identify(transform(result.path, tmp_path / f"{tracking_id}-{name}.mp4", **attack), site)
            key = None if found.source is None else found.source[1]
            trials += 1
            correct += key == tracking_id
            wrong += key is not None and key != tracking_id
            by_tracking[name] = by_tracking.get(name, 0) + (found.tracking.tracking_id == tracking_id)
            best = found.matches[0] if found.matches else (None, 0.0)
            by_fingerprint[name] = by_fingerprint.get(name, 0) + (best[0] == tracking_id and best[1] >= 0.5)
    foreign_hits = 0
    for seed in range(60, 66):
        foreign = transform(make_clip(seed, seconds=4.0), tmp_path / f"f{seed}.mp4", crf=26)
        foreign_hits += _identified(foreign, site) != (None, None)
    print(f"\nidentified {correct}/{trials} (of {len(site)} clips per attack)")
    print(f"  tracking mark alone: {by_tracking}")
    print(f"  fingerprint alone:   {by_fingerprint}")
    print(f"  false identifications: {wrong} of site copies, {foreign_hits} of 6 foreign clips")
    assert correct / trials >= 0.95
    assert wrong == 0 and foreign_hits == 0


@pytest.mark.slow
def test_tracking_mark_file_size_growth(make_clip, signer, tmp_path):
    """The mark is nearly free with a still camera; panning content pays for it (see tracking)."""
    from provenance.c2pa_manifest import ManifestInfo
    from provenance.export import export_rendition

    growth = {}
    for seed in (20, 21, 22, 23):
        sizes = []
        for strength in (1e-6, None):
            extra = {} if strength is None else {"tracking_strength": strength}
            result = export_rendition(
                make_clip(seed, seconds=6.0),
                tmp_path / f"{seed}-{strength}.mp4",
                handle="alice",
                site_name="Sora Site",
                tracking_id=BASE_ID,
                manifest=ManifestInfo(title="t", model="m"),
                signer=signer,
                **extra,
            )
            sizes.append(result.size)
        growth[seed] = sizes[1] / sizes[0] - 1
    print("\nsize growth from the tracking mark:", {k: f"{v:+.1%}" for k, v in growth.items()})
    assert all(growth[seed] < 0.10 for seed in (20, 22))  # still camera
    assert all(growth[seed] < 0.50 for seed in (21, 23))  # panning, smooth: worst case
