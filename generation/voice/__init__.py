"""Cameo voice, route 2: after decoding, give the clip's speech the cameo's voice.

Separate speech from music and effects (Demucs), convert only the speech regions to the cameo's voice
(kNN-VC: WavLM layer-6 features matched against the cameo's enrolment features, vocoded by our own
HiFi-GAN), and lay the converted speech back over the untouched background. The clip keeps its exact
length, so lip sync survives.

Importing this package is cheap: torch, transformers and demucs are imported when a stage loads.
Only worker processes should load one (:func:`generation.voice.stage.get_voice_stage`).
"""
