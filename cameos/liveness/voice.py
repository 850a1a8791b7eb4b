"""The owner's voice: a WAV of their speech and a Resemblyzer speaker embedding.

Resemblyzer ships its encoder weights in the wheel. It imports torch and librosa, so it loads on
first use, once per process (~2 s). ``torch.set_num_threads(1)`` is set on that path: on a busy
2-core machine it turns a 3.8 s embedding into ~10 ms (see FACTS); it is process-wide, which
suits a worker process.
"""

from __future__ import annotations

import functools
import io
import threading
import warnings
import wave

import numpy as np

RATE = 16_000
_load_lock = threading.Lock()


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
