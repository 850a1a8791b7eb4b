"""Normalisation: the readings of a text that the policy's rules are matched against."""

import pytest

from moderation.normalise import normalise, normalise_pattern


@pytest.mark.parametrize(
    "text, reading",
    [
        ("S E X", "sex"),
        ("s.e.x", "sex"),
        ("s_e_x", "sex"),
        ("s3x", "sex"),
        ("$3x", "sex"),
        ("p@ss", "pass"),
        ("k1ll", "kill"),
        ("ѕех", "sex"),  # Cyrillic
        ("ΚΙΤΤΕΝ", "kitten"),  # Greek capitals
        ("s\u200bex", "sex"),  # zero-width space
        ("s\u00adex", "sex"),  # soft hyphen
        ("śèx", "sex"),
        ("ｓｅｘ", "sex"),
        ("seeeex", "sex"),
    ],
)
def test_readings_include_the_plain_word(text, reading):
    assert reading in normalise(text).texts


def test_numbers_stay_numbers_in_the_plain_reading():
    assert normalise("a 12 year old in 2024").plain == "a 12 year old in 2024"


def test_two_single_letters_are_not_joined():
    assert normalise("plan b a movie").plain == "plan b a movie"


def test_patterns_are_folded_like_text():
    assert normalise_pattern("Beyoncé  Knowles!") == "beyonce knowles"
