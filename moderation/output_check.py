"""Output moderation: what a generated video actually shows and says, checked on the worker.

Three offline checks, each with models that ship inside pip packages:
- frames sampled through the video → nudity detection (nudenet's bundled 320n ONNX detector);
- the audio → pocketsphinx: a general English transcript plus keyword spotting for the phrases
  the policy blocks, then the same text policy as prompts;
- faces → dlib embeddings compared with verified cameos the author may not use.

`check_output(...)` returns a `CheckResult` (pass / review / blocked, the category, the scores and
the frames that scored highest). Models load once per worker process.
"""

from __future__ import annotations

import io
import tempfile
import threading
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings

EXPLICIT = {
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "BUTTOCKS_EXPOSED",
}
# Spoken phrases blocked whatever the policy rules say (threats); cameo owners add their own.
DEFAULT_SPOKEN_PHRASES = ["kill you", "i will kill", "shoot you", "going to hurt you", "bomb the"]

PASSED, REVIEW, BLOCKED = "passed", "review", "blocked"

_lock = threading.Lock()
_detector = None


def setting(name: str, default):
    return getattr(settings, name, default)


@dataclass
class CheckResult:
    outcome: str = PASSED  # passed | review | blocked
    category: str = ""
    reason: str = ""
    scores: dict = field(default_factory=dict)
    top_frames: list[bytes] = field(default_factory=list)  # JPEGs of the frames that scored highest

    def escalate(self, outcome: str, category: str, reason: str) -> None:
        order = {PASSED: 0, REVIEW: 1, BLOCKED: 2}
        if order[outcome] > order[self.outcome]:
            self.outcome, self.category, self.reason = outcome, category, reason


def nude_detector():
    global _detector
    with _lock:
        if _detector is None:
            from nudenet import NudeDetector

            _detector = NudeDetector()
        return _detector


def sample_frames(frames: np.ndarray, fps: float, sample_fps: float) -> list[int]:
    step = max(1, round(fps / max(sample_fps, 0.1)))
    return list(range(0, len(frames), step))


def nudity_scores(frames: np.ndarray, indices: list[int]) -> list[float]:
    """Highest explicit-class confidence per sampled frame, straight from the detector's outputs.

    nudenet's own `detect()` drops everything under 0.2; the raw class scores keep the small
    values too, so a review threshold can sit anywhere in (0, 1).
    """
    import nudenet.nudenet as nn

    detector = nude_detector()
    labels = getattr(nn, "__labels")
    columns = [4 + labels.index(name) for name in sorted(EXPLICIT)]
    scores = []
    for i in indices:
        rgb = frames[i]
        # nudenet's reader converts ndarrays with RGBA→BGR, so hand it RGBA.
        rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2)
        blob = nn._read_image(rgba, detector.input_width)[0]
        raw = detector.onnx_session.run(None, {detector.input_name: blob})[0]
        table = np.squeeze(raw).T  # (candidate boxes, 4 box values + one score per class)
        scores.append(float(table[:, columns].max()))
    return scores


def to_mono16k(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    mono = audio.mean(axis=0) if audio.ndim == 2 else audio
    if sample_rate != 16000 and len(mono):
        positions = np.linspace(0, len(mono) - 1, int(len(mono) * 16000 / sample_rate))
        mono = np.interp(positions, np.arange(len(mono)), mono)
    return np.clip(mono, -1, 1).astype(np.float32)


def to_pcm(mono16k: np.ndarray) -> bytes:
    return (mono16k * 32767).astype("<i2").tobytes()


def _decode(pcm: bytes, **config) -> str:
    from pocketsphinx import Decoder

    decoder = Decoder(samprate=16000, loglevel="FATAL", **config)
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    hyp = decoder.hyp()
    return hyp.hypstr.strip() if hyp else ""


def known_phrases(phrases: list[str]) -> list[str]:
    """Keep phrases whose every word is in pocketsphinx's dictionary (others can't be spotted)."""
    from pocketsphinx import Decoder

    decoder = Decoder(samprate=16000, loglevel="FATAL")
    kept = []
    for phrase in phrases:
        words = [w for w in "".join(c if c.isalpha() or c == "'" else " " for c in phrase.lower()).split()]
        if words and all(decoder.lookup_word(w) for w in words):
            kept.append(" ".join(words))
    return sorted(set(kept))


def listen(audio: np.ndarray, sample_rate: int, phrases: list[str]) -> tuple[str, list[str], float]:
    """(transcript, phrases spotted, seconds of speech) for the audio track.

    Only the stretches silero-vad calls speech are transcribed: music, effects and noise cost
    one cheap VAD pass instead of two recogniser passes.
    """
    from cameos.liveness.speech import speech_audio, speech_segments

    mono = to_mono16k(audio, sample_rate)
    segments = speech_segments(mono)
    speech_seconds = sum(b - a for a, b in segments)
    if not segments:
        return "", [], 0.0
    pcm = to_pcm(speech_audio(mono, segments))
    transcript = _decode(pcm)
    spotted: list[str] = []
    phrases = known_phrases(phrases)
    if phrases:
        threshold = setting("OUTPUT_CHECK_KWS_THRESHOLD", "1e-15")
        with tempfile.NamedTemporaryFile("w", suffix=".kws") as kws:
            kws.write("".join(f"{p} /{threshold}/\n" for p in phrases))
            kws.flush()
            hits = _decode(pcm, kws=kws.name)
        spotted = sorted({p for p in phrases if p in hits})
    return transcript, spotted, speech_seconds


def jpeg(rgb: np.ndarray) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(rgb).save(out, "JPEG", quality=80)
    return out.getvalue()


def check_output(
    frames: np.ndarray,
    fps: float,
    audio: np.ndarray | None,
    sample_rate: int | None,
    *,
    real_person: bool = False,
    teen: bool = False,
    spoken_phrases: list[str] = (),
    text_policy=None,
    forbidden_faces: list[tuple[str, list[float]]] = (),
) -> CheckResult:
    """Check one video. Thresholds are stricter with a real person's cameo in it or a teen author.

    `text_policy(text) -> (category, message) | None` is the prompt policy applied to the transcript;
    `forbidden_faces` are (label, 128-d embedding) of verified cameos the author may not use.
    """
    result = CheckResult()
    strict = 0.7 if (real_person or teen) else 1.0
    block_at = setting("OUTPUT_NUDITY_BLOCK", 0.6) * strict
    review_at = setting("OUTPUT_NUDITY_REVIEW", 0.35) * strict

    indices = sample_frames(frames, fps, setting("OUTPUT_CHECK_SAMPLE_FPS", 2.0))
    scores = nudity_scores(frames, indices)
    result.scores["nudity"] = {"max": max(scores, default=0.0), "frames": len(indices), "block_at": block_at,
                               "review_at": review_at}  # fmt: skip
    ranked = sorted(zip(scores, indices, strict=True), reverse=True)[:3]
    result.top_frames = [jpeg(frames[i]) for s, i in ranked if s > 0] or [jpeg(frames[len(frames) // 2])]
    top = ranked[0][0] if ranked else 0.0
    if top >= block_at:
        result.escalate(BLOCKED, "sexual", "The video shows nudity or sexual content.")
    elif top >= review_at:
        result.escalate(REVIEW, "sexual", "A moderator will look at this video before it can be shared.")

    if audio is not None and sample_rate:
        transcript, spotted, speech_seconds = listen(
            audio, sample_rate, [*DEFAULT_SPOKEN_PHRASES, *spoken_phrases]
        )
        result.scores["audio"] = {
            "transcript": transcript,
            "spotted": spotted,
            "speech_seconds": round(speech_seconds, 2),
        }
        if spotted:
            result.escalate(
                BLOCKED, "speech", f"The audio says something that isn't allowed (“{spotted[0]}”)."
            )
        if text_policy is not None:
            verdict = text_policy(" ".join([transcript, *spotted]))
            if verdict:
                category, message = verdict
                result.escalate(BLOCKED, category, f"The audio breaks the rules: {message}")

    if forbidden_faces:
        from cameos.liveness import face_embeddings_in_frames

        face_indices = indices[:: max(1, len(indices) // 8)]
        faces = face_embeddings_in_frames([frames[i] for i in face_indices])
        limit = setting("OUTPUT_FACE_MATCH_DISTANCE", 0.5)
        best = {}
        for label, reference in forbidden_faces:
            ref = np.asarray(reference)
            distances = [float(np.linalg.norm(np.asarray(f) - ref)) for f in faces]
            best[label] = min(distances, default=None)
            if distances and min(distances) < limit:
                result.escalate(BLOCKED, "likeness", "The video shows a person whose cameo you may not use.")
        result.scores["faces"] = {"found": len(faces), "closest": best}
    return result


def output_check_context(generation) -> dict:
    """What the checks need to know about a generation: its author's age, the cameos in it."""
    from generation.errors import PolicyRefused
    from moderation.policy import check_generation_request

    def text_policy(text: str):
        if not text.strip():
            return None
        try:
            check_generation_request(generation.owner, [text], [])
        except PolicyRefused as exc:
            return exc.category, str(exc)
        return None

    from cameos.actions.uses import cameo_check_context

    cameos = cameo_check_context(generation)
    # Each comma- or line-separated item of a cameo owner's restrictions is a phrase the audio
    # must not say (e.g. "politics, the word banana").
    phrases = [
        item.strip()
        for text in cameos["cameo_restrictions"]
        for item in text.replace("\n", ",").split(",")
        if item.strip()
    ]
    return {
        "teen": generation.owner.is_teen,
        "real_person": cameos["real_person"],
        "spoken_phrases": phrases,
        "forbidden_faces": cameos["forbidden_faces"],
        "text_policy": text_policy,
    }
