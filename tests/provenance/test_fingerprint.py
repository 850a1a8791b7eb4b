import numpy as np
import pytest

from provenance.fingerprint import Fingerprint, audio_hashes, best_matches, compute_fingerprint, match_score

from .synthetic import transform


@pytest.fixture(scope="module")
def original(exported):
    return exported.fingerprint


def test_serialisation_round_trips_and_is_compact(original):
    data = original.to_bytes()
    assert len(data) == 16 + 8 * len(original.video) + 2 * len(original.audio)
    back = Fingerprint.from_bytes(data)
    assert np.array_equal(back.video, original.video) and np.array_equal(back.audio, original.audio)
    assert back.duration == pytest.approx(original.duration)


@pytest.mark.parametrize("junk", [b"", b"FP", b"XX" + bytes(30), b"FP\x01<" + bytes(12) + b"extra"])
def test_malformed_bytes_are_refused(junk):
    with pytest.raises(ValueError):
        Fingerprint.from_bytes(junk)


def test_sampled_at_six_frames_per_second(original):
    assert len(original.video) == 24  # 4 s


@pytest.mark.parametrize(
    "attack",
    [
        dict(crf=35),
        dict(crf=26, height=240),
        dict(crf=26, trim_start=1.3),
        dict(crf=26, flip=True),
        dict(crf=26, letterbox=0.12),
        dict(crf=26, brightness=20),
        dict(crf=28, height=480, crop=0.05),
    ],
    ids=["crf35", "240p", "trim", "flip", "letterbox", "brighter", "combined"],
)
def test_copies_match_the_original(exported, original, attack, tmp_path):
    query = compute_fingerprint(transform(exported.path, tmp_path / "copy.mp4", **attack))
    match = match_score(query, original)
    assert match.confidence > 0.95, match
    assert match.flipped == attack.get("flip", False)
    assert match.offset == pytest.approx(attack.get("trim_start", 0.0), abs=0.2)


def test_unrelated_videos_do_not_match(make_clip, original, tmp_path):
    for seed in (40, 41):
        query = compute_fingerprint(transform(make_clip(seed, seconds=3.0), tmp_path / "x.mp4", crf=26))
        match = match_score(query, original)
        assert match.confidence < 0.05 and match.distance > 18, match


def test_best_matches_ranks_the_source_first(exported, original, make_clip, tmp_path):
    others = [(f"other-{seed}", compute_fingerprint(make_clip(seed, seconds=3.0))) for seed in (40, 41)]
    query = compute_fingerprint(transform(exported.path, tmp_path / "copy.mp4", crf=30, height=360))
    ranked = best_matches(query, [*others, ("source", original)])
    assert [key for key, _ in ranked] == ["source"]


def test_silence_has_no_audio_hashes():
    assert len(audio_hashes(np.zeros(80000, np.float32))) == 0
    tone = np.sin(2 * np.pi * 440 * np.arange(80000) / 8000).astype(np.float32)
    assert len(audio_hashes(tone)) > 70


@pytest.mark.parametrize("size", [(320, 192), (1280, 704)])
def test_frame_hashes_stay_within_a_few_bits_of_the_imagehash_phash_stored_before(size):
    """Fingerprints stored before `frame_hashes` computed pHash by matrix products were made
    with imagehash.phash; the same frames must still hash alike (MATCH_DISTANCE is 14)."""
    import imagehash
    from PIL import Image

    from provenance.fingerprint import _reduce, _trim_bars, frame_hashes

    from .synthetic import render_frames

    distances = []
    for seed in (1, 2):
        frames = render_frames(seed, seconds=1, width=size[0], height=size[1], fps=6)
        for rgb in frames:
            luma = np.asarray(Image.fromarray(rgb).convert("L"))
            small = _trim_bars(_reduce(luma, max(1, min(luma.shape) // 96)))
            stored = int(np.packbits(imagehash.phash(Image.fromarray(small)).hash.ravel()).view(">u8")[0])
            distances.append((frame_hashes(luma)[0] ^ stored).bit_count())
    assert np.mean(distances) <= 1.0 and max(distances) <= 4
