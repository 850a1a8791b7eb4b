"""Reading, checking and writing video files, and the small images we show for them.

PyAV, numpy and Pillow only (no torch): the web process uses this for uploads and thumbnails.

Untrusted input is the normal case here (uploads, remix sources), so every reader turns PyAV's
errors into :class:`MediaError`, whose message can be shown to the user as is. PyAV opens many
things that are not videos (a PNG renamed ``.webm`` opens as ``png_pipe``) and decodes truncated
files without complaint, so the checks look at the container format and at what actually decodes.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

# Demuxers that read single images or raw streams rather than video containers.
_IMAGE_FORMAT_SUFFIXES = ("_pipe",)
_IMAGE_FORMATS = {"image2", "gif", "apng", "webp_pipe"}


class MediaError(ValueError):
    """A file is not media we can use. ``str(error)`` is a user-facing sentence."""


@dataclass
class MediaInfo:
    format: str
    video_codec: str | None
    audio_codec: str | None
    width: int
    height: int
    fps: float
    frames: int
    video_seconds: float
    audio_seconds: float
    sample_rate: int | None
    audio_channels: int | None

    @property
    def has_video(self) -> bool:
        return self.frames > 0

    @property
    def has_audio(self) -> bool:
        return self.audio_seconds > 0

    @property
    def seconds(self) -> float:
        """Playback length: the longer of the two tracks."""
        return max(self.video_seconds, self.audio_seconds)


def _open(path):
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as error:
        if isinstance(error, FileNotFoundError):
            raise MediaError("The file could not be found.") from error
        raise MediaError("This file isn't a video or audio file we can read.") from error
    name = container.format.name
    if name in _IMAGE_FORMATS or name.endswith(_IMAGE_FORMAT_SUFFIXES):
        container.close()
        raise MediaError("This is an image, not a video.")
    return container


def _decode(container, *streams):
    """Yield decoded frames of ``streams`` in file order; a corrupt packet is skipped, as players do.

    Raises MediaError when the demuxer itself fails (a file cut inside its index or headers).
    """
    try:
        for packet in container.demux(*streams):
            try:
                yield from packet.decode()
            except av.error.InvalidDataError:
                continue
    except (av.error.FFmpegError, OSError) as error:
        raise MediaError("This file is damaged and can't be read to the end.") from error


def _frame_seconds(frame) -> float | None:
    if frame.pts is None or frame.time_base is None:
        return None
    return float(frame.pts * frame.time_base)


def _declared_seconds(stream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return None


@dataclass
class _Tally:
    """What one decoding pass over a file counted: video frames and their time span, audio samples."""

    frames: int = 0
    first: float | None = None  # start of the earliest timed frame, seconds
    last_end: float | None = None  # end of the latest timed frame, seconds
    width: int = 0
    height: int = 0
    samples: int = 0
    sample_rate: int | None = None
    channels: int | None = None

    def add(self, frame, default_duration: float) -> None:
        if isinstance(frame, av.AudioFrame):
            self.samples += frame.samples
            self.sample_rate = frame.sample_rate
            self.channels = len(frame.layout.channels)
            return
        self.frames += 1
        self.width, self.height = frame.width, frame.height
        start = _frame_seconds(frame)
        if start is None:
            return
        duration = float(frame.duration * frame.time_base) if frame.duration else default_duration
        self.first = start if self.first is None else min(self.first, start)
        self.last_end = start + duration if self.last_end is None else max(self.last_end, start + duration)


def probe(path) -> MediaInfo:
    """Describe the media at ``path`` by decoding it completely.

    Decoding everything is the only way to know the true durations of streamed recordings (WebM from
    browsers has no duration header) and of truncated files (they decode fewer frames). Cost: one
    full decode, 0.5-1 s for 10 s of 720p H.264 on two cores.

    Raises MediaError when the file can't be opened, is an image, has no stream that decodes, or
    decodes to clearly less than its header declares (a truncated upload). Callers check
    ``has_video`` / ``has_audio`` and the durations for what they need.
    """
    container = _open(path)
    with container:
        video = container.streams.video[0] if container.streams.video else None
        audio = container.streams.audio[0] if container.streams.audio else None
        if video is None and audio is None:
            raise MediaError("This file has neither video nor sound.")
        rate = default_duration = None
        if video is not None:
            video.thread_type = "AUTO"
            rate = video.average_rate or video.guessed_rate
            default_duration = 1 / float(rate) if rate else 0.0
        tally = _Tally()
        # One pass over both streams: seeking back for a second pass is unreliable in files without
        # an index (browser WebM) and would read everything twice.
        for frame in _decode(container, *(s for s in (video, audio) if s is not None)):
            tally.add(frame, default_duration)
        if tally.frames == 0 and tally.samples == 0:
            raise MediaError("Nothing in this file could be decoded.")
        video_seconds, fps = _video_timing(tally, rate, default_duration)
        audio_seconds = 0.0
        if tally.samples:
            # AAC pads its last frame; the container's declared length is the true one.
            audio_seconds = min(tally.samples / tally.sample_rate, _declared_seconds(audio) or math.inf)
        _check_complete(container, max(video_seconds, audio_seconds))
        return MediaInfo(
            format=container.format.name,
            video_codec=video.codec_context.name if video is not None and tally.frames else None,
            audio_codec=audio.codec_context.name if audio is not None and tally.samples else None,
            width=tally.width,
            height=tally.height,
            fps=fps,
            frames=tally.frames,
            video_seconds=video_seconds,
            audio_seconds=audio_seconds,
            sample_rate=tally.sample_rate,
            audio_channels=tally.channels,
        )


def _video_timing(tally: _Tally, rate, default_duration) -> tuple[float, float]:
    """(seconds, fps) of the decoded video; (0, 0) without frames."""
    if not tally.frames:
        return 0.0, 0.0
    if tally.first is not None:
        seconds = tally.last_end - tally.first
    else:
        seconds = tally.frames * default_duration
    fps = float(rate) if rate else (tally.frames / seconds if seconds else 0.0)
    return seconds, fps


def _check_complete(container, decoded: float) -> None:
    """A file cut short still opens and decodes what's left; only the header knows it was longer.
    Recordings without a duration header (browser WebM) skip this check."""
    declared = container.duration / av.time_base if container.duration else None
    if declared and decoded + max(0.5, 0.05 * declared) < declared:
        raise MediaError("This file is incomplete or damaged: part of it is missing.")


def read_frames(path, max_frames: int | None = None, every_nth: int = 1) -> tuple[np.ndarray, float]:
    """Decode RGB frames: uint8 (T, H, W, 3) and the frame rate of the returned sequence.

    Keeps every ``every_nth`` frame (so the returned rate is the source rate divided by it) and
    stops after ``max_frames`` kept frames. Memory is T x H x W x 3 bytes: bound it with the two
    arguments for long or large inputs. Raises MediaError when there is no decodable video.
    """
    if every_nth < 1:
        raise ValueError("every_nth must be at least 1")
    container = _open(path)
    with container:
        if not container.streams.video:
            raise MediaError("This file has no video.")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate
        kept = []
        for index, frame in enumerate(_decode(container, stream)):
            if index % every_nth:
                continue
            kept.append(frame.to_ndarray(format="rgb24"))
            if max_frames is not None and len(kept) >= max_frames:
                break
    if not kept:
        raise MediaError("No frame of this video could be decoded.")
    fps = float(rate) / every_nth if rate else 0.0
    return np.stack(kept), fps


def read_audio(path, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Decode the first audio stream to float32 (channels, samples), resampled to ``sample_rate``.

    Keeps the source channel count (mono stays mono). Raises MediaError when there is no audio.
    """
    container = _open(path)
    with container:
        if not container.streams.audio:
            raise MediaError("This file has no sound.")
        stream = container.streams.audio[0]
        resampler = None
        chunks = []
        for frame in _decode(container, stream):
            if resampler is None:
                layout = "mono" if len(frame.layout.channels) == 1 else "stereo"
                resampler = av.AudioResampler(
                    format="fltp", layout=layout, rate=sample_rate or frame.sample_rate
                )
            frame.pts = None  # let the resampler count samples; source timestamps can jump
            chunks.extend(part.to_ndarray() for part in resampler.resample(frame))
        if resampler is None:
            raise MediaError("The sound in this file could not be decoded.")
        chunks.extend(part.to_ndarray() for part in resampler.resample(None))
        rate = int(resampler.rate)
        declared = _declared_seconds(stream)
    if not chunks:
        raise MediaError("The sound in this file could not be decoded.")
    audio = np.concatenate(chunks, axis=1).astype(np.float32, copy=False)
    if declared:
        # Drop the encoder's padding after the declared end (AAC fills its last 1024-sample frame).
        audio = audio[:, : round(declared * rate)]
    return audio, rate


def last_frame(path) -> Image.Image:
    """The last decodable frame as an RGB image. Raises MediaError."""
    return Image.fromarray(last_frames(path, 1)[0])


def last_frames(path, count: int) -> np.ndarray:
    """The last ``count`` decodable frames, uint8 (n, H, W, 3) with n <= count (extensions continue
    from them).

    Seeks to about ``count`` frames plus two seconds before the end and decodes from the keyframe
    there; falls back to decoding everything when that gives too few frames or the file has no
    usable duration or index. Only ``count`` frames are held at a time. Raises MediaError.
    """
    from collections import deque

    container = _open(path)
    with container:
        if not container.streams.video:
            raise MediaError("This file has no video.")
        stream = container.streams.video[0]
        rate = float(stream.average_rate or 24)
        kept: deque = deque(maxlen=count)
        if container.duration:
            back = round((count / rate + 2) * av.time_base)
            try:
                container.seek(max(0, container.duration - back), backward=True)
                kept.extend(frame.to_ndarray(format="rgb24") for frame in _decode(container, stream))
            except (av.error.FFmpegError, MediaError):
                kept.clear()
        if len(kept) < count:
            kept.clear()
            container.seek(0)
            kept.extend(frame.to_ndarray(format="rgb24") for frame in _decode(container, stream))
        if not kept:
            raise MediaError("No frame of this video could be decoded.")
        return np.stack(kept)


def _even(frames: np.ndarray) -> np.ndarray:
    """Pad H and W to even numbers (edge pixels repeated): yuv420p needs even dimensions."""
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return frames


# x264 preset of the private draft a job writes. ultrafast encodes ~3x faster than veryfast (the
# tiny model's 2 s clip: 0.16 s vs 0.51 s, bench/bench_jobs.py) for a file ~1.3-2.5x larger at
# the same CRF. The draft is seen only by its owner and is the source the export rendition
# (provenance) re-encodes with its own settings, so its size matters less than the job's time.
DRAFT_PRESET = "ultrafast"


def write_mp4(
    path,
    frames: np.ndarray,
    fps: float,
    audio: np.ndarray | None = None,
    sample_rate: int | None = None,
    crf: int = 20,
    preset: str = DRAFT_PRESET,
) -> None:
    """Write H.264 (yuv420p) video with optional AAC audio to ``path``, streamable (faststart).

    ``frames`` is uint8 (T, H, W, 3); odd sizes are padded by one edge pixel. ``audio`` is float
    (channels, samples) in [-1, 1] (1 or 2 channels; more are cut to the first two) and is padded
    with silence or trimmed to exactly T / fps. The file appears atomically: it is written beside
    ``path`` and renamed, so a reader never sees half a video. Encoding with the veryfast preset
    on two cores ran at 20-150 fps at 720p, depending on content and machine load; the default
    (``DRAFT_PRESET``) trades file size for speed.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[3] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError("frames must be a non-empty uint8 array of shape (T, H, W, 3)")
    if audio is not None and not sample_rate:
        raise ValueError("sample_rate is required with audio")
    frames = _even(frames)
    rate = Fraction(fps).limit_denominator(1001)
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    try:
        with av.open(str(partial), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
            video = _h264_stream(container, frames, rate, crf, preset)
            track = None
            if audio is not None:
                track = AacTrack(
                    container, _audio_for(audio, round(len(frames) * sample_rate / rate)), sample_rate
                )
            # Interleave: after each video frame, the audio up to that frame's end, so the muxer
            # never buffers a whole track.
            for index, rgb in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts = index
                container.mux(video.encode(frame))
                if track is not None:
                    track.write_until(round((index + 1) * sample_rate / rate))
            container.mux(video.encode(None))
            if track is not None:
                track.finish()
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _h264_stream(container, frames: np.ndarray, rate: Fraction, crf: int, preset: str):
    video = container.add_stream("libx264", rate=rate)
    video.width, video.height = frames.shape[2], frames.shape[1]
    video.pix_fmt = "yuv420p"
    video.options = {"crf": str(crf), "preset": preset}
    # A keyframe every 2 s: browsers can seek (scrub) without decoding from the start, and
    # last_frame() decodes two seconds at most.
    video.codec_context.gop_size = max(1, round(2 * rate))
    return video


def _audio_for(audio: np.ndarray, total: int) -> np.ndarray:
    """(channels <= 2, exactly ``total``) float32 in [-1, 1], padded with silence or trimmed."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None, :]
    audio = audio[:2]
    if audio.shape[1] < total:
        audio = np.pad(audio, ((0, 0), (0, total - audio.shape[1])))
    return np.ascontiguousarray(np.clip(audio[:, :total], -1.0, 1.0))


class AacTrack:
    """An AAC (128 kb/s) track of ``audio`` (float32 (1 or 2, n) in [-1, 1]) being added to an
    open output ``container``, written in 1024-sample frames as far as asked."""

    def __init__(self, container, audio: np.ndarray, sample_rate: int):
        self.container, self.audio, self.sample_rate = container, audio, int(sample_rate)
        self.stream = container.add_stream("aac", rate=self.sample_rate)
        self.stream.layout = "mono" if audio.shape[0] == 1 else "stereo"
        self.stream.bit_rate = 128_000
        self.written = 0

    def write_until(self, sample: int) -> None:
        """Encode and mux the samples before ``sample`` (at most the whole track)."""
        sample = min(sample, self.audio.shape[1])
        while self.written < sample:
            end = min(sample, self.written + 1024)
            chunk = av.AudioFrame.from_ndarray(
                self.audio[:, self.written : end], format="fltp", layout=self.stream.layout.name
            )
            chunk.sample_rate = self.sample_rate
            chunk.pts = self.written
            self.container.mux(self.stream.encode(chunk))
            self.written = end

    def finish(self) -> None:
        """Write the rest of the track and flush the encoder."""
        self.write_until(self.audio.shape[1])
        self.container.mux(self.stream.encode(None))


def _as_frames(frames) -> Sequence[np.ndarray]:
    if len(frames) == 0:
        raise ValueError("no frames")
    return frames


def poster_jpeg(frames, max_side: int = 720, quality: int = 85) -> bytes:
    """A JPEG of a representative frame, scaled to fit ``max_side``.

    Looks at seven frames spread over the middle 80% of the clip and takes the one with the most
    luminance contrast, which skips black fades and flat frames at the ends.
    """
    frames = _as_frames(frames)
    count = len(frames)
    candidates = sorted({min(count - 1, round(count * (0.1 + 0.8 * i / 6))) for i in range(7)})

    def contrast(index: int) -> float:
        small = np.asarray(frames[index])[::8, ::8].astype(np.float32)
        return float((small @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).std())

    best = max(candidates, key=contrast)
    image = Image.fromarray(np.asarray(frames[best]))
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def sprite_grid(count: int) -> tuple[int, int]:
    """(columns, rows) of a sprite sheet with ``count`` tiles: columns = ceil(sqrt(count))."""
    columns = math.ceil(math.sqrt(count))
    return columns, math.ceil(count / columns)


def sprite_sheet_jpeg(frames, count: int = 16, tile_width: int = 160, quality: int = 80) -> bytes:
    """A JPEG grid of ``count`` evenly spaced frames (fewer if the clip is shorter), for scrubbing.

    Tiles are ``tile_width`` wide with the video's aspect ratio, laid out row-major in the grid
    given by :func:`sprite_grid`; tile i shows frame ``round(i * (T - 1) / (count - 1))``, i.e. the
    first tile is the first frame and the last tile the last frame.
    """
    frames = _as_frames(frames)
    total = len(frames)
    count = max(1, min(count, total))
    indices = [round(i * (total - 1) / (count - 1)) if count > 1 else 0 for i in range(count)]
    first = np.asarray(frames[0])
    tile_height = max(1, round(tile_width * first.shape[0] / first.shape[1]))
    columns, rows = sprite_grid(count)
    sheet = Image.new("RGB", (columns * tile_width, rows * tile_height))
    for position, index in enumerate(indices):
        tile = Image.fromarray(np.asarray(frames[index])).resize(
            (tile_width, tile_height), Image.Resampling.BILINEAR
        )
        sheet.paste(tile, ((position % columns) * tile_width, (position // columns) * tile_height))
    buffer = io.BytesIO()
    sheet.save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()
