"""Cheap checks on cameo uploads in the web request, before anything is stored.

They catch what can be told from a file's size and header (empty, too large, not a video, no
camera or microphone track, a picture renamed .webm) in milliseconds. Damage deeper in a file only
shows when it is decoded: the analysis job finds it and rejects the cameo with the reason, erasing
the file. Messages are for the person who uploaded.
"""

import av
from django.conf import settings
from PIL import Image, UnidentifiedImageError

from cameos.liveness import RecordingError, RecordingTooLarge
from cameos.liveness.analysis import MAX_CHARACTER_FILES
from cameos.liveness.media import AUDIO_FORMATS, VIDEO_FORMATS

# FFmpeg names a container by its family ("matroska,webm", "mov,mp4,m4a,..."): the first of
# these that it names gives the stored file's extension.
EXTENSIONS = {"webm": ".webm", "mp4": ".mp4", "mov": ".mov", "matroska": ".mkv"}


def megabytes(n: int) -> str:
    return f"{n / 1_000_000:.0f} MB"


def check_size(upload, what: str = "The file", limit: int | None = None) -> int:
    size = upload.size or 0
    limit = limit or settings.CAMEO_MAX_UPLOAD_BYTES
    if size == 0:
        raise RecordingError(f"{what} is empty. Please record or choose it again.")
    if size > limit:
        raise RecordingTooLarge(
            f"{what} is too large ({megabytes(size)}); the limit is "
            f"{megabytes(limit)}. Please record a shorter clip."
        )
    return size


def _container(upload) -> tuple[set[str], bool, bool] | None:
    """(container formats, has video, has sound) from the file's header, or None if unreadable."""
    upload.seek(0)
    try:
        with av.open(upload, metadata_errors="ignore") as container:
            formats = set(container.format.name.split(","))
            return formats, bool(container.streams.video), bool(container.streams.audio)
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError, OSError):
        return None
    finally:
        upload.seek(0)


def probe_recording(upload) -> dict:
    """Check a liveness recording's size and header; returns facts about it for `checks`.

    Raises RecordingError with a message for the person otherwise.
    """
    size = check_size(upload)
    found = _container(upload)
    if found is None:
        raise RecordingError("We could not read this file as a video. Please record again.")
    formats, has_video, has_sound = found
    if not formats & VIDEO_FORMATS:
        raise RecordingError("This file is not a video recording. Please upload a WebM or MP4 video.")
    if not has_video:
        raise RecordingError("The file has no video. Please allow camera access and record again.")
    if not has_sound:
        raise RecordingError("The recording has no sound. Please allow microphone access and record again.")
    check_declared_size(upload)
    container = next(name for name in EXTENSIONS if name in formats)
    return {"container": container, "size_bytes": size, "extension": EXTENSIONS[container]}


def check_declared_size(upload) -> None:
    """Refuse what the header already says is too big to analyse: a few KB can declare frames far
    beyond a webcam's or hours of video, and would otherwise be stored and queued."""
    from cameos.liveness.media import MAX_PIXELS

    upload.seek(0)
    try:
        with av.open(upload, metadata_errors="ignore") as container:
            stream = container.streams.video[0]
            width, height = stream.width or 0, stream.height or 0
            seconds = container.duration / av.time_base if container.duration else 0.0
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError, OSError, IndexError):
        return  # unreadable headers were refused by the caller already
    finally:
        upload.seek(0)
    if width * height > MAX_PIXELS:
        raise RecordingError(
            f"The video's picture is too big ({width}×{height}). Please record with your camera as it is."
        )
    if seconds > settings.CAMEO_MAX_SECONDS + 1:
        raise RecordingError(
            f"The recording is too long; it must be at most {settings.CAMEO_MAX_SECONDS} seconds."
        )


SOUND_EXTENSIONS = {**EXTENSIONS, "ogg": ".ogg", "wav": ".wav", "mp3": ".mp3", "flac": ".flac"}


def probe_sound(upload) -> dict:
    """Check a voice passage's size and header (any common sound file, or a video with sound).

    Raises RecordingError with a message for the person otherwise.
    """
    size = check_size(upload, limit=settings.CAMEO_VOICE_MAX_UPLOAD_BYTES)
    found = _container(upload)
    if found is None:
        raise RecordingError("We could not read this file as a sound recording. Please record again.")
    formats, _, has_sound = found
    if not formats & AUDIO_FORMATS:
        raise RecordingError("This file is not a sound recording. Please upload WebM, Ogg, MP4, WAV or MP3.")
    if not has_sound:
        raise RecordingError("The file has no sound. Please allow microphone access and record again.")
    container = next(name for name in SOUND_EXTENSIONS if name in formats)
    return {"container": container, "size_bytes": size, "extension": SOUND_EXTENSIONS[container]}


def _is_picture(upload) -> bool:
    upload.seek(0)
    try:
        with Image.open(upload) as image:
            image.verify()
        return True
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return False
    finally:
        upload.seek(0)


def _picture_size(upload) -> tuple[int, int] | None:
    upload.seek(0)
    try:
        with Image.open(upload) as image:
            return image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    finally:
        upload.seek(0)


def _clip_size(upload) -> tuple[int, int] | None:
    upload.seek(0)
    try:
        with av.open(upload, metadata_errors="ignore") as container:
            context = container.streams.video[0].codec_context
            return context.width, context.height
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError, OSError, IndexError):
        return None
    finally:
        upload.seek(0)


def _check_picture_side(number: int, size: tuple[int, int] | None, what: str) -> None:
    """One size rule for every kind of file and every way in (web form, API, the job)."""
    from cameos.liveness.analysis import MIN_IMAGE_SIDE

    if size is not None and min(size) < MIN_IMAGE_SIDE:
        raise RecordingError(
            f"File {number} is too small ({size[0]}×{size[1]}); "
            f"{what} must be at least {MIN_IMAGE_SIDE} pixels on each side."
        )


def check_character_files(uploads: list) -> list[str]:
    """Check a character's pictures and clips; returns each file's kind ("image" or "video").

    Raises RecordingError naming the file by position when one is unusable or smaller than the
    references need (the same rule the analysis job applies).
    """
    if not uploads:
        raise RecordingError("Please upload at least one picture or clip.")
    if len(uploads) > MAX_CHARACTER_FILES:
        raise RecordingError(f"Please upload at most {MAX_CHARACTER_FILES} files.")
    kinds = []
    for number, upload in enumerate(uploads, start=1):
        check_size(upload, f"File {number}")
        if _is_picture(upload):
            _check_picture_side(number, _picture_size(upload), "pictures")
            kinds.append("image")
            continue
        found = _container(upload)
        if found is None or not found[0] & VIDEO_FORMATS or not found[1]:
            raise RecordingError(f"File {number} is not a picture or video we can read.")
        _check_picture_side(number, _clip_size(upload), "clips")
        kinds.append("video")
    return kinds
