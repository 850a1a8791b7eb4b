"""Judging a cameo recording against its challenge, and vetting media for character cameos."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np

from . import face, speech, voice
from .challenge import Challenge
from .media import RecordingError, check_size, decode_recording

# Share of analysed frames that must show a face; below the lower bound we say "no face".
MIN_FACE_RATIO, NO_FACE_RATIO = 0.7, 0.3
MULTI_FACE_RATIO = 0.2  # share of face frames with a second face that counts as two people
MIN_SPEECH_SECONDS = 0.6
SPEECH_MARGIN = 0.3  # seconds of audio kept either side of the speech the VAD found
REFERENCE_FACES, EMBEDDING_FRAMES = 3, 5


@dataclass
class LivenessResult:
    """The verdict on one recording.

    ``verified`` is True only when ``reasons`` is empty. ``reasons`` are sentences for the person
    who recorded. ``checks`` holds the measurements (JSON-serialisable) for staff and tuning.
    The media fields are filled whenever the recording allows, verified or not.
    """

    verified: bool
    reasons: list[str]
    checks: dict
    reference_faces: list[bytes] = field(default_factory=list)  # face crops, JPEG, at most 3
    voice_sample_wav: bytes | None = None  # the speech only, mono 16 kHz 16-bit WAV
    voice_embedding: list[float] | None = None  # Resemblyzer, 256-d, unit length
    face_embedding: list[float] | None = None  # mean of dlib 128-d embeddings of frontal frames


def _spoken(digits: str) -> str:
    return " ".join(digits)


def analyse_recording(
    path,
    challenge: Challenge,
    *,
    min_seconds: float = 3.0,
    max_seconds: float = 30.0,
    max_bytes: int = 50_000_000,
) -> LivenessResult:
    """Check that the recording at ``path`` shows one live person performing ``challenge``.

    Raises RecordingError (message for the person) when the file is missing, empty, larger than
    ``max_bytes``, not a WebM/MP4 video with sound, damaged, cut off, or outside
    ``min_seconds``..``max_seconds``. Otherwise returns a LivenessResult; failed checks are
    reasons, not exceptions. CPU-bound: ~2-3 s for a 5 s 640×480 clip on one core, plus ~3 s of
    model loading on a process's first call. Call from a worker, not a web request.
    """
    recording = decode_recording(path, min_seconds=min_seconds, max_seconds=max_seconds, max_bytes=max_bytes)
    checks: dict = {
        "failed": [],  # the names of the checks that failed, in order (see _fail)
        "challenge": challenge.as_dict(),
        "media": recording.info,
        "duration": recording.info["duration"],
    }
    reasons: list[str] = []
    result = LivenessResult(verified=False, reasons=reasons, checks=checks)
    _check_face(recording, challenge, result)
    _check_speech(recording, challenge, result)
    result.verified = not reasons
    return result


def _fail(result: LivenessResult, check: str, reason: str) -> None:
    """Record a failed check: the reason for the person, the check's name for staff and the bench."""
    result.reasons.append(reason)
    result.checks.setdefault("failed", []).append(check)


FLAT_REASON = (
    "Your face moved like a flat picture, not a real head. Please record yourself live, "
    "turning your head as asked."
)


def _turn_reason(seen: list[str], asked: tuple[str, ...]) -> str:
    """What to do about turns that don't match the challenge, in the person's own terms."""
    how = "Turn your head clearly, about a quarter of the way, and back to the camera each time."
    if not seen:
        return f"We didn't see your head turn. {how}"
    missing = [turn for turn in asked if turn not in seen]
    if missing and len(set(seen)) == 1:
        return f"We saw your head turn {seen[0]} but not {missing[0]}. {how}"
    return (
        f"Your head turned {', then '.join(seen)}, but the challenge asked for {', then '.join(asked)}. "
        "Turn to your own left or right as the screen says, in that order."
    )


def _check_face(recording, challenge: Challenge, result: LivenessResult) -> None:
    frames = recording.frames
    observations = face.observe_faces(frames)
    with_face = [o for o in observations if o.faces]
    face_ratio = len(with_face) / len(observations)
    multi_ratio = sum(o.faces >= 2 for o in with_face) / len(with_face) if with_face else 0.0
    reading = face.find_turns(observations)
    seen = [e.direction for e in reading.events]
    result.checks["face"] = {
        "frames": len(observations),
        "face_ratio": round(face_ratio, 3),
        "faces": max((o.faces for o in observations), default=0),
        "multi_face_ratio": round(multi_ratio, 3),
        "mean_face_width_px": round(float(np.mean([o.width for o in with_face])), 1) if with_face else None,
    }
    result.checks["turns"] = {
        "asked": list(challenge.turns),
        "seen": seen,
        **reading.as_dict(),
        "peaks": [round(e.peak_offset, 3) for e in reading.events],
        "times": [round(frames[e.peak].time, 2) for e in reading.events],
        "yaw": [[round(o.time, 2), round(o.yaw, 3)] for o in observations if o.yaw is not None],
    }
    if face_ratio < NO_FACE_RATIO:
        _fail(result, "face", "No face in most of the video. Keep your face in the picture, well lit.")
        return
    if face_ratio < MIN_FACE_RATIO:
        _fail(
            result,
            "face",
            "Your face was out of view for part of the video. Keep your whole face in the picture.",
        )
    if multi_ratio >= MULTI_FACE_RATIO:
        _fail(result, "faces", "More than one face was in the video. Please record on your own.")

    if tuple(seen) != challenge.turns:
        _fail(result, "turns", _turn_reason(seen, challenge.turns))
    # Decided on its own, whether or not a turn was seen: a picture held still, slid, tilted or
    # turned convincingly must be refused as a picture.
    flat = face.judge_flatness(frames, observations, reading)
    result.checks["flat"] = flat
    if flat["verdict"] == "flat":
        _fail(result, "flat", FLAT_REASON)

    frontal = face.best_frontal(frames, observations, reading, EMBEDDING_FRAMES)
    embeddings = [face.embedding(frames[o.index].rgb, o.box) for o in frontal]
    if embeddings:
        result.face_embedding = [float(v) for v in np.mean(embeddings, axis=0)]
        spread = max((float(np.linalg.norm(a - b)) for a, b in combinations(embeddings, 2)), default=0.0)
        result.checks["face"]["embedding_spread"] = round(spread, 3)
        if spread > face.SAME_PERSON_DISTANCE:
            _fail(
                result,
                "identity",
                "The face changed during the video. Please record on your own, in one take.",
            )
    references = face.best_frontal(frames, observations, reading, REFERENCE_FACES)
    result.reference_faces = [face.jpeg_crop(frames[o.index].rgb, o.box) for o in references]


def _check_speech(recording, challenge: Challenge, result: LivenessResult) -> None:
    audio = recording.audio
    segments = speech.speech_segments(audio)
    seconds = sum(b - a for a, b in segments)
    details = {"seconds": round(seconds, 2), "segments": [[round(a, 2), round(b, 2)] for a, b in segments]}
    result.checks["speech"] = details
    if seconds < MIN_SPEECH_SECONDS:
        _fail(result, "speech", "We could not hear the numbers. Please read them aloud, clearly.")
        return
    # Decode only the span with speech (and a margin for a soft first or last digit): long noisy
    # silences are where the grammar goes astray.
    start = int(max(0.0, segments[0][0] - SPEECH_MARGIN) * speech.RATE)
    end = int((segments[-1][1] + SPEECH_MARGIN) * speech.RATE)
    heard = speech.check_digits(audio[start:end], challenge.digits)
    details.update(heard.as_dict())
    if not heard.digits:
        _fail(result, "digits", "We could not make out the numbers. Please read them aloud, clearly.")
    elif not heard.matches:
        _fail(
            result,
            "digits",
            f"The numbers we heard ({_spoken(heard.digits)}) are not the ones shown for this recording. "
            "Please read the numbers on screen, one by one.",
        )
    spoken = speech.speech_audio(audio, segments)
    result.voice_sample_wav = voice.wav_bytes(spoken)
    result.voice_embedding = voice.voice_embedding(spoken)


@dataclass
class CharacterResult:
    """Reference material for a character cameo (a pet, an object): no liveness, no identity.

    ``human_face`` is True when a human face shows in any reference image: a person must go
    through liveness, so the caller should refuse such a "character".
    """

    reference_images: list[bytes]  # JPEG, at most 3, longest side at most 1024 px
    checks: dict
    human_face: bool = False


MAX_CHARACTER_FILES = 6
MIN_IMAGE_SIDE = 128
MAX_REFERENCE_SIDE = 1024
MAX_IMAGE_PIXELS = 40_000_000


def _jpeg(image) -> bytes:
    image = image.convert("RGB")
    image.thumbnail((MAX_REFERENCE_SIDE, MAX_REFERENCE_SIDE))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def _open_image(path: Path):
    """The picture at ``path`` (EXIF orientation applied), or None when it isn't one."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as probe:
            if probe.width * probe.height > MAX_IMAGE_PIXELS:
                raise RecordingError("is too large in pixels")
            probe.verify()  # catches truncated and corrupt files without decoding twice
        with Image.open(path) as image:
            image.load()
            return ImageOps.exif_transpose(image)
    except (UnidentifiedImageError, Image.DecompressionBombError):
        return None
    except (OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, RecordingError):
            raise
        raise RecordingError("is a damaged picture") from exc


def analyse_character(
    paths: list, *, max_bytes: int = 50_000_000, max_seconds: float = 30.0
) -> CharacterResult:
    """Validate the pictures or clip of a character and pick up to 3 reference images.

    Each path may be a picture (JPEG, PNG, WebP, GIF...) or a WebM/MP4 clip (sound optional).
    Pictures are used first, in the given order; frames of clips fill the rest. Raises
    RecordingError naming the file (by position) when a file is unusable. Cost: ~0.1 s per
    picture, ~0.5 s per 10 s of clip, plus the face detector's first load.
    """
    from PIL import Image

    if not paths:
        raise RecordingError("Please upload at least one picture or clip.")
    if len(paths) > MAX_CHARACTER_FILES:
        raise RecordingError(f"Please upload at most {MAX_CHARACTER_FILES} files.")
    pictures, clip_frames, files = [], [], []
    for number, path in enumerate(paths, start=1):
        path = Path(path)
        size = check_size(path, max_bytes)
        image = _character_picture(number, path)
        if image is not None:
            pictures.append(image)
            files.append({"kind": "image", "format": image.format, "size": list(image.size), "bytes": size})
            continue
        frames, info = _character_clip(number, path, max_bytes, max_seconds)
        clip_frames.append(frames)
        files.append({"kind": "video", **info})
    chosen = [_jpeg(image) for image in pictures[:REFERENCE_FACES]]
    for frames in clip_frames:
        for rgb in frames:
            if len(chosen) < REFERENCE_FACES:
                chosen.append(_jpeg(Image.fromarray(rgb)))
    faces = [face.faces_in_image(np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))) for jpeg in chosen]
    return CharacterResult(
        reference_images=chosen, checks={"files": files, "faces": faces}, human_face=any(faces)
    )


def _character_picture(number: int, path: Path):
    """File `number` as a picture big enough to be a reference, or None when it isn't a picture."""
    try:
        image = _open_image(path)
    except RecordingError as exc:
        raise RecordingError(f"File {number} {exc}.") from None
    if image is not None and min(image.size) < MIN_IMAGE_SIDE:
        raise RecordingError(
            f"File {number} is too small ({image.width}×{image.height}); "
            f"pictures must be at least {MIN_IMAGE_SIDE} pixels on each side."
        )
    return image


def _character_clip(number: int, path: Path, max_bytes: int, max_seconds: float) -> tuple[list, dict]:
    """The sharpest spread-out frames of clip `number`, and what the clip is."""
    try:
        clip = decode_recording(
            path,
            min_seconds=0.2,
            max_seconds=max_seconds,
            max_bytes=max_bytes,
            need_audio=False,
            analysis_fps=2.0,
        )
    except RecordingError as exc:
        message = str(exc)
        if "could not read" in message or "not a video" in message:
            message = "is not a picture or video we can read."
        else:
            message = message[0].lower() + message[1:]
        raise RecordingError(f"File {number} {message}") from None
    width, height = clip.info.get("width", 0), clip.info.get("height", 0)
    if min(width, height) < MIN_IMAGE_SIDE:
        # Its frames become reference images: the same rule as for pictures.
        raise RecordingError(
            f"File {number} is too small ({width}×{height}); "
            f"clips must be at least {MIN_IMAGE_SIDE} pixels on each side."
        )
    frames = [f.rgb for f in clip.frames if f.rgb is not None]
    return _sharpest_spread(frames, REFERENCE_FACES), clip.info


def _sharpest_spread(frames: list, count: int) -> list:
    """The sharpest frame from each of ``count`` equal stretches of the clip."""
    import cv2

    if not frames:
        return []
    picks = []
    for part in np.array_split(np.arange(len(frames)), min(count, len(frames))):
        picks.append(
            max(
                (frames[i] for i in part),
                key=lambda rgb: cv2.Laplacian(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var(),
            )
        )
    return picks
