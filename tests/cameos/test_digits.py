"""The digit check on its own (``cameos.liveness.speech``), on speech the tests synthesise."""

import numpy as np

from cameos.liveness.speech import HIGH_VOICE_HZ, check_digits, voice_pitch
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
