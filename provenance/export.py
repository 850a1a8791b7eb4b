"""Export the public rendition of a post: visible + invisible marks, H.264/AAC, signed C2PA.

One streaming pass decodes the source, adds the tracking mark and the moving visible watermark
in the YUV planes, fingerprints what it is about to encode, and encodes with libx264; AAC audio
is copied (other codecs are re-encoded to AAC). The tracking mark is informed by the average
luma of the source's first PREPASS_FRAMES frames (see `provenance.tracking.embed`): those frames
are held back (~66 MB at 720p) until the mark is known, instead of being decoded twice. Encoding
runs on a writer thread (`_Writer`) so that libx264 keeps working while the next frames are
marked; the audio is decoded once, on the decoding thread, for the fingerprint (and for the
writer when it is re-encoded). The file is then signed into `dst_path` with a C2PA manifest.
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
from .c2pa_manifest import ManifestInfo, build_manifest, manifest_label, sign_file
from .certs import SignerConfig
from .fingerprint import Fingerprint, FingerprintBuilder
from .frames import MonoAudio
from .watermark import MovingWatermark, watermark_key

DEFAULT_CRF = 23
DEFAULT_PRESET = "veryfast"
PREPASS_FRAMES = 48
ENCODER_THREADS = 5
# Frames with fewer pixels than this are decoded and encoded on one thread each: threads cost
# more than they save on them (4 s of 320x192: libx264's default 2 frame threads +30% CPU
# against one, 5 threads +50% CPU and +17% size; threaded decoding +35% CPU), and the writer
# thread already encodes while this one decodes and marks the next frames. From 640x360 up, one
# encoder thread took longer in wall time than several.
SMALL_FRAME_PIXELS = 640 * 360


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
    encode at 720p (1.0-1.3x), 1.0-1.3x of one for a 4 s 320x192 clip in quiet runs (one round
    in five at 1.4x), whose fixed costs (decoding the audio for the fingerprint, signing,
    marks) weigh more (bench/bench_tracking.py measures both; BENCHMARKS.md).
    `dst_path` is replaced atomically.
    Raises ValueError for sources without video, and `av.error.FFmpegError` /
    `c2pa.C2paError` on codec or signing failures.
    """
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
        # Keyed by the site's secret and this export: its path can't be predicted.
        marks = _Marks(site_name, handle, mark_for, watermark_key(tracking_key, tracking_id))
        width, height, duration, fingerprint = _render(src_path, unsigned, marks, crf=crf, preset=preset)
        document = build_manifest(
            manifest, site_name=site_name, handle=_at(handle), tracking_id=tracking_id, duration=duration
        )
        label = manifest_label(sign_file(str(unsigned), str(signed), document, signer))
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


def _render(src: Path, out: Path, marks: _Marks, *, crf: int, preset: str):
    """Encode the marked rendition of `src` to `out`: (width, height, duration, fingerprint)."""
    import av

    with av.open(str(src)) as inp:
        width, height, duration = _encode(inp, str(out), marks, crf=crf, preset=preset)
    return width, height, duration, marks.builder.finish(duration)


def codec_threads(width: int, height: int) -> int:
    """libx264 frame threads for frames of this size, 0 meaning one thread for the encoder and
    none for the decoder either (frames under SMALL_FRAME_PIXELS)."""
    if width * height < SMALL_FRAME_PIXELS:
        return 0
    # libx264's default is 1.5 frame threads per core (3 on 2 cores); with more, the encoder
    # stays busy while this process's own threads (decode, marks) hold a core share.
    return max(ENCODER_THREADS, 3 * (os.cpu_count() or 1) // 2)


@functools.cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()  # finding the loaded BLAS libraries costs ~5 ms: once


def _at(handle: str) -> str:
    return handle if handle.startswith("@") else f"@{handle}"


class _Marks:
    """The per-frame video work: tracking mark, moving watermark, fingerprint, in that order.

    The tracking mark needs the mean luma of the first PREPASS_FRAMES frames, so those frames
    are held (as marked-to-be yuv arrays) until it is known; `add` sends the frames it can
    finish to `send` (the writer), `finish` the held ones of a clip shorter than that. A frame
    is sent before it is fingerprinted, so the encoder starts on the held frames sooner."""

    def __init__(self, site_name: str, handle: str, mark_for, key: bytes):
        self.site_name, self.handle, self.mark_for, self.key = site_name, handle, mark_for, key
        self.held: list[tuple[np.ndarray, float, object]] = []
        self.luma = tracking.LumaSum()
        self.mark = None
        self.builder = FingerprintBuilder()

    def start(self, width: int, height: int, send) -> None:
        self.width, self.height, self.send = width, height, send
        # Rendered here (~1 ms): on a helper thread, Pillow's text drawing holds the GIL and
        # the decoding thread waited up to a switch interval for it (~3 ms).
        self.visible = MovingWatermark(self.site_name, self.handle, width, height, key=self.key)

    def add(self, yuv: np.ndarray, seconds: float, stamp) -> None:
        if self.mark is not None:
            self._apply(yuv, seconds, stamp)
            return
        # The luma about to be marked (the decoded frame's, unless it had to be converted).
        self.luma.add(yuv[: self.height])
        self.held.append((yuv, seconds, stamp))
        if len(self.held) >= PREPASS_FRAMES:
            self.finish()

    def finish(self) -> None:
        if self.mark is None and self.held:
            mean = self.luma.mean(trim_bars=False)
            self.mark = self.mark_for(mean, self.width, self.height)
        for yuv, seconds, stamp in self.held:
            self._apply(yuv, seconds, stamp)
        self.held = []

    def _apply(self, yuv: np.ndarray, seconds: float, stamp) -> None:
        self.mark.apply(yuv)
        self.visible.apply(yuv, seconds)
        self.send((yuv, stamp))
        # The encoder only reads the frame: hashing it meanwhile is safe.
        if self.builder.wants(seconds):
            self.builder.add_frame(yuv[: self.height], seconds)


def _encode(inp, out_path: str, marks: _Marks, *, crf: int, preset: str):
    """Decode `inp`, mark every frame, encode to `out_path`: (width, height, duration)."""
    import av

    if not inp.streams.video:
        raise ValueError("source has no video stream")
    vin = inp.streams.video[0]
    ain = inp.streams.audio[0] if inp.streams.audio else None
    # yuv420p needs even dimensions: odd sources are rescaled by one pixel.
    width, height = vin.codec_context.width // 2 * 2, vin.codec_context.height // 2 * 2
    threads = codec_threads(width, height)
    if threads:
        vin.thread_type = "AUTO"
    else:
        vin.thread_count = 1
    rate = vin.average_rate or vin.guessed_rate or 24
    time_base = vin.time_base  # the decoded frames' (read once: each read builds a Fraction)
    with av.open(out_path, "w", format="mp4", options={"movflags": "+faststart"}) as out:
        vout = out.add_stream("libx264", rate=rate)
        vout.width, vout.height, vout.pix_fmt = width, height, "yuv420p"
        vout.options = {"crf": str(crf), "preset": preset}
        vout.codec_context.thread_count = threads or 1
        audio = _Audio(out, ain, marks.builder) if ain is not None else None
        last_time, index = 0.0, 0
        with _Writer(out, vout, audio) as writer:
            marks.start(width, height, writer.put)
            for packet in inp.demux(*[s for s in (vin, ain) if s is not None]):
                if packet.stream is not vin:
                    # Until the mark is known the encoder has no frames: audio decoded then would
                    # only delay its start.
                    audio.add(packet, writer.put, later=marks.mark is None)
                    continue
                for frame in packet.decode():
                    seconds = frame.time if frame.time is not None else index / float(rate)
                    last_time = max(last_time, seconds)
                    stamp = (
                        (frame.pts, time_base)
                        if frame.pts is not None and time_base
                        else (index, 1 / Fraction(rate))
                    )
                    index += 1
                    marks.add(_yuv(frame, width, height), seconds, stamp)
            marks.finish()
            if audio is not None:
                audio.finish(writer.put)
        out.mux(vout.encode(None))
        if audio is not None:
            audio.close()
    if index == 0:
        raise ValueError("source has no decodable video frames")
    return width, height, last_time + 1 / float(rate)


class _Writer:
    """Encodes and muxes on its own thread, in the order given, what the caller `put`s: marked
    (yuv, stamp) frames and audio packets or frames. libx264 and numpy release the GIL, so marking the
    next frames overlaps encoding these; the bounded queue keeps memory flat. Items travel in
    batches of BATCH (each hand-over wakes the other thread). The first error on the thread is
    raised by the next `put` or on exit."""

    BATCH = 6

    def __init__(self, out, vout, audio):
        self.out, self.vout, self.audio = out, vout, audio
        # At most 2 batches waiting (+ the one being encoded): ~25 MB of 720p frames.
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.batch: list = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="export-writer", daemon=True)

    def __enter__(self) -> _Writer:
        self.thread.start()
        return self

    def put(self, item) -> None:
        if self.error is not None:
            raise self.error
        self.batch.append(item)
        if len(self.batch) >= self.BATCH:
            self.queue.put(self.batch)
            self.batch = []

    def __exit__(self, *exc) -> None:
        self.queue.put(self.batch)
        self.queue.put(None)
        self.thread.join()
        if self.error is not None and exc[0] is None:
            raise self.error

    def _run(self) -> None:
        while (batch := self.queue.get()) is not None:
            if self.error is not None:
                continue  # drain, so the producer never blocks on a dead writer
            try:
                for item in batch:
                    if isinstance(item, tuple):
                        self.out.mux(self.vout.encode(_frame(*item)))
                    else:
                        self.audio.write(item)
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
    """The source's audio, decoded once, on the decoding thread (`add`): into the fingerprint's
    mono chunks (`frames.MonoAudio`, the samples `compute_fingerprint` hears in a copy) and,
    for codecs other than AAC, into frames that the writer re-encodes to AAC (`write`, on its
    thread). AAC packets are copied as they are.

    Decoding here rather than on a reader of its own saves opening and demuxing the source
    twice; this thread mostly waits for the encoder anyway."""

    def __init__(self, out, ain, builder: FingerprintBuilder):
        import av

        self.out, self.builder = out, builder
        self.copy = ain.codec_context.name == "aac"
        if self.copy:
            self.stream = out.add_stream_from_template(ain)
        else:
            self.stream = out.add_stream("aac", rate=48000, layout="stereo")
            self.to_aac = av.AudioResampler(format="fltp", layout="stereo", rate=48000)
        self.mono = MonoAudio()  # capped at MAX_AUDIO_SECONDS, as `compute_fingerprint` reads
        self.pending: list = []  # packets to decode later (`add`)

    def add(self, packet, send, *, later: bool = False) -> None:
        """Decode `packet` (for the fingerprint, or to re-encode it) and `send` the writer
        its part: the packet itself when copied, else the decoded frames. `later`: keep it
        until the next call without it (packets stay in order)."""
        if later:
            self.pending.append(packet)
            return
        self._catch_up(send)
        self._add(packet, send)

    def _catch_up(self, send) -> None:
        for held in self.pending:
            self._add(held, send)
        self.pending = []

    def _add(self, packet, send) -> None:
        if self.copy and self.mono.full:  # nothing left to hear: copy without decoding
            send(packet)
            return
        frames = packet.decode()
        if self.copy:
            send(packet)  # after decoding: the writer re-points it at the output stream
        for frame in frames:
            self._hear(self.mono.add(frame))
            if not self.copy:
                send(frame)

    def finish(self, send) -> None:
        self._catch_up(send)
        self._hear(self.mono.finish())

    def _hear(self, chunks: list[np.ndarray]) -> None:
        for chunk in chunks:
            self.builder.add_audio(chunk)

    def write(self, item) -> None:
        """Mux a copied packet or encode a decoded frame (the writer's thread)."""
        if self.copy:
            if item.dts is not None:
                item.stream = self.stream
                self.out.mux(item)
            return
        item.pts = None
        for chunk in self.to_aac.resample(item):
            self.out.mux(self.stream.encode(chunk))

    def close(self) -> None:
        if not self.copy:
            for chunk in self.to_aac.resample(None):
                self.out.mux(self.stream.encode(chunk))
            self.out.mux(self.stream.encode(None))


def _yuv(frame, width: int, height: int) -> np.ndarray:
    """A writable, contiguous (H*3/2, W) yuv420p copy of a decoded frame (the layout of
    `VideoFrame.to_ndarray()`: Y rows, then U, then V, each plane's rows packed)."""
    if frame.format.name != "yuv420p" or frame.width != width or frame.height != height:
        frame = frame.reformat(width=width, height=height, format="yuv420p")
    out = np.empty((height * 3 // 2, width), np.uint8)
    # Each plane copied once (to_ndarray copies each, then stacks the copies).
    targets = (out[:height], *out[height:].reshape(2, height // 2, width // 2))
    for plane, target in zip(frame.planes, targets, strict=True):
        rows, columns = target.shape
        data = np.frombuffer(plane, np.uint8, count=rows * plane.line_size).reshape(rows, plane.line_size)
        target[...] = data[:, :columns]
    return out
