import hashlib

import numpy as np
import pytest

from provenance import tracking
from provenance.tracking.channel import coded_bits, decode_payload, viterbi
from provenance.tracking.layout import layout_for

from .conftest import BASE_ID
from .synthetic import transform


def test_channel_code_corrects_noisy_soft_bits():
    layout = layout_for(tracking.DEFAULT_KEY)
    rng = np.random.default_rng(1)
    for tracking_id in (0, 1, 2**64 - 1, 0x0123_4567_89AB_CDEF):
        coded = 2.0 * coded_bits(tracking_id, layout) - 1.0
        soft = coded + rng.normal(0, 0.7, coded.shape)  # ~8% raw bit errors
        assert ((soft > 0) != (coded > 0)).mean() > 0.03
        assert decode_payload(viterbi(soft), layout) == tracking_id


def test_checksum_rejects_random_payloads():
    layout = layout_for(tracking.DEFAULT_KEY)
    rng = np.random.default_rng(2)
    accepted = sum(
        decode_payload(viterbi(rng.normal(0, 1, tracking.CODED_BITS)), layout) is not None for _ in range(300)
    )
    assert accepted == 0


def test_mark_reads_back_from_the_export(exported):
    reading = tracking.read_tracking(exported.path)
    assert reading.tracking_id == BASE_ID
    assert reading.confidence > 0.999
    assert not reading.flipped


def test_another_key_reads_nothing(exported):
    assert tracking.read_tracking(exported.path, key=b"some other site").tracking_id is None


@pytest.mark.parametrize("seed", [40, 41, 42])
def test_videos_the_site_did_not_make_yield_no_id(make_clip, seed, tmp_path):
    clip = transform(make_clip(seed, seconds=3.0), tmp_path / "foreign.mp4", crf=26)
    tracking_id, confidence = tracking.extract_tracking_id(clip)
    assert tracking_id is None
    assert confidence < 0.5


def test_mark_survives_reencode_downscale_and_crop_together(exported, tmp_path):
    attacked = transform(exported.path, tmp_path / "all.mp4", crf=28, height=480, crop=0.05)
    reading = tracking.read_tracking(attacked)
    assert reading.tracking_id == BASE_ID
    # The 5% crop is split 35/65 between the sides: 1.75% left, 3.25% right of the width.
    left, right, top, bottom = reading.crop
    assert left == pytest.approx(0.0175, abs=0.006) and right == pytest.approx(0.0325, abs=0.006)


def test_mark_is_faint():
    mark = tracking.TrackingMark.for_video(BASE_ID, 1280, 720)
    delta = mark.delta.view(np.int8).astype(float)
    assert 20 * np.log10(255 / np.sqrt((delta**2).mean())) >= 38.0  # PSNR against no mark
    assert np.abs(delta).max() <= 5


def test_vertical_video_mark_survives_a_mirrored_reencode(make_clip, export, tmp_path):
    result = export(make_clip(6, seconds=3.0, width=540, height=960), BASE_ID + 6)
    reading = tracking.read_tracking(transform(result.path, tmp_path / "mirror.mp4", crf=26, flip=True))
    assert reading.tracking_id == BASE_ID + 6
    assert reading.flipped


TINY = dict(width=320, height=192)


def random_id(n: int) -> int:
    """A tracking id like the site's (random bits; top bit set to catch sign mistakes)."""
    return 2**63 | int.from_bytes(hashlib.blake2b(bytes([n]), person=b"test-ids").digest()[:8]) >> 1


@pytest.fixture(scope="module")
def tiny_exports(make_clip, export):
    """Two exports at the tiny profile's size: a still camera and a panning one."""
    return {seed: export(make_clip(seed, seconds=3.0, **TINY), random_id(seed)) for seed in (0, 1)}


# Copies too damaged at 320×192 for the blind read to decode in our measurements. The still
# clip's CRF 35 copy sat at the confirmation threshold (z 7.3 against 7.0; half of the CRF 35
# copies are confirmed, BENCHMARKS.md) and fell below it when the export's encoder changed from
# 5 threads to 1 (z 6.6): CRF 34 (z 8.2) keeps the test off that edge.
DAMAGED = {0: dict(crf=34), 1: dict(crf=28, height=480, crop=0.05)}


def test_a_known_pattern_is_confirmed_where_the_id_no_longer_decodes(tiny_exports, tmp_path):
    """Too little of the mark is left to decode 204 bits, but enough to tell which of a few
    candidates (the fingerprint's) it is; other exports' ids are not confirmed."""
    ids = [result.tracking_id for result in tiny_exports.values()]
    for seed, result in tiny_exports.items():
        copy = transform(result.path, tmp_path / f"{seed}.mp4", **DAMAGED[seed])
        mean = tracking.mean_luma(copy)
        assert tracking.read_tracking_from_luma(mean).tracking_id is None  # no blind decode
        confirmed = tracking.confirm_tracking_from_luma(mean, ids)
        assert confirmed is not None and confirmed.tracking_id == result.tracking_id and confirmed.confirmed
        assert confirmed.confidence > 0.99
        others = [i for i in ids if i != result.tracking_id] + [random_id(n) for n in range(10, 14)]
        assert tracking.confirm_tracking_from_luma(mean, others) is None


def test_candidates_are_not_confirmed_in_videos_the_site_did_not_make(make_clip, tiny_exports, tmp_path):
    ids = [result.tracking_id for result in tiny_exports.values()] + [random_id(n) for n in range(20, 23)]
    for seed in (40, 41):
        clip = transform(make_clip(seed, seconds=2.0, **TINY), tmp_path / f"f{seed}.mp4", crf=26)
        assert tracking.confirm_tracking_from_luma(tracking.mean_luma(clip), ids) is None
