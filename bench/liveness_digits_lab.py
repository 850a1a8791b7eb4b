"""Digit check lab: the liveness digit check alone, on many more readings than the corpus has.

    nice -n 19 .venv/bin/python bench/liveness_digits_lab.py [--seeds 1,2] [--n 80]
        [--variants current,...] [--cache /tmp/digits-lab] [--json OUT]

Per seed, ``n`` honest readings (the challenge's digits) and ``n`` changed readings (the same
challenge judged against a reading of other digits: one digit changed, two changed, or all four,
in the ratio 2:2:1, as a wrong reading, a replay of another challenge or a recording made for one
would be). Each reading is made the corpus's way (``tests/cameos/corpus.py``): its voices (flite
rms/slt/awb/kal16, espeak-ng en-us/en-gb/en-gb-scotland/en-us+f3) in turn, speaking rates 0.8×,
1× and 1.2×, room noise with mains hum at -55 to -38 dBFS, a random level, then a WebM/Opus or
MP4/AAC round trip (two of three WebM) decoded by the site's own ``decode_audio``; the speech
span is cut as ``analysis._check_speech`` cuts it. The readings are kept in ``--cache`` (one
.npy each) so variants compare on the very same audio.

For each variant: honest readings accepted and changed readings refused, per seed, and the
readings it got wrong. A variant is a function (audio, challenge digits) -> DigitsHeard; see
VARIANTS. Exit status 1 when any changed reading was accepted.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHANGES = (1, 2, 1, 2, 4)  # digits changed in the changed readings, in turn


@dataclass(frozen=True)
class Reading:
    name: str
    challenge: str  # what the check is asked about
    said: str  # what the voice read
    voice: str
    rate: float
    noise_db: float
    container: str
    seed: int

    @property
    def honest(self) -> bool:
        return self.said == self.challenge


def readings(seed: int, n: int) -> list[Reading]:
    """``n`` honest and ``n`` changed readings, drawn from ``seed``."""
    from cameos.liveness import new_challenge
    from tests.cameos import corpus

    rng = random.Random(seed)
    voices = [f"flite:{v}" for v in corpus.FLITE] + [f"espeak:{v}" for v in corpus.ESPEAK]
    out = []
    for i in range(2 * n):
        challenge = new_challenge(rng).digits
        honest = i % 2 == 0
        said = challenge if honest else corpus._other_digits(challenge, rng, CHANGES[(i // 2) % len(CHANGES)])
        out.append(
            Reading(
                name=f"s{seed}_{i:03d}",
                challenge=challenge,
                said=said,
                voice=voices[(i // 2) % len(voices)],
                rate=rng.choice((0.8, 1.0, 1.2)),
                noise_db=rng.uniform(-55, -38),
                container=("webm", "webm", "mp4")[(i // 2) % 3],
                seed=seed * 10_000 + i,
            )
        )
    return out


def _encode(samples: np.ndarray, path: Path, container: str) -> None:
    import av

    from tests.cameos.corpus import SAMPLE_RATE

    fmt, codec = ("mp4", "aac") if container == "mp4" else ("webm", "libopus")
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=SAMPLE_RATE, layout="mono")
        for i in range(0, len(pcm), 960):
            frame = av.AudioFrame.from_ndarray(pcm[None, i : i + 960], format="s16", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = SAMPLE_RATE, i, Fraction(1, SAMPLE_RATE)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())


def render(reading: Reading) -> np.ndarray:
    """The reading as the digit check gets it: mono 16 kHz float, cut to the speech span."""
    from cameos.liveness import analysis, media, speech
    from tests.cameos import corpus

    rng = np.random.default_rng(reading.seed)
    voice = corpus.speech(reading.said, reading.voice, reading.rate)
    start = round(rng.uniform(0.3, 0.8) * corpus.SAMPLE_RATE)
    tail = round(rng.uniform(0.5, 0.9) * corpus.SAMPLE_RATE)
    track = corpus.room_noise(start + len(voice) + tail, reading.noise_db, rng)
    track[start : start + len(voice)] += voice * float(rng.uniform(0.35, 0.8))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"reading.{reading.container}"
        _encode(track, path, reading.container)
        audio, _ = media.decode_audio(path, min_seconds=0.5, max_seconds=30, max_bytes=10_000_000)
    segments = speech.speech_segments(audio)
    if not segments:
        return audio
    first = int(max(0.0, segments[0][0] - analysis.SPEECH_MARGIN) * speech.RATE)
    last = int((segments[-1][1] + analysis.SPEECH_MARGIN) * speech.RATE)
    return audio[first:last]


def cached(reading: Reading, cache: Path) -> np.ndarray:
    path = cache / f"{reading.name}_{reading.said}_{reading.voice.replace(':', '-')}.npy"
    if not path.exists():
        np.save(path, render(reading))
    return np.load(path)


def _current(audio, challenge):
    from cameos.liveness import speech

    return speech.check_digits(audio, challenge)


def _unprimed(audio, challenge):
    """Unwarped, and the front end's noise estimate carried over from the reading before."""
    from cameos.liveness import speech

    return speech._weigh(audio, challenge, prime=False)


def _lattice(audio, challenge):
    """Unwarped, and the lattice pass picks the hypothesis (pocketsphinx's default, used before
    2026-12-07; scored by path score here, where the check then summed the words' acoustic scores)."""
    from cameos.liveness import speech

    return speech._weigh(audio, challenge, (("warp_type", "inverse_linear"), ("warp_params", "1.0")))


def _unwarped(audio, challenge):
    """No frequency warp (as before 2026-12-07)."""
    from cameos.liveness import speech

    return speech._weigh(audio, challenge)


def _high_only(audio, challenge):
    """Only high voices warped (as on 2026-12-07 before the low-voice warp)."""
    from cameos.liveness import speech

    front = speech.front_for(audio)
    if front[-1][1] == str(speech.LOW_VOICE_WARP):
        front = speech.BASE_FRONT
    return speech._weigh(audio, challenge, front)


def _bar_2(audio, challenge):
    """The bar before 2026-12-07 evening: a rival may win by at most 2 per second."""
    from cameos.liveness import speech

    heard = speech.check_digits(audio, challenge)
    heard.matches = heard.digits == challenge or (heard.gap is not None and heard.gap <= 2.0)
    return heard


VARIANTS = {
    "current": _current,
    "bar_2": _bar_2,
    "high_only": _high_only,
    "unwarped": _unwarped,
    "unprimed": _unprimed,
    "lattice": _lattice,
}


def run(variant: str, items: list[tuple[Reading, np.ndarray]]) -> dict:
    check = VARIANTS[variant]
    rows, started = [], time.process_time()
    for reading, audio in items:
        heard = check(audio, reading.challenge)
        rows.append({**reading.__dict__, "heard": heard.digits, "gap": heard.gap, "matches": heard.matches})
    return {"variant": variant, "cpu_s": round(time.process_time() - started, 1), "rows": rows}


def report(result: dict) -> str:
    rows = result["rows"]
    lines = [f"## {result['variant']} ({result['cpu_s']} s CPU)"]
    seeds = sorted({r["name"].split("_")[0] for r in rows})
    for seed in [*seeds, "all"]:
        mine = [r for r in rows if seed == "all" or r["name"].startswith(seed + "_")]
        honest = [r for r in mine if r["said"] == r["challenge"]]
        changed = [r for r in mine if r["said"] != r["challenge"]]
        accepted = sum(r["matches"] for r in honest)
        refused = sum(not r["matches"] for r in changed)
        lines.append(
            f"{seed:>4}: honest accepted {accepted}/{len(honest)}, changed refused {refused}/{len(changed)}"
        )
    for r in rows:
        honest = r["said"] == r["challenge"]
        if r["matches"] != honest:
            what = "honest refused " if honest else "CHANGED ACCEPTED"
            gap = "-" if r["gap"] is None else f"{r['gap']:.2f}"
            lines.append(
                f"  {what} {r['name']} {r['voice']} x{r['rate']} {r['container']} "
                f"challenge {r['challenge']} said {r['said']} heard {r['heard']} gap {gap}"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="1,2")
    parser.add_argument("--n", type=int, default=80, help="honest readings per seed (as many changed)")
    parser.add_argument("--variants", default="current", help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "digits-lab"))
    parser.add_argument("--json", help="write every verdict here")
    args = parser.parse_args()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    items = [
        (reading, cached(reading, cache))
        for seed in map(int, args.seeds.split(","))
        for reading in readings(seed, args.n)
    ]
    results = [run(variant, items) for variant in args.variants.split(",")]
    for result in results:
        print(report(result), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    leaked = any(r["matches"] and r["said"] != r["challenge"] for res in results for r in res["rows"])
    return 1 if leaked else 0


if __name__ == "__main__":
    sys.exit(main())
