"""Synthetic test clips and the attacks a re-uploader would apply to them.

Clips are seeded so each seed gives a distinct video: a multi-octave "cloud" background
(natural-image-like 1/f content), panned for odd seeds and still for even ones, moving shapes, a
fine noise patch, and a melody of tones. Nothing here depends on the provenance code.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

AUDIO_RATE = 48000


def _clouds(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A float32 (H, W, 3) image in 0..255 built from noise at several octaves."""
    from PIL import Image

    acc = np.zeros((height, width, 3), np.float32)
    for octave, weight in ((4, 1.0), (8, 0.6), (16, 0.35), (48, 0.2), (160, 0.1)):
        small = rng.standard_normal((max(2, octave * height // width), octave, 3)).astype(np.float32)
        layers = [
            np.asarray(Image.fromarray(small[..., c]).resize((width, height), Image.Resampling.BICUBIC))
            for c in range(3)
        ]
        acc += weight * np.stack(layers, axis=-1)
    acc -= acc.min()
    acc /= acc.max()
    tint = rng.uniform(0.4, 1.0, 3).astype(np.float32)
    return (acc * 255 * tint + rng.uniform(0, 60)).clip(0, 255)


def render_frames(seed: int, *, seconds: float, width: int, height: int, fps: int):
    """Yield uint8 (H, W, 3) RGB frames of the seeded clip."""
    rng = np.random.default_rng(seed)
    pad = max(width, height) // 4
    scene = _clouds(rng, height + 2 * pad, width + 2 * pad)
    # Half the clips have a static camera (moving subjects only), half a slow pan.
    pan = rng.uniform(-1.5, 1.5, 2) * (width / 640) * (seed % 2)
    shapes = []
    for _ in range(int(rng.integers(3, 7))):
        shapes.append(
            dict(
                pos=rng.uniform([0, 0], [height, width]),
                vel=rng.uniform(-4, 4, 2) * (width / 640),
                size=rng.uniform(0.04, 0.15) * height,
                color=rng.uniform(0, 255, 3),
                round=bool(rng.integers(0, 2)),
            )
        )
    patch = rng.uniform(0, 255, (height // 5, width // 5, 1)).astype(np.float32)
    patch_pos = rng.integers(0, [height - patch.shape[0], width - patch.shape[1]])
    yy, xx = np.mgrid[0:height, 0:width]
    for t in range(int(seconds * fps)):
        oy = int(np.clip(pad + pan[0] * t, 0, 2 * pad))
        ox = int(np.clip(pad + pan[1] * t, 0, 2 * pad))
        frame = scene[oy : oy + height, ox : ox + width].copy()
        py, px = patch_pos
        frame[py : py + patch.shape[0], px : px + patch.shape[1]] *= 0.5
        frame[py : py + patch.shape[0], px : px + patch.shape[1]] += 0.5 * np.roll(patch, t, axis=1)
        for shape in shapes:
            cy, cx = (shape["pos"] + shape["vel"] * t) % [height, width]
            r = shape["size"]
            y0, y1 = int(max(cy - r, 0)), int(min(cy + r, height))
            x0, x1 = int(max(cx - r, 0)), int(min(cx + r, width))
            if y1 <= y0 or x1 <= x0:
                continue
            if shape["round"]:
                inside = (yy[y0:y1, x0:x1] - cy) ** 2 + (xx[y0:y1, x0:x1] - cx) ** 2 < r * r
                frame[y0:y1, x0:x1][inside] = shape["color"]
            else:
                frame[y0:y1, x0:x1] = shape["color"]
        yield frame.astype(np.uint8)


def render_audio(seed: int, *, seconds: float, rate: int = AUDIO_RATE) -> np.ndarray:
    """A stereo float32 (2, N) melody: a seeded tone per quarter second plus a quiet hum."""
    rng = np.random.default_rng(seed + 10_000)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    notes = rng.uniform(180, 1800, int(np.ceil(seconds * 4)))
    freq = notes[np.minimum((t * 4).astype(int), len(notes) - 1)]
    phase = 2 * np.pi * np.cumsum(freq) / rate
    mono = 0.25 * np.sin(phase) + 0.05 * np.sin(2 * np.pi * rng.uniform(60, 120) * t)
    return np.stack([mono, mono * 0.8]).astype(np.float32)


def write_clip(
    path: str | Path,
    seed: int,
    *,
    seconds: float = 4.0,
    width: int = 960,
    height: int = 540,
    fps: int = 24,
    audio: bool = True,
    frames=None,
) -> Path:
    """Write an H.264 (CRF 18) + AAC MP4 of the seeded clip, or of `frames` when given."""
    path = Path(path)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"crf": "18", "preset": "ultrafast"}
        sound = out.add_stream("aac", rate=AUDIO_RATE, layout="stereo") if audio else None
        source = (
            frames
            if frames is not None
            else render_frames(seed, seconds=seconds, width=width, height=height, fps=fps)
        )
        for image in source:
            for packet in video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if sound is not None:
            _encode_audio(out, sound, render_audio(seed, seconds=seconds))
    return path


def _encode_audio(out, stream, samples: np.ndarray) -> None:
    chunk = 1024
    for start in range(0, samples.shape[1], chunk):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples[:, start : start + chunk]), format="fltp", layout="stereo"
        )
        frame.sample_rate, frame.pts = AUDIO_RATE, start
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)


def transform(
    src: str | Path,
    dst: str | Path,
    *,
    crf: int | None = 28,
    height: int | None = None,
    crop: float = 0.0,
    trim_start: float = 0.0,
    flip: bool = False,
    letterbox: float = 0.0,
    brightness: float = 0.0,
) -> Path:
    """Re-encode `src` the way a re-uploader would; `crf=None` remuxes (stream copy, metadata and
    C2PA boxes dropped) and ignores the other options.

    `crop` removes that fraction of each dimension (split unevenly between the sides, as a
    hand-made crop would be), `height` rescales, `letterbox` adds black bars of that fraction
    of the height above and below, `trim_start` drops the first seconds.
    """
    dst = Path(dst)
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        ain = inp.streams.audio[0] if inp.streams.audio else None
        if crf is None:
            vout = out.add_stream_from_template(vin)
            aout = out.add_stream_from_template(ain) if ain else None
            for packet in inp.demux(*[s for s in (vin, ain) if s is not None]):
                if packet.dts is None:
                    continue
                packet.stream = vout if packet.stream is vin else aout
                out.mux(packet)
            return dst
        w, h = vin.codec_context.width, vin.codec_context.height
        cw, ch = int(w * (1 - crop)) // 2 * 2, int(h * (1 - crop)) // 2 * 2
        x0, y0 = int((w - cw) * 0.35) // 2 * 2, int((h - ch) * 0.6) // 2 * 2
        out_h = height or ch
        out_w = int(round(cw * out_h / ch / 2)) * 2
        vout = out.add_stream("libx264", rate=vin.average_rate)
        box = int(out_h * letterbox) // 2 * 2
        vout.width, vout.height, vout.pix_fmt = out_w, out_h + 2 * box, "yuv420p"
        vout.options = {"crf": str(crf), "preset": "veryfast"}
        aout = out.add_stream("aac", rate=AUDIO_RATE, layout="stereo") if ain else None
        for frame in inp.decode(vin):
            if frame.time is None or frame.time < trim_start:
                continue
            rgb = frame.to_ndarray(format="rgb24")[y0 : y0 + ch, x0 : x0 + cw]
            if flip:
                rgb = rgb[:, ::-1]
            if brightness:
                rgb = np.clip(rgb.astype(np.int16) + int(brightness), 0, 255).astype(np.uint8)
            scaled = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            scaled = scaled.reformat(width=out_w, height=out_h, format="rgb24").to_ndarray()
            if box:
                scaled = np.pad(scaled, ((box, box), (0, 0), (0, 0)))
            for packet in vout.encode(av.VideoFrame.from_ndarray(scaled, format="rgb24")):
                out.mux(packet)
        for packet in vout.encode():
            out.mux(packet)
        if ain is not None:
            inp.seek(0)
            resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
            chunks = [
                f.to_ndarray()
                for frame in inp.decode(ain)
                if (frame.time or 0) >= trim_start
                for f in resampler.resample(frame)
            ]
            if chunks:
                _encode_audio(out, aout, np.concatenate(chunks, axis=1))
    return dst
