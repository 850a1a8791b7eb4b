"""Benchmark: is the source post found in re-uploaded copies? Tracking mark, fingerprint, both;
and what the mark costs (PSNR, export time against a plain veryfast transcode).

    nice .venv/bin/python bench/bench_tracking.py [--size tiny|720] [--portrait] [--clips 10]
        [--seconds 4] [--foreign 100] [--speed-repeat 5] [--speed-seconds 10] [--skip-speed]

Exports `--clips` synthetic clips (tests/provenance/synthetic.py; even seeds still camera, odd
seeds panning) at the tiny profile's 320×192 or at 1280×704 (`--portrait` swaps them), turns each
into the copies a re-uploader makes (ATTACKS below; "480p"/"360p" set the short side, as video
sites do; every copy is re-encoded, which strips metadata and the C2PA manifest) and identifies
every copy with `provenance.verify.identify` against a fingerprint lookup over all the exports.
Prints per attack: the tracking mark's raw bit error rate (before the channel code), how often
the mark was decoded blindly, how often it was confirmed among the fingerprint's candidates, how
often the fingerprint alone and the combination (`identified`) named the right post, and any
wrong post. Then it identifies `--foreign` clips the site never made (re-encoded at CRF 26):
every hit there is a false match. Also: the mark's PSNR against the same export without it, and
the export's time against a plain veryfast transcode of the same clip, alternated in one run,
`--speed-repeat` times for a still and a panning clip (medians).

`run()` is what tests/provenance/test_bench_tracking.py calls at a reduced size.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import numpy as np  # noqa: E402

from bench.bench_export import plain_reencode  # noqa: E402
from provenance import tracking  # noqa: E402
from provenance.c2pa_manifest import ManifestInfo  # noqa: E402
from provenance.certs import SignerConfig, make_signing_cert  # noqa: E402
from provenance.export import codec_threads, export_rendition  # noqa: E402
from provenance.fingerprint import lookup_from  # noqa: E402
from provenance.verify import identify  # noqa: E402
from tests.provenance.synthetic import transform, write_clip  # noqa: E402

SIZES = {"tiny": (320, 192), "720": (1280, 704)}
# `short` is the short side after scaling; `crf` 23 is a typical upload re-encode when the
# attack is something else.
ATTACKS = {
    "crf28+480p+crop5": dict(crf=28, short=480, crop=0.05),
    "crf35": dict(crf=35),
    "360p": dict(crf=23, short=360),
    "crop10": dict(crf=23, crop=0.10),
    "trim1s": dict(crf=23, trim_start=1.0),
    "flip": dict(crf=23, flip=True),
}


@dataclass
class AttackRow:
    name: str
    bers: list[float] = field(default_factory=list)
    decoded: int = 0
    confirmed: int = 0
    fingerprint: int = 0
    found: int = 0
    wrong: int = 0

    @property
    def copies(self) -> int:
        return len(self.bers)


@dataclass
class Report:
    width: int
    height: int
    clips: int
    psnr: float
    rows: list[AttackRow]
    foreign: int
    false_matches: int
    speed: dict[str, dict[str, float]] = field(default_factory=dict)
    speed_repeat: int = 0


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


def _export(src: Path, dst: Path, tracking_id: int, signer: SignerConfig, **options):
    return export_rendition(
        src, dst, handle="bench", site_name="Sora Site", tracking_id=tracking_id,
        manifest=ManifestInfo(title="bench", model="m"), signer=signer, **options,
    )  # fmt: skip


def attack_row(name: str, attack: dict, site: dict, lookup, tmp: Path) -> AttackRow:
    """Every export turned into a copy by `attack` and identified."""
    row = AttackRow(name)
    for tracking_id, result in site.items():
        copy = make_copy(result.path, tmp / f"copy-{name}.mp4", attack)
        got = identify(copy, fingerprint_lookup=lookup)
        ours = got.tracking.tracking_id == tracking_id
        row.bers.append(tracking.bit_error_rate(got.tracking, tracking_id))
        row.decoded += ours and not got.tracking.confirmed
        row.confirmed += ours and got.tracking.confirmed
        row.fingerprint += bool(got.matches) and got.matches[0][0] == tracking_id and got.matches[0][1] >= 0.5
        source = None if got.source is None else got.source[1]
        row.found += source == tracking_id
        row.wrong += source is not None and source != tracking_id
    return row


def false_matches(count: int, seconds: float, width: int, height: int, lookup, tmp: Path) -> int:
    """How many of `count` clips the site never made are named as one of its posts."""
    false = 0
    for i in range(count):
        clip = write_clip(tmp / "foreign-src.mp4", 100_000 + i, seconds=seconds, width=width, height=height)
        got = identify(transform(clip, tmp / "foreign.mp4", crf=26), fingerprint_lookup=lookup)
        false += got.source is not None
    return false


def _cpu() -> float:
    """CPU seconds used by this process so far, every thread included (libx264's too)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(work) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), _cpu()
    work()
    return time.perf_counter() - wall, _cpu() - cpu


def export_speed(
    width: int, height: int, seconds: float, repeat: int, signer: SignerConfig, tmp: Path
) -> dict:
    """Median wall and CPU seconds of a plain veryfast transcode and of the export of the same
    clip, timed alternately `repeat` times, for a still (seed 2) and a panning (seed 3) clip.
    The plain transcode runs twice per round: with libx264's own thread count (`plain_*`,
    `ratio_*`) and with the export's codec threads for the size (`matched_*`,
    `ratio_matched_*`), so that neither side gains from a thread count alone.

    On a shared machine the wall clock mostly measures the other processes; CPU seconds (all
    threads) measure the work each does."""
    speed = {}
    threads = codec_threads(width, height)
    for label, seed in (("still", 2), ("panning", 3)):
        src = write_clip(tmp / f"speed{seed}.mp4", seed, seconds=seconds, width=width, height=height)
        times: dict[str, list] = {"plain": [], "matched": [], "export": []}
        for _ in range(repeat):
            times["plain"].append(_timed(lambda src=src: plain_reencode(src, tmp / "plain.mp4")))
            times["matched"].append(
                _timed(lambda src=src: plain_reencode(src, tmp / "matched.mp4", threads=threads))
            )
            times["export"].append(
                _timed(lambda src=src, seed=seed: _export(src, tmp / "e.mp4", 2**63 + seed, signer))
            )
        row = {}
        for name, index in (("wall", 0), ("cpu", 1)):
            p, m, e = (statistics.median(t[index] for t in times[k]) for k in ("plain", "matched", "export"))
            row.update({f"plain_{name}": p, f"matched_{name}": m, f"export_{name}": e})
            row.update({f"ratio_{name}": e / p, f"ratio_matched_{name}": e / m})
        speed[label] = row
    return speed


def _identification(width, height, clips, seconds, foreign, foreign_seconds, attacks, signer, tmp):
    """(PSNR, attack rows, false matches) for `clips` exports and `foreign` unrelated clips."""
    site, sources = {}, {}
    for seed in range(clips):
        sources[seed] = write_clip(tmp / f"src{seed}.mp4", seed, seconds=seconds, width=width, height=height)
        site[random_id(seed)] = _export(sources[seed], tmp / f"export{seed}.mp4", random_id(seed), signer)
    # The same export without the tracking mark: what the mark costs in PSNR.
    unmarked = _export(sources[0], tmp / "unmarked.mp4", random_id(0), signer, tracking_strength=1e-6)
    quality = psnr(site[random_id(0)].path, unmarked.path)
    lookup = lookup_from((key, result.fingerprint) for key, result in site.items())
    rows = [attack_row(name, attack, site, lookup, tmp) for name, attack in attacks.items()]
    return quality, rows, false_matches(foreign, foreign_seconds, width, height, lookup, tmp)


def run(
    *,
    width: int,
    height: int,
    clips: int,
    seconds: float = 4.0,
    foreign: int = 100,
    foreign_seconds: float = 2.0,
    attacks: dict = ATTACKS,
    speed_repeat: int = 0,
    speed_seconds: float = 10.0,
) -> Report:
    """Export, attack and identify; see the module docstring. `clips=0` skips identification,
    `speed_repeat=0` timing."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        certs = make_signing_cert(tmp / "certs")
        signer = SignerConfig(key_path=certs.key, chain_path=certs.chain)
        if clips:
            quality, rows, false = _identification(
                width, height, clips, seconds, foreign, foreign_seconds, attacks, signer, tmp
            )
        else:
            quality, rows, false = float("nan"), [], 0
        speed = export_speed(width, height, speed_seconds, speed_repeat, signer, tmp) if speed_repeat else {}
    return Report(width, height, clips, quality, rows, foreign, false, speed, speed_repeat)


def print_report(report: Report, seconds: float) -> None:
    print(f"{report.clips} clips of {seconds:g} s at {report.width}x{report.height}")
    if report.rows:
        _print_rows(report)
    for label, s in report.speed.items():
        print(
            f"export vs plain veryfast transcode, {label} clip (medians of {report.speed_repeat}): "
            f"wall {s['plain_wall'] * 1e3:.0f} ms vs {s['export_wall'] * 1e3:.0f} ms = **{s['ratio_wall']:.2f}x**; "
            f"CPU {s['plain_cpu'] * 1e3:.0f} ms vs {s['export_cpu'] * 1e3:.0f} ms = **{s['ratio_cpu']:.2f}x**"
        )
        print(
            f"  against the plain transcode with the export's codec threads: wall {s['matched_wall'] * 1e3:.0f} ms "
            f"= {s['ratio_matched_wall']:.2f}x; CPU {s['matched_cpu'] * 1e3:.0f} ms = {s['ratio_matched_cpu']:.2f}x"
        )


def _print_rows(report: Report) -> None:
    print(f"PSNR of the marked export against the unmarked one: {report.psnr:.1f} dB\n")
    print("| copy | raw BER (mean, median, worst) | mark decoded | mark confirmed | fingerprint alone | identified | wrong post |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for row in report.rows:
        n, b = row.copies, row.bers
        print(
            f"| {row.name} | {np.mean(b):.3f}, {np.median(b):.3f}, {np.max(b):.3f} | {row.decoded}/{n} "
            f"| {row.confirmed}/{n} | {row.fingerprint}/{n} | **{row.found}/{n}** | {row.wrong} |"
        )
    found, total = sum(r.found for r in report.rows), sum(r.copies for r in report.rows)
    print(f"\nidentified overall: {found}/{total}")
    print(f"foreign clips identified as a site post: {report.false_matches}/{report.foreign}")


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
    parser.add_argument("--speed-repeat", type=int, default=5)
    parser.add_argument("--speed-seconds", type=float, default=10.0)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--speed-only", action="store_true")
    args = parser.parse_args()
    width, height = SIZES[args.size]
    if args.portrait:
        width, height = height, width
    start = time.perf_counter()
    report = run(
        width=width, height=height, clips=0 if args.speed_only else args.clips, seconds=args.seconds, foreign=args.foreign,
        foreign_seconds=args.foreign_seconds, speed_repeat=0 if args.skip_speed else args.speed_repeat,
        speed_seconds=args.speed_seconds,
    )  # fmt: skip
    print_report(report, args.seconds)
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
