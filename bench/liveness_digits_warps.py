"""Digit check lab, pooled frequency warps: would judging a reading at several warps help?

    nice -n 19 .venv/bin/python bench/liveness_digits_warps.py --seeds 1,2,3 [--n 80]
        [--cache /tmp/digits-lab] [--json OUT] [--bar 4.8]

For each reading of ``bench/liveness_digits_lab.py`` (same seeds, same cached audio) the check is
run as it is (the voice's warp, ``front_for``); where it refuses, it is run again at that warp
±0.06 and ±0.12. Prints honest readings accepted and readings of other digits refused under rules
that pool the warps (each warp's gap counted 0 when it heard the challenge outright): the mean of
the three gaps at ±0.06, the median of the five, two warps of three accepting, any of three
accepting; and the nearest reading of other digits under each. Rules that only rescue refusals:
a reading the check accepts stays accepted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

STEPS = (-0.12, -0.06, 0.06, 0.12)


def gaps_by_warp(audio, challenge: str, bar: float) -> dict[float, float]:
    """The check's gap per warp: 0 when heard outright, inf when the challenge can't be fitted."""
    from cameos.liveness import speech

    front = speech.front_for(audio)
    w0 = float(front[-1][1])
    out = {}
    for step in (0.0, *STEPS):
        warp = round(w0 + step, 2)
        heard = speech._weigh(audio, challenge, (*front[:-1], ("warp_params", str(warp))))
        out[step] = (
            0.0 if heard.digits == challenge else (heard.gap if heard.gap is not None else float("inf"))
        )
        if step == 0.0 and out[step] <= bar:
            break  # accepted as it is: the rules below only rescue refusals
    return out


def pooled(g: dict[float, float]) -> dict[str, float]:
    """Each rule's pooled gap (accepted when at most the bar)."""
    if len(g) == 1:
        return dict.fromkeys(RULES, g[0.0])
    three = [max(0.0, g[s]) for s in (-0.06, 0.0, 0.06)]
    return {
        "as it is": three[1],
        "mean of 3": sum(three) / 3,
        "median of 5": statistics.median(max(0.0, v) for v in g.values()),
        "2 of 3": sorted(three)[1],
        "any of 3": min(three),
    }


RULES = ("as it is", "mean of 3", "median of 5", "2 of 3", "any of 3")


def main() -> int:
    import liveness_digits_lab as lab

    from cameos.liveness import speech

    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--n", type=int, default=80)
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "digits-lab"))
    parser.add_argument("--bar", type=float, default=speech.MAX_CHALLENGE_GAP)
    parser.add_argument("--json", help="write every reading's gaps here")
    args = parser.parse_args()
    cache, rows = Path(args.cache), []
    cache.mkdir(parents=True, exist_ok=True)
    for seed in map(int, args.seeds.split(",")):
        for reading in lab.readings(seed, args.n):
            g = gaps_by_warp(lab.cached(reading, cache), reading.challenge, args.bar)
            rows.append({**reading.__dict__, "gaps": {str(k): v for k, v in g.items()}, "pooled": pooled(g)})
    for rule in RULES:
        honest = [r for r in rows if r["said"] == r["challenge"]]
        changed = [r for r in rows if r["said"] != r["challenge"]]
        accepted = sum(r["pooled"][rule] <= args.bar for r in honest)
        refused = sum(r["pooled"][rule] > args.bar for r in changed)
        nearest = min(r["pooled"][rule] for r in changed)
        print(
            f"{rule:>12}: honest accepted {accepted}/{len(honest)}, other digits refused "
            f"{refused}/{len(changed)}, nearest other digits {nearest:.1f}/s"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
