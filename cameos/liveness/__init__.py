"""Cameo liveness: is this recording one live person doing the challenge we issued?

A cameo owner records a short clip in the browser while reading a random challenge aloud
(digits) and turning their head as asked. ``analyse_recording`` checks one face throughout, the
head turns in order (and not like a flat photo), speech, and the spoken digits, and returns the
reference faces, voice sample and embeddings that later likeness checks use. Character cameos
(pets, objects) skip liveness: ``analyse_character`` only vets media and picks references.

Importing this package is cheap: dlib, onnxruntime, pocketsphinx and torch load on first use,
once per process (see each module). Everything runs offline from files inside pip packages.
"""

from .analysis import CharacterResult, LivenessResult, analyse_character, analyse_recording
from .challenge import Challenge, new_challenge
from .face import face_embeddings_in_frames
from .media import RecordingError, RecordingTooLarge

__all__ = [
    "Challenge",
    "CharacterResult",
    "LivenessResult",
    "RecordingError",
    "RecordingTooLarge",
    "analyse_character",
    "analyse_recording",
    "face_embeddings_in_frames",
    "new_challenge",
]
