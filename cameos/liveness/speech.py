"""Which digits were said in a recording (pocketsphinx), and where the speech is (silero-vad).

Speech detection lives in ``generation.voice.recognition`` (the voice stage uses it too) and is
named here for liveness. pocketsphinx's model ships inside its pip package and loads on first use,
once per process (~0.3 s); decoding costs ~40 ms per second of audio on one core. Decoding is
constrained to the ten digit words (see ``check_digits``).
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass, field

import numpy as np

from generation.voice.recognition import RATE, speech_audio, speech_probabilities, speech_segments

from .challenge import DIGIT_WORDS

__all__ = [
    "RATE",
    "DigitsHeard",
    "check_digits",
    "recognise_digits",
    "speech_audio",
    "speech_probabilities",
    "speech_segments",
]

_load_lock = threading.Lock()
_decode_lock = threading.Lock()


# No "oh" for 0: with it the decoder heard zeros that weren't said (four as "oh") in 2 of 19 corpus
# readings; the record page asks people to say "zero".
DIGIT_GRAMMAR_WORDS = DIGIT_WORDS
# How much better per second of audio (log-likelihood, every senone scored, so decodes of the same
# audio compare) a rival reading may explain the audio than the challenge's own sequence, and the
# challenge still count as said. Measured on 320 lab readings by the corpus's 8 voices (160 honest,
# 160 with one or two digits changed): a digit really said differently gave its rival 2.98 or more
# (flite awb's "eight" for "three"; most 40-300), so the bar sits below that, at 2; an honest
# reading the free decoder misheard gave 2 or less in 6 of 24 (seed 1).
MAX_CHALLENGE_GAP = 2.0
NBEST = 10
NBEST_COMPARED = 4  # the free decoder's best guesses the challenge is weighed against


def _word(digit: str) -> str:
    return DIGIT_WORDS[int(digit)]


def _grammar(n: int) -> str:
    """Any ``n`` digits: what the decoder heard, free of the challenge."""
    words = " | ".join(DIGIT_GRAMMAR_WORDS)
    return (
        f"#JSGF V1.0;\ngrammar digits;\n<digit> = {words};\npublic <digits> = {' '.join(['<digit>'] * n)};\n"
    )


def _sequence_grammar(digits: str) -> str:
    """Exactly ``digits``: how well the challenge itself explains the audio."""
    return f"#JSGF V1.0;\ngrammar said;\npublic <said> = {' '.join(_word(d) for d in digits)};\n"


# Options for pocketsphinx's Decoder: the front ends the check may use. Keys the model's own
# feat.params sets (cmn, remove_noise, lowerf/upperf) can't be overridden this way.
BASE_FRONT: tuple = ()


@functools.lru_cache(maxsize=8)
def _decoder(front: tuple = BASE_FRONT):
    with _load_lock:
        from pocketsphinx import Decoder

        # lm=None: no general language model, only the digit grammars added below. compallsen:
        # every senone scored in every frame, so the acoustic scores of two searches over the same
        # audio are normalised alike and can be compared (without it a wrong reading could
        # outscore the very digits that were said).
        return Decoder(lm=None, compallsen=True, loglevel="FATAL", **dict(front))


def _digits_of(hypstr: str) -> str:
    return "".join(str(DIGIT_WORDS.index(w)) for w in hypstr.split() if w in DIGIT_GRAMMAR_WORDS)


@dataclass
class DigitsHeard:
    """What the decoder heard, and whether it is the challenge.

    ``digits`` is the decoder's best guess among all ``len(challenge)``-digit sequences;
    ``nbest`` its next guesses. ``matches`` is True when the best guess is the challenge, or when
    the challenge explains the audio nearly as well (``gap``: how much worse, in log-likelihood
    per second of audio, at most MAX_CHALLENGE_GAP).
    ``score``: pocketsphinx's path score of the best guess.
    """

    digits: str
    matches: bool = False
    score: int = 0
    gap: float | None = None
    nbest: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "transcript": " ".join(self.digits),
            "score": self.score,
            "challenge_gap": None if self.gap is None else round(self.gap, 2),
            "nbest": self.nbest,
            "matches": self.matches,
        }


def _pcm(audio: np.ndarray) -> bytes:
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    # Quiet microphones: bring the peak up (at most 20×) so int16 keeps the detail.
    gain = min(20.0, 0.9 / peak) if peak > 0 else 1.0
    return (np.clip(audio * gain, -1, 1) * 32767).astype("<i2").tobytes()


def _decode(decoder, pcm: bytes, name: str, grammar: str, *, nbest: int = 0):
    """Decode ``pcm`` with ``grammar``: (hypothesis or None, up to ``nbest`` other guesses,
    acoustic log-likelihood of the best path over every frame, silences included)."""
    decoder.add_jsgf_string(name, grammar)
    decoder.activate_search(name)
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    hyp = decoder.hyp()
    if hyp is None or not hyp.hypstr:
        return None, [], None
    # The binding hands each segment's acoustic score out as a probability (exp of the log):
    # tiny but far from underflow for segments under a second.
    acoustic = sum(math.log(max(s.ascore, 1e-300)) for s in decoder.seg())
    guesses = []
    for other in decoder.nbest() if nbest else ():
        digits = _digits_of(other.hypstr)
        if digits and digits not in guesses:
            guesses.append(digits)
        if len(guesses) >= nbest:
            break
    return hyp, guesses, acoustic


def _raw_score(decoder, hyp) -> int:
    # The Python binding hands out exp(score); the log is the decoder's own path score.
    return int(decoder.get_logmath().log(hyp.best_score))


def recognise_digits(audio: np.ndarray, count: int) -> DigitsHeard:
    """Decode exactly ``count`` spoken digits from mono 16 kHz float audio."""
    decoder = _decoder()
    with _decode_lock:
        hyp, guesses, _ = _decode(decoder, _pcm(audio), f"digits{count}", _grammar(count), nbest=NBEST)
    if hyp is None:
        return DigitsHeard("")
    return DigitsHeard(_digits_of(hyp.hypstr), score=_raw_score(decoder, hyp), nbest=guesses)


def _rivals(heard: DigitsHeard, challenge: str) -> list[str]:
    """The readings the challenge is weighed against: the decoder's best guesses, and the
    challenge with each digit heard differently put in (so a digit said differently is weighed
    even when the free guess erred elsewhere). Only a full-length guess lines up digit by digit."""
    rivals = list(heard.nbest[:NBEST_COMPARED])
    if len(heard.digits) == len(challenge):
        for i, (want, got) in enumerate(zip(challenge, heard.digits, strict=True)):
            if want != got:
                rivals.append(challenge[:i] + got + challenge[i + 1 :])
    return [r for r in dict.fromkeys(rivals) if r != challenge and len(r) == len(challenge)]


def _forced(decoder, pcm: bytes, digits: str) -> float | None:
    """Acoustic log-likelihood of the audio read as exactly ``digits`` (None: can't be fitted)."""
    hyp, _, acoustic = _decode(decoder, pcm, "said", _sequence_grammar(digits))
    return acoustic if hyp is not None and _digits_of(hyp.hypstr) == digits else None


def _prime(decoder, pcm: bytes, search: str) -> None:
    """Start the front end afresh on this recording. The model's feat.params turns on
    pocketsphinx's noise removal, whose noise estimate carries over from one utterance to the
    next: without a reset, what was heard depended on the recording the process decoded before
    (the same reading came out 1598 or 1597). One pass over the audio with no search leaves the
    estimate at this recording's own noise, so every decode that follows starts alike: 131 of 160
    honest lab readings heard right at once, against 123 from a bare reset and 106 without noise
    removal."""
    decoder.reinit_feat()
    decoder.activate_search(search)
    decoder.start_utt()
    decoder.process_raw(pcm, no_search=True, full_utt=True)
    decoder.end_utt()


def _weigh(
    audio: np.ndarray, challenge: str, front: tuple = BASE_FRONT, *, prime: bool = True
) -> DigitsHeard:
    """One front end: the free decode of ``len(challenge)`` digits, then, if it heard otherwise,
    how much better than the challenge the best rival reading explains the audio."""
    decoder, pcm = _decoder(front), _pcm(audio)
    search = f"digits{len(challenge)}"
    with _decode_lock:
        decoder.add_jsgf_string(search, _grammar(len(challenge)))
        if prime:
            _prime(decoder, pcm, search)
        hyp, guesses, _ = _decode(decoder, pcm, search, _grammar(len(challenge)), nbest=NBEST)
        if hyp is None:
            return DigitsHeard("")
        heard = DigitsHeard(_digits_of(hyp.hypstr), score=_raw_score(decoder, hyp), nbest=guesses)
        if heard.digits == challenge:
            heard.matches, heard.gap = True, 0.0
            return heard
        own = _forced(decoder, pcm, challenge)
        frames = max(1, decoder.n_frames())
        others = (
            [_forced(decoder, pcm, rival) for rival in _rivals(heard, challenge)] if own is not None else []
        )
    if own is None:
        return heard  # the challenge's words could not even be fitted to the audio
    best_other = max((score for score in others if score is not None), default=own)
    # Per second of audio (100 frames), so long and short readings are judged alike.
    heard.gap = (best_other - own) * 100 / frames
    heard.matches = heard.gap <= MAX_CHALLENGE_GAP
    return heard


def check_digits(audio: np.ndarray, challenge: str) -> DigitsHeard:
    """Were ``challenge``'s digits said in ``audio`` (mono 16 kHz float)? See DigitsHeard.

    Every decode is constrained to the digit words. The free decode finds the best of all
    sequences of the challenge's length (and its n-best list); when that is not the challenge,
    the audio is decoded again as exactly the challenge and as exactly each rival (same grammar
    shape, every senone scored, so the acoustic scores compare): the challenge counts as said
    when no rival beats it by more than MAX_CHALLENGE_GAP per second. (Retrying with the
    frequency axis warped, 0.82-1.2, heard 11 more honest lab readings right but also heard one
    reading of other digits as the challenge: not used.) ~0.1-0.2 s per decode.
    """
    return _weigh(audio, challenge)
