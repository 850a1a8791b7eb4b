"""Speech in a clip and whose voice it is: silero-vad (ONNX) and Resemblyzer speaker embeddings.

Shared by generation (the voice stage finds the speech it converts and measures the voice it made)
and by cameos (liveness hears the owner's speech and keeps their voice): it lives here, below
both, so cameos imports it downward. Both models ship inside their pip packages and load by path
on first use, once per process. silero-vad runs on onnxruntime without torch (~5 ms per second
of audio on one core). Resemblyzer imports torch and librosa (~2 s on first use);
``torch.set_num_threads(1)`` is set on that path: on a busy 2-core machine it turns a 3.8 s
embedding into ~10 ms (see FACTS); it is process-wide, which suits a worker process.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import threading
import warnings
import wave
from pathlib import Path

import numpy as np

RATE = 16_000
WINDOW = 512  # silero-vad's window at 16 kHz (32 ms), preceded by 64 samples of context
CONTEXT = 64
SPEECH_ON, SPEECH_OFF = 0.5, 0.35  # hysteresis, as silero's own get_speech_timestamps
MIN_SPEECH, MIN_SILENCE, PAD = 0.25, 0.15, 0.1  # seconds

_load_lock = threading.Lock()


def package_file(package: str, *parts: str) -> Path:
    """A file inside an installed package, found without importing it (silero_vad's __init__
    imports torch)."""
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
            str(package_file("silero_vad", "data", "silero_vad.onnx")),
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


def wav_bytes(audio: np.ndarray, rate: int = RATE) -> bytes:
    """Mono float audio in [-1, 1] as a 16-bit PCM WAV file."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return out.getvalue()


@functools.cache
def _encoder():
    with _load_lock:
        import torch

        with warnings.catch_warnings():
            # resemblyzer's webrtcvad imports pkg_resources (kept by pinning setuptools<81).
            warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
            from resemblyzer import VoiceEncoder

        torch.set_num_threads(1)
        return VoiceEncoder(device="cpu", verbose=False)


def voice_embedding(speech: np.ndarray) -> list[float]:
    """Resemblyzer's 256-d unit-length speaker embedding of mono 16 kHz speech (silences cut).

    Same voice scores ~0.75-0.9 cosine, different voices ~0.4-0.65: evidence, not proof.
    """
    import torch

    encoder = _encoder()  # first: it imports resemblyzer with its import warning silenced
    from resemblyzer import normalize_volume

    torch.set_num_threads(1)  # again: another library in this process may have raised it
    wav = normalize_volume(np.asarray(speech, np.float32), -30, increase_only=True)
    with torch.inference_mode():
        return [float(v) for v in encoder.embed_utterance(wav)]
