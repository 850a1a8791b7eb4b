"""The challenge a cameo owner performs on camera: digits to read aloud and head turns."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
TURNS = ("left", "right")


@dataclass(frozen=True)
class Challenge:
    """Digits to say and head turns to make, in order.

    ``turns`` name the person's own left and right (a turn to the left shows the face turned
    towards the camera's right in an unmirrored recording).
    """

    digits: str
    turns: tuple[str, ...]

    def __post_init__(self):
        if not self.digits or not self.digits.isascii() or not self.digits.isdigit():
            raise ValueError(f"digits must be a non-empty string of 0-9, not {self.digits!r}")
        if not self.turns or not all(turn in TURNS for turn in self.turns):
            raise ValueError(f"turns must be one or more of 'left' and 'right', not {self.turns!r}")
        # A list from JSON would make the dataclass unhashable and unequal to the tuple form.
        object.__setattr__(self, "turns", tuple(self.turns))

    def instructions(self) -> str:
        """What to tell the person, e.g. 'Say 4 7 1 9, then look left, then right.'"""
        return f"Say {' '.join(self.digits)}, then look " + ", then ".join(self.turns) + "."

    def as_dict(self) -> dict:
        """JSON-ready form, for storing the challenge between issuing and checking it."""
        return {"digits": self.digits, "turns": list(self.turns)}

    @classmethod
    def from_dict(cls, data: dict) -> Challenge:
        return cls(digits=str(data["digits"]), turns=tuple(data["turns"]))


def new_challenge(rng: random.Random | None = None, *, length: int = 4) -> Challenge:
    """A fresh random challenge: ``length`` digits and a left/right turn in random order.

    Without ``rng`` the operating system's CSPRNG is used, as an attacker must not predict it.
    Neighbouring digits always differ: "seven seven" is easy to say as one word and hard to hear.
    """
    rng = rng or secrets.SystemRandom()
    digits = [rng.choice("0123456789")]
    while len(digits) < length:
        digit = rng.choice("0123456789")
        if digit != digits[-1]:
            digits.append(digit)
    turns = ("left", "right") if rng.random() < 0.5 else ("right", "left")
    return Challenge(digits="".join(digits), turns=turns)
