"""Access to decoded PyAV frames shared by the tracking mark, the fingerprint and the export."""

from __future__ import annotations

import numpy as np

AUDIO_RATE = 8000  # mono sample rate of the audio fingerprint
MAX_AUDIO_SECONDS = 600.0  # audio fingerprinted by default
# Pixel formats whose first plane is 8-bit luma; anything else is converted to yuv420p.
Y_FIRST_FORMATS = frozenset(
    {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "gray"}
)


def luma_plane(frame) -> np.ndarray:
    """The 8-bit luma plane of a decoded `av.VideoFrame` as an (H, W) array view (valid while
    the frame lives)."""
    if frame.format.name not in Y_FIRST_FORMATS:
        frame = frame.reformat(format="yuv420p")
    plane = frame.planes[0]
    data = np.frombuffer(plane, np.uint8, count=plane.height * plane.line_size)
    return data.reshape(plane.height, plane.line_size)[:, : frame.width]


class MonoAudio:
    """Decoded audio frames in (`add`, then `finish`), the fingerprint's mono float32 chunks at
    AUDIO_RATE out, in half-second frames, until more than `max_seconds` came out (`full`: then
    nothing more is taken, and `finish` adds nothing).

    Frames wait in a FIFO and are resampled BATCH samples at a time: the samples come out the
    same as frame by frame, but one resampler call per third of a second rather than one per
    AAC frame costs ~40% less (4 s of 48 kHz stereo: 6.9 -> 3.9 ms)."""

    BATCH = 16384

    def __init__(self, max_seconds: float = MAX_AUDIO_SECONDS):
        import av

        self.resampler = av.AudioResampler(
            format="flt", layout="mono", rate=AUDIO_RATE, frame_size=AUDIO_RATE // 2
        )
        self.fifo = av.AudioFifo()
        self.layout: str | None = None
        self.limit, self.heard = max_seconds * AUDIO_RATE, 0  # mono samples

    @property
    def full(self) -> bool:
        return self.heard > self.limit

    def add(self, frame) -> list[np.ndarray]:
        if self.full:
            return []
        if self.layout is None:
            self.layout = frame.layout.name
        elif frame.layout.name != self.layout:
            # The FIFO would mix the channel counts up; the resampler refuses the change too.
            raise ValueError("audio channel layout changed mid-stream")
        frame.pts = None  # the FIFO checks continuity from 0; the samples don't depend on it
        self.fifo.write(frame)
        return self._resample(self.fifo.read()) if self.fifo.samples >= self.BATCH else []

    def finish(self) -> list[np.ndarray]:
        """The rest, once the last frame was added."""
        if self.full:
            return []
        rest = self._resample(self.fifo.read()) if self.fifo.samples else []
        return rest + self._resample(None)

    def _resample(self, frame) -> list[np.ndarray]:
        chunks = [out.to_ndarray().ravel() for out in self.resampler.resample(frame)]
        self.heard += sum(len(chunk) for chunk in chunks)
        return chunks


def decode_mono(container, stream, max_seconds: float = MAX_AUDIO_SECONDS):
    """Yield mono float32 chunks at AUDIO_RATE from an audio stream of an open container."""
    mono = MonoAudio(max_seconds)
    for frame in container.decode(stream):
        yield from mono.add(frame)
        if mono.full:
            return
    yield from mono.finish()
