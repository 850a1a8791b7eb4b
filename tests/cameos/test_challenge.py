"""Challenges: random, well-formed, storable; and the liveness package stays cheap to import."""

import random
import subprocess
import sys
from pathlib import Path

import pytest

from cameos.liveness import Challenge, new_challenge


def test_new_challenge_has_four_digits_and_both_turns():
    challenge = new_challenge()

    assert len(challenge.digits) == 4 and challenge.digits.isdigit()
    assert sorted(challenge.turns) == ["left", "right"]


def test_new_challenge_never_repeats_a_digit_back_to_back():
    rng = random.Random(3)
    for _ in range(200):
        digits = new_challenge(rng).digits
        assert all(a != b for a, b in zip(digits, digits[1:], strict=False))


def test_new_challenge_varies():
    assert len({new_challenge() for _ in range(20)}) > 15


def test_challenge_round_trips_through_a_dict():
    challenge = Challenge("0427", ("right", "left"))

    assert Challenge.from_dict(challenge.as_dict()) == challenge
    assert challenge.instructions() == "Say 0 4 2 7, then look right, then left."


@pytest.mark.parametrize(
    "digits, turns", [("", ("left",)), ("12a4", ("left",)), ("1234", ("up",)), ("1234", ())]
)
def test_malformed_challenge_is_refused(digits, turns):
    with pytest.raises(ValueError):
        Challenge(digits, turns)


def test_importing_liveness_loads_no_model_libraries():
    code = (
        "import sys, cameos.liveness; "
        "print(sorted(m for m in ('dlib', 'torch', 'onnxruntime', 'pocketsphinx', 'resemblyzer', 'cv2') "
        "if m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True, timeout=60
    )

    assert out.stdout.strip() == "[]"
