"""Speech in a recording: where it is (silero-vad, ONNX) and which digits were said (pocketsphinx).

Both models ship inside their pip packages and load by path on first use, once per process;
neither imports torch. Digits are decoded with a JSGF grammar of exactly N digits, so the
decoder can only answer with N digits and the check is an exact comparison. Cost: ~5 ms of VAD
and ~40 ms of decoding per second of audio on one core; the pocketsphinx model loads in ~0.3 s.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from dataclasses import dataclass
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


def _grammar(n: int) -> str:
    words = " | ".join(DIGIT_WORDS + ("oh",))
    return (
        f"#JSGF V1.0;\ngrammar digits;\n<digit> = {words};\npublic <digits> = {' '.join(['<digit>'] * n)};\n"
    )


@functools.cache
def _decoder():
    with _load_lock:
        from pocketsphinx import Decoder

        # lm=None: no general language model, only the digit grammars added below.
        return Decoder(lm=None, loglevel="FATAL")


@dataclass
class DigitsHeard:
    digits: str  # what the decoder heard, "" when nothing
    score: int  # pocketsphinx path score (log scale, closer to 0 is better)


def recognise_digits(audio: np.ndarray, count: int) -> DigitsHeard:
    """Decode exactly ``count`` spoken digits from mono 16 kHz float audio ("oh" counts as 0)."""
    decoder = _decoder()
    name = f"digits{count}"
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    # Quiet microphones: bring the peak up (at most 20×) so int16 keeps the detail.
    gain = min(20.0, 0.9 / peak) if peak > 0 else 1.0
    pcm = (np.clip(audio * gain, -1, 1) * 32767).astype("<i2").tobytes()
    with _decode_lock:
        if count not in _grammars:
            decoder.add_jsgf_string(name, _grammar(count))
            _grammars.add(count)
        decoder.activate_search(name)
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
    if hyp is None or not hyp.hypstr:
        return DigitsHeard("", 0)
    words = hyp.hypstr.split()
    digits = "".join(
        "0" if w == "oh" else str(DIGIT_WORDS.index(w)) for w in words if w in DIGIT_WORDS + ("oh",)
    )
    return DigitsHeard(digits, int(hyp.score))
