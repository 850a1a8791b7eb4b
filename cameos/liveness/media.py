"""Decoding uploads with PyAV into what the checks need, refusing files a person must redo.

Failure modes seen with PyAV (see FACTS "Media"): empty, text or random bytes raise
``InvalidDataError``; a WebM cut to a few bytes raises ``av.error.OSError``; a file cut in half or
damaged mid-way may decode silently to fewer frames; a PNG renamed ``.webm`` opens as
``png_pipe``; audio-only and video-only files open fine. Hence: catch ``av.error.FFmpegError``,
check the container format, require the streams, and measure the decoded duration instead of
trusting headers (Chrome's MediaRecorder writes none).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import av
import numpy as np

# Containers browsers record into: Chrome/Firefox WebM (a Matroska subset) and Safari MP4.
VIDEO_FORMATS = {"matroska", "webm", "mov", "mp4"}
ANALYSIS_FPS = 10.0  # enough to see a half-second head turn; caps memory and detector time
KEEP_RGB_EVERY = 2  # colour copies of every 2nd analysed frame feed face crops and embeddings
MAX_ANALYSIS_WIDTH = 640
MAX_PIXELS = 4096 * 2304  # larger frames are not a webcam and would only cost memory
# A hole this long in a stream's timestamps means the demuxer skipped damaged data; a camera or
# microphone that really stalls that long has not recorded the challenge either.
MAX_GAP_SECONDS = 0.75
SPEECH_RATE = 16_000


class RecordingError(ValueError):
    """An upload that cannot be analysed; the message is meant for the person who sent it."""


class RecordingTooLarge(RecordingError):
    """An upload over the size limit (views answer 413 for it, 400 for other RecordingErrors)."""


@dataclass
class Frame:
    """One analysed video frame: grey always, colour for every ``KEEP_RGB_EVERY``-th frame."""

    time: float
    gray: np.ndarray
    rgb: np.ndarray | None = None


@dataclass
class Recording:
    """A decoded recording: sampled frames, mono 16 kHz float32 audio, and facts about the file."""

    frames: list[Frame]
    audio: np.ndarray
    duration: float
    info: dict = field(default_factory=dict)


def _megabytes(n: int) -> str:
    mb = n / 1_000_000
    return f"{mb:.0f} MB" if mb >= 10 else f"{mb:.1f} MB"


def check_size(path, max_bytes: int) -> int:
    """The file's size in bytes; raises RecordingError for a missing, empty or too large file."""
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise RecordingError("We could not find the uploaded file. Please upload it again.") from exc
    if size == 0:
        raise RecordingError("The file is empty. Please record again.")
    if size > max_bytes:
        raise RecordingTooLarge(
            f"The file is too large ({_megabytes(size)}); the limit is {_megabytes(max_bytes)}. "
            "Please record a shorter clip."
        )
    return size


def _scaled_size(width: int, height: int) -> tuple[int, int]:
    if width <= MAX_ANALYSIS_WIDTH:
        return width, height
    scale = MAX_ANALYSIS_WIDTH / width
    # Even sizes keep the swscale conversion exact for 4:2:0 input.
    return MAX_ANALYSIS_WIDTH, max(2, round(height * scale / 2) * 2)


def _frame_time(frame) -> float | None:
    if frame.pts is None or frame.time_base is None:
        return None
    return float(frame.pts * frame.time_base)


def decode_recording(
    path,
    *,
    min_seconds: float,
    max_seconds: float,
    max_bytes: int,
    need_audio: bool = True,
    analysis_fps: float = ANALYSIS_FPS,
) -> Recording:
    """Decode a browser recording at ``path``; raise RecordingError when it is unusable.

    Keeps grey frames at ``analysis_fps`` (at most 640 px wide) and resamples the first audio
    stream to mono 16 kHz. Stops decoding, and refuses the file, once it runs past
    ``max_seconds``. Memory is about ``duration × analysis_fps × 0.45 MB`` at 640×480.
    """
    size = check_size(path, max_bytes)
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise RecordingError("We could not read this file as a video. Please record again.") from exc
    with container:
        formats = set(container.format.name.split(","))
        if not formats & VIDEO_FORMATS:
            raise RecordingError("This file is not a video recording. Please upload a WebM or MP4 video.")
        if not container.streams.video:
            raise RecordingError("The file has no video. Please allow camera access and record again.")
        if need_audio and not container.streams.audio:
            raise RecordingError(
                "The recording has no sound. Please allow microphone access and record again."
            )
        video_stream = container.streams.video[0]
        audio_stream = container.streams.audio[0] if container.streams.audio else None
        declared = container.duration / av.time_base if container.duration else None
        info = {
            "container": container.format.name,
            "video_codec": video_stream.codec_context.name,
            "audio_codec": audio_stream.codec_context.name if audio_stream else None,
            "size_bytes": size,
            "declared_duration": round(declared, 3) if declared else None,
        }
        frames, chunks, start, end = _decode_streams(
            container, video_stream, audio_stream, max_seconds=max_seconds, analysis_fps=analysis_fps
        )
    if not frames:
        raise RecordingError("We could not decode any video frames. Please record again.")
    duration = end - start
    info["width"], info["height"] = frames[0].gray.shape[1], frames[0].gray.shape[0]
    info["duration"] = round(duration, 3)
    info["frames_analysed"] = len(frames)
    if declared and duration < 0.9 * declared - 0.5:
        raise RecordingError("The recording seems to be cut off. Please upload it again.")
    if duration < min_seconds:
        raise RecordingError(
            f"The recording is too short ({duration:.1f} s); it must be at least {min_seconds:g} seconds."
        )
    audio = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return Recording(frames=frames, audio=audio, duration=duration, info=info)


def _too_long(max_seconds: float) -> RecordingError:
    return RecordingError(f"The recording is too long; it must be at most {max_seconds:g} seconds.")


def _decode_streams(container, video_stream, audio_stream, *, max_seconds, analysis_fps):
    """Demux and decode both streams; returns (frames, audio chunks, start and end in seconds)."""
    streams = [s for s in (video_stream, audio_stream) if s is not None]
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SPEECH_RATE) if audio_stream else None
    frames: list[Frame] = []
    chunks: list[np.ndarray] = []
    next_sample, start, end, kept = None, None, 0.0, 0
    step = 1.0 / analysis_fps
    last_end = {"video": None, "audio": None}  # where each stream's previous frame ended
    try:
        for packet in container.demux(*streams):
            for decoded in packet.decode():
                t = _frame_time(decoded)
                if t is None:
                    continue
                start = t if start is None else min(start, t)
                kind = packet.stream.type
                if last_end[kind] is not None and t - last_end[kind] > MAX_GAP_SECONDS:
                    raise RecordingError(
                        "The recording is damaged: part of it is missing. Please record again."
                    )
                if kind == "video":
                    frame_end = t + (float(decoded.duration * decoded.time_base) if decoded.duration else 0.0)
                    last_end[kind] = t
                    end = max(end, frame_end)
                    if end > max_seconds + 0.5:
                        raise _too_long(max_seconds)
                    if decoded.width * decoded.height > MAX_PIXELS:
                        raise RecordingError(
                            "The video's resolution is too high. Please record at a lower resolution."
                        )
                    if next_sample is None or t >= next_sample - 1e-3:
                        next_sample = (t if next_sample is None else next_sample) + step
                        frames.append(_analysis_frame(decoded, t, keep_rgb=kept % KEEP_RGB_EVERY == 0))
                        kept += 1
                else:
                    last_end[kind] = t + decoded.samples / decoded.sample_rate
                    end = max(end, last_end[kind])
                    if end > max_seconds + 0.5:
                        raise _too_long(max_seconds)
                    for out in resampler.resample(decoded):
                        chunks.append(out.to_ndarray().reshape(-1).copy())
        if resampler is not None:
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1).copy())
    except av.error.FFmpegError as exc:
        raise RecordingError(
            "The recording is damaged and could not be read to the end. Please record again."
        ) from exc
    return frames, chunks, start or 0.0, end


def _analysis_frame(decoded, t: float, *, keep_rgb: bool) -> Frame:
    import cv2

    width, height = _scaled_size(decoded.width, decoded.height)
    rgb = decoded.to_ndarray(format="rgb24", width=width, height=height)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return Frame(time=t, gray=gray, rgb=rgb if keep_rgb else None)


# Containers a voice passage may come in: browser recordings (WebM/Ogg Opus, Safari's MP4/M4A)
# and files people have at hand (WAV, MP3, FLAC).
AUDIO_FORMATS = VIDEO_FORMATS | {"ogg", "wav", "mp3", "flac", "m4a"}


def decode_audio(path, *, min_seconds: float, max_seconds: float, max_bytes: int) -> tuple[np.ndarray, dict]:
    """Decode the first audio stream of ``path`` to mono 16 kHz float32; returns (audio, info).

    Raises RecordingError (with a message for the person) for an unreadable file, one without
    sound, or one shorter than ``min_seconds`` or longer than ``max_seconds`` (decoding stops as
    soon as it runs past the limit, so a file that lies about its length costs no more than that).
    """
    size = check_size(path, max_bytes)
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise RecordingError(
            "We could not read this file as a sound recording. Please record again."
        ) from exc
    chunks: list[np.ndarray] = []
    with container:
        formats = set(container.format.name.split(","))
        if not formats & AUDIO_FORMATS:
            raise RecordingError(
                "This file is not a sound recording. Please upload WebM, Ogg, MP4, WAV or MP3."
            )
        if not container.streams.audio:
            raise RecordingError("The file has no sound. Please allow microphone access and record again.")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SPEECH_RATE)
        samples = 0
        try:
            for decoded in container.decode(stream):
                for out in resampler.resample(decoded):
                    chunk = out.to_ndarray().reshape(-1).copy()
                    chunks.append(chunk)
                    samples += chunk.size
                if samples > (max_seconds + 0.5) * SPEECH_RATE:
                    raise _too_long(max_seconds)
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1).copy())
        except av.error.FFmpegError as exc:
            raise RecordingError(
                "The recording is damaged and could not be read to the end. Please record again."
            ) from exc
        info = {"container": container.format.name, "codec": stream.codec_context.name, "size_bytes": size}
    audio = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    duration = audio.size / SPEECH_RATE
    info["duration"] = round(duration, 3)
    if duration > max_seconds + 0.5:
        raise _too_long(max_seconds)
    if duration < min_seconds:
        raise RecordingError(
            f"The recording is too short ({duration:.1f} s); please read the whole passage "
            f"(at least {min_seconds:g} seconds)."
        )
    return audio, info
