"""Benchmark: full rendition export vs a plain re-encode of the same clip.

    .venv/bin/python bench/bench_export.py [--seconds 10] [--height 720] [--repeat 3]

Makes a synthetic clip with sound (tests/provenance/synthetic.py), then times, alternately,
a plain libx264 re-encode with the export's settings (audio copied; libx264's own thread count,
and again with the export's codec threads) and `export_rendition`
(pre-pass + tracking mark + moving watermark + fingerprint + encode + C2PA signing). Prints the
best of `--repeat` runs of each: seconds, realtime factor, the export/plain ratio and sizes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
from av.video.frame import PictureType  # noqa: E402

from provenance import tracking  # noqa: E402
from provenance.c2pa_manifest import ManifestInfo  # noqa: E402
from provenance.certs import SignerConfig, make_signing_cert  # noqa: E402
from provenance.export import DEFAULT_CRF, DEFAULT_PRESET, PREPASS_FRAMES, codec_threads, export_rendition  # noqa: E402
from tests.provenance.synthetic import write_clip  # noqa: E402


def plain_reencode(
    src: Path, dst: Path, crf: int = DEFAULT_CRF, preset: str = DEFAULT_PRESET, *, threads: int | None = None
) -> None:
    """Decode → encode with the export's codec settings, audio stream-copied: the baseline.

    `threads=None`: threaded decoding and libx264's own thread count (what `ffmpeg -preset
    veryfast` does); an int: the export's threading for that size (`export.codec_threads`: 0 is
    one thread each for decoder and encoder), so the two differ only in the export's work."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", options={"movflags": "+faststart"}) as out:
        vin, ain = inp.streams.video[0], inp.streams.audio[0]
        if threads is None or threads:
            vin.thread_type = "AUTO"
        else:
            vin.thread_count = 1
        vout = out.add_stream("libx264", rate=vin.average_rate)
        vout.width, vout.height, vout.pix_fmt = vin.codec_context.width, vin.codec_context.height, "yuv420p"
        vout.options = {"crf": str(crf), "preset": preset}
        if threads is not None:
            vout.codec_context.thread_count = threads or 1
        aout = out.add_stream_from_template(ain)
        for packet in inp.demux(vin, ain):
            if packet.stream is vin:
                for frame in packet.decode():
                    # A decoded frame keeps its I/P/B type, which libx264 would obey; let it
                    # choose, as it does for the export's freshly built frames.
                    frame.pict_type = PictureType.NONE
                    out.mux(vout.encode(frame))
            elif packet.dts is not None:
                packet.stream = aout
                out.mux(packet)
        out.mux(vout.encode(None))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--seed", type=int, default=3, help="odd seeds pan the camera (worst case for size)")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        width = round(args.height * 16 / 9 / 2) * 2
        src = write_clip(tmp / "src.mp4", args.seed, seconds=args.seconds, width=width, height=args.height)
        certs = make_signing_cert(tmp / "certs")
        signer = SignerConfig(key_path=certs.key, chain_path=certs.chain)
        info = ManifestInfo(title="bench", model="bench-model", public_url="https://example.com/p/x")

        plain_times, matched_times, export_times, prepass_times = [], [], [], []
        for _ in range(args.repeat):
            start = time.perf_counter()
            plain_reencode(src, tmp / "plain.mp4")
            plain_times.append(time.perf_counter() - start)

            start = time.perf_counter()
            plain_reencode(src, tmp / "matched.mp4", threads=codec_threads(width, args.height))
            matched_times.append(time.perf_counter() - start)

            start = time.perf_counter()
            result = export_rendition(
                src, tmp / "export.mp4", handle="bench", site_name="Sora Site", tracking_id=2**63 + 5,
                manifest=info, signer=signer,
            )  # fmt: skip
            export_times.append(time.perf_counter() - start)

            start = time.perf_counter()
            tracking.mean_luma(src, trim_bars=False, max_frames=PREPASS_FRAMES)
            prepass_times.append(time.perf_counter() - start)

        plain, export, prepass = min(plain_times), min(export_times), min(prepass_times)
        plain_size = (tmp / "plain.mp4").stat().st_size
        readable = tracking.read_tracking(result.path).tracking_id == result.tracking_id
        print(f"clip: {args.seconds:.0f} s {width}x{args.height} with AAC audio, seed {args.seed}")
        print(
            f"plain re-encode: {plain:6.2f} s  {args.seconds / plain:5.2f}x realtime  {plain_size / 1e6:6.2f} MB"
        )
        print(
            f"export:          {export:6.2f} s  {args.seconds / export:5.2f}x realtime  {result.size / 1e6:6.2f} MB"
            f"  (pre-pass {prepass:.2f} s)"
        )
        print(f"export / plain:  {export / plain:.2f}x time, {result.size / plain_size - 1:+.1%} size")
        matched = min(matched_times)
        print(
            f"export / plain with the export's codec threads ({matched:.2f} s): {export / matched:.2f}x time"
        )
        print(f"tracking mark reads back: {readable}; manifest {result.manifest_label}")


if __name__ == "__main__":
    main()
