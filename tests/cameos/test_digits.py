"""The digit check on its own (``cameos.liveness.speech``), on speech the tests synthesise."""

import numpy as np

from cameos.liveness.speech import check_digits
from tests import media_factory


def _reading(digits: str, voice: str, folder) -> np.ndarray:
    path = media_factory.speech_wav(media_factory.digits_text(digits), folder / f"{digits}.wav", voice)
    audio = media_factory.read_wav(path)[0]
    # A quiet room: pocketsphinx's noise removal has something to estimate.
    room = np.random.default_rng(7).normal(0, 0.01, audio.size)
    return np.concatenate([room[:4000], audio + room, room[:4000]]).astype(np.float32)


def test_a_reading_is_judged_the_same_whatever_was_judged_before(tmp_path):
    # The worker decodes recording after recording in one process; the noise estimate of the
    # last one must not leak into the next one's verdict.
    reading = _reading("1597", "espeak:en-gb", tmp_path)
    first = check_digits(reading, "1597").as_dict()

    check_digits(_reading("8353", "awb", tmp_path), "8353")
    check_digits(_reading("2046", "slt", tmp_path), "2046")

    assert check_digits(reading, "1597").as_dict() == first
