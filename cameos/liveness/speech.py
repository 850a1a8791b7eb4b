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
# How much better per second of audio (path log-likelihood, every senone scored, so decodes of
# the same audio compare) a rival reading may explain the audio than the challenge's own
# sequence, and the challenge still count as said. Set at half the nearest reading of other
# digits in bench/liveness_digits_lab.py's tuning seeds 1-3 (240 readings with one, two or four
# digits changed): 9.6/s on the machine that first measured it, 10.1/s on the next (flite 2.2-5,
# espeak-ng 1.51), so a reading of other digits still has to come twice as close as any did
# before it passes. Honest readings accepted, seeds 1-3: 232 of 240 (230 at the old bar of 2);
# held out, seeds 4-5: 157 of 160 (155); readings of other digits refused alike at both bars.
# The honest refusals left lose by 4.9-24/s, mostly to the same wrong digit at every warp.
MAX_CHALLENGE_GAP = 4.8
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
# bestpath off: the lattice pass that picks the final hypothesis drops the last word of some
# readings (flite awb's "8 3 5 3" came out "8 3 5", and the challenge itself could not be fitted),
# so the hypothesis is the search's own best path. 139 of 160 honest lab readings heard right at
# once, against 131 with the lattice pass.
# The warp is stated even when neutral: pocketsphinx keeps the warp in process-wide state that a
# decoder's front end only resets when its warp string differs from the last one parsed (a
# decoder without one left a warped decoder unwarped after it; see front_for).
BASE_FRONT: tuple = (("bestpath", False), ("warp_type", "inverse_linear"), ("warp_params", "1.0"))
# pocketsphinx's path scores are logs to base 1.0001 scaled by 2**10 (its senone score shift): about
# nats once multiplied by this (MAX_CHALLENGE_GAP is calibrated in these units on the lab).
NATS_PER_UNIT = math.log(1.0001) * 1024


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


def _decode(decoder, pcm: bytes, name: str, grammar: str | None, *, nbest: int = 0):
    """Decode ``pcm`` with ``grammar`` (None: the search ``name`` already added): (hypothesis or
    None, up to ``nbest`` other guesses, acoustic log-likelihood of the best path over every frame,
    silences included)."""
    if grammar is not None:
        decoder.add_jsgf_string(name, grammar)
    decoder.activate_search(name)
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    hyp = decoder.hyp()
    if hyp is None or not hyp.hypstr:
        return None, [], None
    # The path's log-likelihood (with the grammar's word and silence penalties, alike for sequences
    # of the same length), in about natural-log units.
    acoustic = _raw_score(decoder, hyp) * NATS_PER_UNIT
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
    """Decode exactly ``count`` spoken digits from mono 16 kHz float audio (the check's front
    end, free of any challenge)."""
    decoder, pcm = _decoder(front_for(audio)), _pcm(audio)
    with _decode_lock:
        hyp, guesses = _free_decode(decoder, pcm, count)
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


# Vocal tract length: the model hears voices better with the frequency axis warped towards the
# voices it was trained on: stretched for low voices, compressed for high ones (pocketsphinx's
# inverse-linear warp). Lab, honest readings heard right at once, warped against not: flite slt 25
# of 30 (22) and espeak en-us+f3 24 (18) at 1.12; flite awb 28 (26), espeak en-gb 29 (27) and
# en-gb-scotland 27 (27) at 0.88, flite rms and kal16 30 either way. The corpus's high voices speak
# at 160-193 Hz, its low ones at 86-132 Hz; people at ~85-155 Hz and ~165-255 Hz. The whole check,
# lab seeds 1-3: honest readings accepted 229 of 240 (227 with only high voices warped, 220
# unwarped), readings of other digits refused 240 of 240 each way, the nearest at 9.6/s (3.1/s
# unwarped).
HIGH_VOICE_HZ = 150.0
HIGH_VOICE_WARP = 1.12
LOW_VOICE_WARP = 0.88


def voice_pitch(audio: np.ndarray, rate: int = RATE) -> float:
    """Median fundamental frequency (Hz, 70-400) of the loud voiced 40 ms frames of mono float
    ``audio`` (autocorrelation peak); 0.0 when no frame is voiced."""
    size, hop = rate // 25, rate // 50
    frames = np.lib.stride_tricks.sliding_window_view(audio, size)[::hop] if len(audio) >= size else []
    if not len(frames):
        return 0.0
    frames = frames - frames.mean(axis=1, keepdims=True)
    energy = np.sqrt((frames**2).mean(axis=1))
    shortest, longest = rate // 400, rate // 70
    pitches = []
    for frame in frames[energy >= 0.3 * energy.max()]:
        corr = np.correlate(frame, frame, "full")[size - 1 :]
        if corr[0] <= 0:
            continue
        lag = shortest + int(np.argmax(corr[shortest:longest]))
        if corr[lag] / corr[0] > 0.4:  # clearly periodic: a vowel, not a hiss
            pitches.append(rate / lag)
    return float(np.median(pitches)) if pitches else 0.0


def front_for(audio: np.ndarray) -> tuple:
    """The decoder options for this voice: BASE_FRONT with the warp for a high or a low voice."""
    warp = HIGH_VOICE_WARP if voice_pitch(audio) >= HIGH_VOICE_HZ else LOW_VOICE_WARP
    return (*BASE_FRONT[:-1], ("warp_params", str(warp)))


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


def _free_decode(decoder, pcm: bytes, count: int, *, prime: bool = True):
    """Any ``count`` digits, from a front end primed on ``pcm``: (hypothesis, n-best digits)."""
    search = f"digits{count}"
    decoder.add_jsgf_string(search, _grammar(count))
    if prime:
        _prime(decoder, pcm, search)
    hyp, guesses, _ = _decode(decoder, pcm, search, None, nbest=NBEST)
    return hyp, guesses


def _weigh(
    audio: np.ndarray, challenge: str, front: tuple = BASE_FRONT, *, prime: bool = True
) -> DigitsHeard:
    """One front end: the free decode of ``len(challenge)`` digits, then, if it heard otherwise,
    how much better than the challenge the best rival reading explains the audio."""
    decoder, pcm = _decoder(front), _pcm(audio)
    with _decode_lock:
        hyp, guesses = _free_decode(decoder, pcm, len(challenge), prime=prime)
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

    Every decode is constrained to the digit words and starts from a front end primed on this
    recording (``_prime``), its frequency axis warped for a high or a low voice (``front_for``). The free decode finds the best of all sequences of the challenge's
    length (and its n-best list); when that is not the challenge, the audio is decoded again as
    exactly the challenge and as exactly each rival (same grammar shape, every senone scored, so
    the path scores compare): the challenge counts as said when no rival beats it by more than
    MAX_CHALLENGE_GAP per second. ~0.1-0.2 s per decode. Not used, measured on the lab: frequency
    warps 0.82-1.2 as a retry (11 more honest readings heard right, one reading of other digits
    heard as the challenge), the warp whose free decode scores best (68 honest readings of 80
    right against 70), beams of 1e-80 (fewer heard right at once), ``topn`` 8 (2 more of 160 heard
    right at once, at 1.4× the time; not pursued), pooling the gaps of warps 0.06 either side
    (mean, median or vote: no honest reading more; accepting when any warp does: 3 more, but the
    nearest reading of other digits came within 5.8/s); cmn, noise removal and the filter bank's
    edges are set by the model's feat.params and can't be changed by options.
    """
    return _weigh(audio, challenge, front_for(audio))
