"""The owner's voice: a WAV of their speech and a Resemblyzer speaker embedding.

Both live in ``generation.voice.recognition`` (the voice stage needs them too; generation sits
below cameos); this module names them for liveness and its callers.
"""

from generation.voice.recognition import RATE, voice_embedding, wav_bytes

__all__ = ["RATE", "voice_embedding", "wav_bytes"]
