"""The digit check on its own (``cameos.liveness.speech``), on speech the tests synthesise."""

import numpy as np

from cameos.liveness.speech import HIGH_VOICE_HZ, MAX_CHALLENGE_GAP, check_digits, voice_pitch
from tests import media_factory


def _reading(digits: str, voice: str, folder) -> np.ndarray:
    path = media_factory.speech_wav(
        media_factory.digits_text(digits), folder / f"{digits}-{voice}.wav", voice
    )
    audio = media_factory.read_wav(path)[0]
    # A quiet room: pocketsphinx's noise removal has something to estimate.
    room = np.random.default_rng(7).normal(0, 0.01, audio.size)
    return np.concatenate([room[:4000], audio + room, room[:4000]]).astype(np.float32)


def test_a_reading_is_judged_the_same_whatever_was_judged_before(tmp_path):
    # The worker decodes recording after recording in one process: neither the noise estimate
    # nor the frequency warp of the last one may leak into the next one's verdict.
    low = _reading("1597", "espeak:en-gb", tmp_path)
    high = _reading("3041", "slt", tmp_path)
    first_low, first_high = check_digits(low, "1597").as_dict(), check_digits(high, "3041").as_dict()

    check_digits(_reading("8353", "awb", tmp_path), "8353")
    assert check_digits(high, "3041").as_dict() == first_high
    check_digits(_reading("2046", "espeak:en-us+f3", tmp_path), "2046")
    assert check_digits(low, "1597").as_dict() == first_low


def test_high_and_low_voices_are_told_apart(tmp_path):
    # High voices are heard with the frequency axis warped (front_for).
    assert voice_pitch(_reading("2046", "slt", tmp_path)) > HIGH_VOICE_HZ
    assert voice_pitch(_reading("2046", "espeak:en-us+f3", tmp_path)) > HIGH_VOICE_HZ
    assert voice_pitch(_reading("2046", "rms", tmp_path)) < HIGH_VOICE_HZ
    assert voice_pitch(_reading("2046", "espeak:en-gb", tmp_path)) < HIGH_VOICE_HZ
    assert voice_pitch(np.zeros(16_000, np.float32)) == 0.0


def test_one_digit_said_differently_is_refused_by_far_more_than_the_bar(tmp_path):
    # Someone reading one digit wrong (or a recording made for a challenge one digit away) must be
    # refused; the bar sits at half the nearest such reading of the lab, so here too the other
    # reading wins by more than twice the bar.
    for said, challenge, voice in (("1597", "1598", "slt"), ("2046", "2049", "rms"), ("8353", "8553", "awb")):
        heard = check_digits(_reading(said, voice, tmp_path), challenge)
        assert heard.digits == said
        assert not heard.matches
        assert heard.gap > 2 * MAX_CHALLENGE_GAP, (voice, heard.gap)
