"""Export the public rendition of a post: visible + invisible marks, H.264/AAC, signed C2PA.

One streaming pass decodes the source, adds the tracking mark and the moving visible watermark
in the YUV planes, fingerprints what it is about to encode, and encodes with libx264; AAC audio
is copied (other codecs are re-encoded to AAC). The tracking mark is informed by the average
luma of the source's first PREPASS_FRAMES frames (see `provenance.tracking.embed`): those frames
are held back (~66 MB at 720p) until the mark is known, instead of being decoded twice. Encoding
runs on a writer thread (`_Writer`) so that libx264 keeps working while the next frames are
marked. The file is then signed into `dst_path` with a C2PA manifest.
"""

from __future__ import annotations

import functools
import os
import queue
import tempfile
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from threadpoolctl import ThreadpoolController

from . import tracking
from .c2pa_manifest import ManifestInfo, build_manifest, read_manifest, sign_file
from .certs import SignerConfig
from .fingerprint import Fingerprint, FingerprintBuilder
from .frames import AUDIO_RATE, luma_plane
from .watermark import MovingWatermark, watermark_key

DEFAULT_CRF = 23
DEFAULT_PRESET = "veryfast"
PREPASS_FRAMES = 48
ENCODER_THREADS = 5


@dataclass(frozen=True)
class ExportResult:
    """What the site stores about a rendition. `fingerprint.to_bytes()` goes in the database;
    `manifest_label` is the C2PA manifest's URN; `size` is in bytes, `duration` in seconds."""

    path: Path
    size: int
    duration: float
    width: int
    height: int
    fingerprint: Fingerprint
    manifest_label: str | None
    tracking_id: int


def export_rendition(
    src_path: str | Path,
    dst_path: str | Path,
    *,
    handle: str,
    site_name: str,
    tracking_id: int,
    manifest: ManifestInfo,
    signer: SignerConfig,
    tracking_key: bytes = tracking.DEFAULT_KEY,
    tracking_strength: float | None = None,
    crf: int = DEFAULT_CRF,
    preset: str = DEFAULT_PRESET,
) -> ExportResult:
    """Write the signed, watermarked MP4 rendition of `src_path` to `dst_path`.

    `tracking_id` (64-bit unsigned) is embedded invisibly and recorded as the manifest's soft
    binding; `tracking_key` must be the site's secret; `tracking_strength` overrides the
    mark's size-dependent default (`tracking.strength_for`). Cost: about a veryfast libx264
    encode (bench/bench_tracking.py measures the ratio). `dst_path` is replaced atomically.
    Raises ValueError for sources without video, and `av.error.FFmpegError` /
    `c2pa.C2paError` on codec or signing failures.
    """
    import av

    src_path, dst_path = Path(src_path), Path(dst_path)
    if not 0 <= tracking_id < 2**64:
        raise ValueError("tracking_id must fit in 64 unsigned bits")

    def mark_for(mean: tracking.MeanLuma, width: int, height: int) -> tracking.TrackingMark:
        strength = tracking_strength or tracking.strength_for(width, height)
        # Small matrix products: OpenBLAS's threads only wait on each other on a busy machine.
        with _blas().limit(limits=1, user_api="blas"):
            return tracking.TrackingMark.for_video(
                tracking_id, width, height, key=tracking_key, mean=mean, strength=strength
            )

    dst_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dst_path.parent, prefix=".export-") as tmp:
        unsigned, signed = Path(tmp) / "unsigned.mp4", Path(tmp) / "signed.mp4"
        with av.open(str(src_path)) as inp:
            # Keyed by the site's secret and this export: its path can't be predicted.
            marks = _Marks(site_name, handle, mark_for, watermark_key(tracking_key, tracking_id))
            width, height, duration, fingerprint = _encode(inp, str(unsigned), marks, crf=crf, preset=preset)
        document = build_manifest(
            manifest, site_name=site_name, handle=_at(handle), tracking_id=tracking_id, duration=duration
        )
        sign_file(str(unsigned), str(signed), document, signer)
        label = read_manifest(signed).get("label")
        os.replace(signed, dst_path)
    return ExportResult(
        path=dst_path,
        size=dst_path.stat().st_size,
        duration=duration,
        width=width,
        height=height,
        fingerprint=fingerprint,
        manifest_label=label,
        tracking_id=tracking_id,
    )


@functools.cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()  # finding the loaded BLAS libraries costs ~5 ms: once


def _at(handle: str) -> str:
    return handle if handle.startswith("@") else f"@{handle}"


class _Marks:
    """The per-frame video work: tracking mark, moving watermark, fingerprint, in that order.

    The tracking mark needs the mean luma of the first PREPASS_FRAMES frames, so those frames
    are held (as marked-to-be yuv arrays) until it is known; `add` returns the frames ready to
    encode, `finish` the held ones of a clip shorter than that."""

    def __init__(self, site_name: str, handle: str, mark_for, key: bytes):
        self.site_name, self.handle, self.mark_for, self.key = site_name, handle, mark_for, key
        self.held: list[tuple[np.ndarray, float, object]] = []
        self.luma = tracking.LumaSum()
        self.mark = None
        self.builder = FingerprintBuilder()

    def start(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.visible = MovingWatermark(self.site_name, self.handle, width, height, key=self.key)

    def add(self, frame, yuv: np.ndarray, seconds: float, stamp) -> list[tuple[np.ndarray, object]]:
        if self.mark is not None:
            return [(self._apply(yuv, seconds), stamp)]
        self.luma.add(luma_plane(frame))
        self.held.append((yuv, seconds, stamp))
        return self.finish() if len(self.held) >= PREPASS_FRAMES else []

    def finish(self) -> list[tuple[np.ndarray, object]]:
        if self.mark is None and self.held:
            mean = self.luma.mean(trim_bars=False)
            self.mark = self.mark_for(mean, self.width, self.height)
        ready = [(self._apply(yuv, seconds), stamp) for yuv, seconds, stamp in self.held]
        self.held = []
        return ready

    def _apply(self, yuv: np.ndarray, seconds: float) -> np.ndarray:
        self.mark.apply(yuv)
        self.visible.apply(yuv, seconds)
        if self.builder.wants(seconds):
            self.builder.add_frame(yuv[: self.height], seconds)
        return yuv


def _encode(inp, out_path: str, marks: _Marks, *, crf: int, preset: str):
    """Decode `inp`, mark every frame, encode to `out_path`: (width, height, duration, fingerprint)."""
    import av

    if not inp.streams.video:
        raise ValueError("source has no video stream")
    vin = inp.streams.video[0]
    vin.thread_type = "AUTO"
    ain = inp.streams.audio[0] if inp.streams.audio else None
    # yuv420p needs even dimensions: odd sources are rescaled by one pixel.
    width, height = vin.codec_context.width // 2 * 2, vin.codec_context.height // 2 * 2
    rate = vin.average_rate or vin.guessed_rate or 24
    marks.start(width, height)
    with av.open(out_path, "w", format="mp4", options={"movflags": "+faststart"}) as out:
        vout = out.add_stream("libx264", rate=rate)
        vout.width, vout.height, vout.pix_fmt = width, height, "yuv420p"
        vout.options = {"crf": str(crf), "preset": preset}
        # libx264's default is 1.5 frame threads per core (3 on 2 cores); with more, the encoder
        # stays busy while this process's own threads (decode, marks) hold a core share.
        vout.codec_context.thread_count = max(ENCODER_THREADS, 3 * (os.cpu_count() or 1) // 2)
        audio = _Audio(out, ain, marks.builder) if ain is not None else None
        last_time, index = 0.0, 0
        with _Writer(out, vout, audio) as writer:
            for packet in inp.demux(*[s for s in (vin, ain) if s is not None]):
                if packet.stream is not vin:
                    writer.put(_AudioItem(audio.fingerprint(packet)))
                    continue
                for frame in packet.decode():
                    seconds = frame.time if frame.time is not None else index / float(rate)
                    last_time = max(last_time, seconds)
                    stamp = (
                        (frame.pts, frame.time_base)
                        if frame.pts is not None and frame.time_base
                        else (index, 1 / Fraction(rate))
                    )
                    index += 1
                    for ready in marks.add(frame, _yuv(frame, width, height), seconds, stamp):
                        writer.put(ready)
            for ready in marks.finish():
                writer.put(ready)
        out.mux(vout.encode(None))
        if audio is not None:
            audio.close()
    if index == 0:
        raise ValueError("source has no decodable video frames")
    duration = last_time + 1 / float(rate)
    return width, height, duration, marks.builder.finish(duration)


@dataclass(frozen=True)
class _AudioItem:
    payload: object  # what `_Audio.write` takes


class _Writer:
    """Encodes and muxes on its own thread, in the order given, what the caller `put`s: marked
    (yuv, stamp) frames and `_AudioItem`s. libx264 and numpy release the GIL, so marking the
    next frames overlaps encoding these; the bounded queue keeps memory flat. The first error
    on the thread is raised by the next `put` or on exit."""

    def __init__(self, out, vout, audio):
        self.out, self.vout, self.audio = out, vout, audio
        self.queue: queue.Queue = queue.Queue(maxsize=8)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="export-writer", daemon=True)

    def __enter__(self) -> _Writer:
        self.thread.start()
        return self

    def put(self, item) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(item)

    def __exit__(self, *exc) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None and exc[0] is None:
            raise self.error

    def _run(self) -> None:
        while (item := self.queue.get()) is not None:
            if self.error is not None:
                continue  # drain, so the producer never blocks on a dead writer
            try:
                if isinstance(item, _AudioItem):
                    self.audio.write(item.payload)
                else:
                    self.out.mux(self.vout.encode(_frame(*item)))
            except BaseException as error:  # noqa: BLE001 - re-raised on the caller's thread
                self.error = error


def _frame(yuv: np.ndarray, stamp):
    import av

    if yuv.shape[0] % 6 == 0:
        # Wraps the array without copying it (libx264 copies its input while encoding); PyAV
        # only maps the chroma planes right when each fills whole rows (height % 4 == 0).
        encoded = av.VideoFrame.from_numpy_buffer(yuv, format="yuv420p")
    else:
        encoded = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
    encoded.pts, encoded.time_base = stamp
    return encoded


class _Audio:
    """AAC audio stream-copied (other codecs re-encoded to AAC), and fed to the fingerprint."""

    def __init__(self, out, ain, builder: FingerprintBuilder):
        import av

        self.out, self.builder = out, builder
        self.copy = ain.codec_context.name == "aac"
        if self.copy:
            self.stream = out.add_stream_from_template(ain)
        else:
            self.stream = out.add_stream("aac", rate=48000, layout="stereo")
            self.to_aac = av.AudioResampler(format="fltp", layout="stereo", rate=48000)
        self.to_mono = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)

    def fingerprint(self, packet):
        """Decode `packet` for the fingerprint (on the caller's thread, off the writer's): what
        `write` then needs, the packet itself when copied, else its decoded frames."""
        frames = packet.decode()
        for frame in frames:
            for mono in self.to_mono.resample(frame):
                self.builder.add_audio(mono.to_ndarray().ravel())
        return packet if self.copy else frames

    def write(self, item) -> None:
        if self.copy:
            if item.dts is not None:
                item.stream = self.stream
                self.out.mux(item)
            return
        for frame in item:
            frame.pts = None
            for chunk in self.to_aac.resample(frame):
                self.out.mux(self.stream.encode(chunk))

    def close(self) -> None:
        if not self.copy:
            for chunk in self.to_aac.resample(None):
                self.out.mux(self.stream.encode(chunk))
            self.out.mux(self.stream.encode(None))


def _yuv(frame, width: int, height: int) -> np.ndarray:
    """A writable, contiguous (H*3/2, W) yuv420p copy of a decoded frame."""
    if frame.format.name != "yuv420p" or frame.width != width or frame.height != height:
        frame = frame.reformat(width=width, height=height, format="yuv420p")
    return frame.to_ndarray()
