"""Benchmark: is the source post found in re-uploaded copies? Tracking mark, fingerprint, both.

    .venv/bin/python bench/bench_tracking.py [--size tiny|720] [--clips 10] [--seconds 4]
                                             [--foreign 100] [--portrait]

Exports `--clips` synthetic clips (tests/provenance/synthetic.py; even seeds still camera, odd
seeds panning) at the tiny profile's 320×192 or at 1280×704 (`--portrait` swaps them), turns each
into the copies a re-uploader makes (ATTACKS below; "480p"/"360p" set the short side, as video
sites do) and identifies every copy with `provenance.verify.identify` against a fingerprint
lookup over all the exports. Prints per attack: the tracking mark's raw bit error rate (before
the channel code), how often the mark was decoded blindly, how often it was confirmed among the
fingerprint's candidates, how often the fingerprint alone and the combination (`source`) named
the right post, and any wrong post. Then it identifies `--foreign` clips the site never made
(re-encoded at CRF 26): every hit there is a false match. Also prints the mark's PSNR against
the same export without it.
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
import numpy as np  # noqa: E402

from provenance import tracking  # noqa: E402
from provenance.c2pa_manifest import ManifestInfo  # noqa: E402
from provenance.certs import SignerConfig, make_signing_cert  # noqa: E402
from provenance.export import export_rendition  # noqa: E402
from provenance.fingerprint import lookup_from  # noqa: E402
from provenance.verify import identify  # noqa: E402
from tests.provenance.synthetic import transform, write_clip  # noqa: E402

SIZES = {"tiny": (320, 192), "720": (1280, 704)}
# Each copy is re-encoded (which strips metadata and the C2PA manifest). `short` is the short
# side after scaling; `crf` 23 is a typical upload re-encode when the attack is something else.
ATTACKS = {
    "crf28+480p+crop5": dict(crf=28, short=480, crop=0.05),
    "crf35": dict(crf=35),
    "360p": dict(crf=23, short=360),
    "crop10": dict(crf=23, crop=0.10),
    "trim1s": dict(crf=23, trim_start=1.0),
    "flip": dict(crf=23, flip=True),
}


def random_id(seed: int) -> int:
    """A tracking id like the site's: 63 random bits (seeded, so runs repeat)."""
    return int(np.random.default_rng(seed + 9_000).integers(0, 2**63, dtype=np.uint64)) | 2**63


def make_copy(src: Path, dst: Path, attack: dict) -> Path:
    attack = dict(attack)
    short = attack.pop("short", None)
    if short is not None:
        with av.open(str(src)) as container:
            ctx = container.streams.video[0].codec_context
            w, h = ctx.width, ctx.height
        # transform() takes the output height: for portrait video the short side is the width.
        attack["height"] = short if h <= w else round(short * h / w / 2) * 2
    return transform(src, dst, **attack)


def psnr(a: Path, b: Path) -> float:
    """Luma PSNR between two videos of the same size, over all frames."""
    errors = []
    with av.open(str(a)) as ca, av.open(str(b)) as cb:
        for fa, fb in zip(ca.decode(video=0), cb.decode(video=0), strict=False):
            ya = fa.to_ndarray(format="gray").astype(np.float32)
            yb = fb.to_ndarray(format="gray").astype(np.float32)
            errors.append(np.mean((ya - yb) ** 2))
    return float(10 * np.log10(255**2 / max(np.mean(errors), 1e-9)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", choices=SIZES, default="tiny")
    parser.add_argument("--portrait", action="store_true")
    parser.add_argument("--clips", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--foreign", type=int, default=100)
    parser.add_argument("--foreign-seconds", type=float, default=2.0)
    args = parser.parse_args()
    width, height = SIZES[args.size]
    if args.portrait:
        width, height = height, width

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        certs = make_signing_cert(tmp / "certs")
        signer = SignerConfig(key_path=certs.key, chain_path=certs.chain)
        site, sources = {}, {}
        start = time.perf_counter()
        for seed in range(args.clips):
            src = write_clip(tmp / f"src{seed}.mp4", seed, seconds=args.seconds, width=width, height=height)
            tracking_id = random_id(seed)
            site[tracking_id] = export_rendition(
                src, tmp / f"export{seed}.mp4", handle="bench", site_name="Sora Site",
                tracking_id=tracking_id, manifest=ManifestInfo(title="bench", model="m"), signer=signer,
            )  # fmt: skip
            sources[tracking_id] = src
        print(
            f"{len(site)} clips of {args.seconds:g} s at {width}x{height}: exported in {time.perf_counter() - start:.1f} s"
        )
        # The same export without the tracking mark: what the mark costs in PSNR.
        first = next(iter(site))
        unmarked = export_rendition(
            sources[first], tmp / "unmarked.mp4", handle="bench", site_name="Sora Site", tracking_id=first,
            manifest=ManifestInfo(title="bench", model="m"), signer=signer, tracking_strength=1e-6,
        )  # fmt: skip
        print(
            f"PSNR of the marked export against the unmarked one: {psnr(site[first].path, unmarked.path):.1f} dB"
        )

        lookup = lookup_from((key, result.fingerprint) for key, result in site.items())
        print(
            "\n| copy | raw BER (mean, worst) | mark decoded | mark confirmed | fingerprint alone "
            "| identified | wrong post |"
        )
        print("|---|---|---|---|---|---|---|")
        totals = [0, 0]
        for name, attack in ATTACKS.items():
            bers, mark, confirmed, prints, found, wrong = [], 0, 0, 0, 0, 0
            for tracking_id, result in site.items():
                copy = make_copy(result.path, tmp / f"copy-{tracking_id}-{name}.mp4", attack)
                got = identify(copy, fingerprint_lookup=lookup)
                bers.append(tracking.bit_error_rate(got.tracking, tracking_id))
                mark += got.tracking.tracking_id == tracking_id and not got.tracking.confirmed
                confirmed += got.tracking.tracking_id == tracking_id and got.tracking.confirmed
                prints += bool(got.matches) and got.matches[0][0] == tracking_id and got.matches[0][1] >= 0.5
                source = None if got.source is None else got.source[1]
                found += source == tracking_id
                wrong += source is not None and source != tracking_id
            n = len(site)
            totals[0] += found
            totals[1] += n
            print(
                f"| {name} | {np.mean(bers):.3f}, {np.max(bers):.3f} | {mark}/{n} | {confirmed}/{n} | {prints}/{n} "
                f"| **{found}/{n}** | {wrong} |"
            )
        print(f"\nidentified overall: {totals[0]}/{totals[1]}")

        false = 0
        start = time.perf_counter()
        for i in range(args.foreign):
            seed = 100_000 + i
            clip = write_clip(
                tmp / "foreign-src.mp4", seed, seconds=args.foreign_seconds, width=width, height=height
            )
            copy = transform(clip, tmp / "foreign.mp4", crf=26)
            got = identify(copy, fingerprint_lookup=lookup)
            false += got.source is not None
        print(
            f"foreign clips identified as a site post: {false}/{args.foreign} "
            f"({time.perf_counter() - start:.0f} s)"
        )


if __name__ == "__main__":
    main()
