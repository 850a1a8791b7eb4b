"""Speech in a recording: where it is (silero-vad, ONNX) and which digits were said (pocketsphinx).

Both models ship inside their pip packages and load by path on first use, once per process;
neither imports torch. Digits are decoded with a JSGF grammar of exactly N digits, so the
decoder can only answer with N digits and the check is an exact comparison. Cost: ~5 ms of VAD
and ~40 ms of decoding per second of audio on one core; the pocketsphinx model loads in ~0.3 s.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .challenge import DIGIT_WORDS

RATE = 16_000
WINDOW = 512  # silero-vad's window at 16 kHz (32 ms), preceded by 64 samples of context
CONTEXT = 64
SPEECH_ON, SPEECH_OFF = 0.5, 0.35  # hysteresis, as silero's own get_speech_timestamps
MIN_SPEECH, MIN_SILENCE, PAD = 0.25, 0.15, 0.1  # seconds

_load_lock = threading.Lock()
_decode_lock = threading.Lock()
_grammars: set[int] = set()  # digit counts whose grammar the shared decoder already has


def _package_file(package: str, *parts: str) -> Path:
    # By path, without importing the package: silero_vad's __init__ imports torch.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"The {package} package is not installed.")
    return Path(spec.submodule_search_locations[0]).joinpath(*parts)


@functools.cache
def _vad_session():
    with _load_lock:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        return onnxruntime.InferenceSession(
            str(_package_file("silero_vad", "data", "silero_vad.onnx")),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )


def speech_probabilities(audio: np.ndarray) -> np.ndarray:
    """silero-vad's speech probability for each 32 ms window of mono 16 kHz float audio."""
    session = _vad_session()
    state = np.zeros((2, 1, 128), np.float32)
    context = np.zeros((1, CONTEXT), np.float32)
    sr = np.array(RATE, dtype=np.int64)
    audio = np.asarray(audio, np.float32)
    padded = np.pad(audio, (0, (-len(audio)) % WINDOW))
    probs = []
    for start in range(0, len(padded), WINDOW):
        chunk = np.concatenate([context, padded[None, start : start + WINDOW]], axis=1)
        out, state = session.run(None, {"input": chunk, "state": state, "sr": sr})
        context = chunk[:, -CONTEXT:]
        probs.append(float(out[0, 0]))
    return np.array(probs, np.float32)


def speech_segments(audio: np.ndarray) -> list[tuple[float, float]]:
    """(start, end) seconds of speech, padded by 0.1 s; gaps under 0.15 s are bridged."""
    probs = speech_probabilities(audio)
    window = WINDOW / RATE
    segments: list[list[float]] = []
    start, quiet_since = None, None
    for i, p in enumerate(probs):
        t = i * window
        if start is None:
            if p >= SPEECH_ON:
                start, quiet_since = t, None
        elif p < SPEECH_OFF:
            quiet_since = t if quiet_since is None else quiet_since
            if t + window - quiet_since >= MIN_SILENCE:
                segments.append([start, quiet_since])
                start, quiet_since = None, None
        else:
            quiet_since = None
    if start is not None:
        segments.append([start, len(probs) * window])
    total = len(audio) / RATE
    return [(max(0.0, a - PAD), min(total, b + PAD)) for a, b in segments if b - a >= MIN_SPEECH]


def speech_audio(audio: np.ndarray, segments) -> np.ndarray:
    """Only the speech: the segments' samples joined end to end."""
    parts = [audio[int(a * RATE) : int(b * RATE)] for a, b in segments]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


# No "oh" for 0: with it the decoder heard zeros that weren't said (four as "oh") in 2 of 19 corpus
# readings; the record page asks people to say "zero".
DIGIT_GRAMMAR_WORDS = DIGIT_WORDS
# How much worse per second of speech the challenge's own sequence may explain the audio than the
# decoder's best guess and still count as said. Measured on the liveness corpus: a digit misheard
# by the free decoder (five as nine) costs the challenge 0-3 per second; a digit really said
# differently costs it 8 or more.
MAX_CHALLENGE_GAP = 4.0
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


@functools.cache
def _decoder():
    with _load_lock:
        from pocketsphinx import Decoder

        # lm=None: no general language model, only the digit grammars added below.
        return Decoder(lm=None, loglevel="FATAL")


def _digits_of(hypstr: str) -> str:
    return "".join(str(DIGIT_WORDS.index(w)) for w in hypstr.split() if w in DIGIT_GRAMMAR_WORDS)


@dataclass
class DigitsHeard:
    """What the decoder heard, and whether it is the challenge.

    ``digits`` is the decoder's best guess among all ``len(challenge)``-digit sequences;
    ``nbest`` its next guesses. ``matches`` is True when the best guess is the challenge, or when
    the challenge is among the guesses and explains the audio nearly as well (``gap``: how much
    worse, in log-likelihood per second of speech, at most MAX_CHALLENGE_GAP). Close digits
    (five/nine) are thus forgiven for the challenge's own digits only: saying other digits
    leaves a large gap. ``score``: pocketsphinx's path score of the best guess.
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
    if grammar is not None:
        decoder.add_jsgf_string(name, grammar)
    decoder.activate_search(name)
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    hyp = decoder.hyp()
    guesses = []
    if nbest and hyp is not None:
        for other in decoder.nbest():
            digits = _digits_of(other.hypstr)
            if digits and digits not in guesses:
                guesses.append(digits)
            if len(guesses) >= nbest:
                break
    return hyp, guesses


def _raw_score(decoder, hyp) -> int:
    # The Python binding hands out exp(score); the log is the decoder's own path score.
    return int(decoder.get_logmath().log(hyp.best_score))


def recognise_digits(audio: np.ndarray, count: int) -> DigitsHeard:
    """Decode exactly ``count`` spoken digits from mono 16 kHz float audio."""
    decoder = _decoder()
    with _decode_lock:
        hyp, guesses = _decode(
            decoder,
            _pcm(audio),
            f"digits{count}",
            None if count in _grammars else _grammar(count),
            nbest=NBEST,
        )
        _grammars.add(count)
    if hyp is None or not hyp.hypstr:
        return DigitsHeard("")
    return DigitsHeard(_digits_of(hyp.hypstr), score=_raw_score(decoder, hyp), nbest=guesses)


def _forced_score(decoder, pcm: bytes, digits: str) -> float | None:
    """Acoustic log-likelihood of the audio read as exactly ``digits`` (None: can't be fitted).

    Summed over the word segments: the binding hands out each segment's acoustic score as a
    probability (exp of the log), tiny but far from underflow for words under a second.
    """
    hyp, _ = _decode(decoder, pcm, "said", _sequence_grammar(digits))
    if hyp is None or _digits_of(hyp.hypstr) != digits:
        return None
    return sum(math.log(max(s.ascore, 1e-300)) for s in decoder.seg() if s.word not in ("<s>", "</s>"))


def check_digits(audio: np.ndarray, challenge: str) -> DigitsHeard:
    """Were ``challenge``'s digits said in ``audio`` (mono 16 kHz float)? See DigitsHeard.

    All decodes are constrained to the digit words. First the best of all sequences of the
    challenge's length and its n-best list (what was heard, free of the challenge); then the
    audio is scored as exactly the challenge and as exactly each of the other guesses (same
    grammar shape, so the scores compare): the challenge matches when no other guess explains
    the audio better by more than MAX_CHALLENGE_GAP per second. ~0.1 s per decode.
    """
    heard = recognise_digits(audio, len(challenge))
    if not heard.digits:
        return heard
    if heard.digits == challenge:
        heard.matches, heard.gap = True, 0.0
        return heard
    decoder = _decoder()
    pcm = _pcm(audio)
    with _decode_lock:
        own = _forced_score(decoder, pcm, challenge)
        if own is None:
            return heard  # the challenge's words could not even be fitted to the audio
        frames = decoder.n_frames()
        # Rivals: the decoder's best guesses, and the challenge with each digit it heard differently
        # put in (so a digit said differently is weighed even when the free guess erred elsewhere).
        rivals = list(heard.nbest[:NBEST_COMPARED])
        # Only a full-length guess lines up digit by digit (a decode that ran out of audio before
        # the grammar's end heard fewer digits; its n-best guesses still compete above).
        if len(heard.digits) == len(challenge):
            for i, (want, got) in enumerate(zip(challenge, heard.digits, strict=True)):
                if want != got:
                    rivals.append(challenge[:i] + got + challenge[i + 1 :])
        others = [_forced_score(decoder, pcm, guess) for guess in dict.fromkeys(rivals) if guess != challenge]
    best_other = max((score for score in others if score is not None), default=own)
    # Per second of audio (100 frames), so long and short readings are judged alike.
    heard.gap = (best_other - own) * 100 / max(1, frames)
    heard.matches = heard.gap <= MAX_CHALLENGE_GAP
    return heard
