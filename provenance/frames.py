"""Access to decoded PyAV frames shared by the tracking mark, the fingerprint and the export."""

from __future__ import annotations

import numpy as np

AUDIO_RATE = 8000  # mono sample rate of the audio fingerprint
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


def decode_mono(container, stream, max_seconds: float = 600.0):
    """Yield mono float32 chunks at AUDIO_RATE from an audio stream of an open container."""
    import av

    # Half-second output frames: the same samples as frame by frame, in a tenth of the calls
    # and array conversions (~15% of the cost of a 4 s clip's audio).
    resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE, frame_size=AUDIO_RATE // 2)
    total = 0
    for frame in container.decode(stream):
        for out in resampler.resample(frame):
            chunk = out.to_ndarray().ravel()
            total += len(chunk)
            yield chunk
        if total > max_seconds * AUDIO_RATE:
            return
    for out in resampler.resample(None):
        yield out.to_ndarray().ravel()
