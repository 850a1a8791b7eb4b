"""Liveness accuracy on the synthetic corpus (tests/cameos/corpus.py), ISO/IEC 30107-3 style.

    .venv/bin/python bench/liveness_corpus.py [--honest 40] [--per-attack 3] [--dir DIR] [--json OUT]

Makes the corpus (or reuses the files already in --dir), runs ``analyse_recording`` on every
recording against its case's challenge, and prints a Markdown table: BPCER (honest recordings
refused) and, per attack kind, APCER (attacks accepted), the check meant to catch the kind and
the checks that did. Every distinct refusal sentence is listed, for reading. Exit status 1 when
a target is missed (BPCER > 5%, any APCER > 0, an attack not caught by its own check).
"""

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def judge(case, path) -> dict:
    from cameos.liveness import RecordingError, analyse_recording

    started = time.perf_counter()
    try:
        result = analyse_recording(path, case.challenge)
        verdict = {
            "accepted": result.verified,
            "reasons": result.reasons,
            "failed": result.checks.get("failed", []),
            "turns": result.checks.get("turns", {}).get("seen"),
            "heard": result.checks.get("speech", {}).get("transcript"),
            "flat": result.checks.get("flat", {}).get("verdict"),
        }
    except RecordingError as exc:
        verdict = {"accepted": False, "reasons": [str(exc)], "failed": ["media"]}
    verdict["seconds"] = round(time.perf_counter() - started, 2)
    return verdict


def table(rows) -> tuple[str, bool]:
    """The Markdown report and whether every target was met."""
    honest = [r for r in rows if r["kind"] == "honest"]
    refused = [r for r in honest if not r["accepted"]]
    bpcer = len(refused) / len(honest) if honest else 0.0
    ok = bpcer <= 0.05
    lines = [
        "| Presentations | Count | Accepted | Refused | Error rate | Check meant to refuse | Refused by (count) |",
        "|---|---|---|---|---|---|---|",
        f"| honest (bona fide) | {len(honest)} | {len(honest) - len(refused)} | {len(refused)} | "
        f"BPCER {100 * bpcer:.1f}% | - | {_by(refused)} |",
    ]
    kinds = defaultdict(list)
    for r in rows:
        if r["kind"] != "honest":
            kinds[r["kind"]].append(r)
    for kind, group in kinds.items():
        accepted = [r for r in group if r["accepted"]]
        own = all(r["expected"] in r["failed"] for r in group)
        ok = ok and not accepted and own
        lines.append(
            f"| attack: {kind} | {len(group)} | {len(accepted)} | {len(group) - len(accepted)} | "
            f"APCER {100 * len(accepted) / len(group):.0f}% | {group[0]['expected']}"
            f"{'' if own else ' (missed)'} | {_by(group)} |"
        )
    attacks = [r for r in rows if r["kind"] != "honest"]
    if attacks:
        worst = max(sum(r["accepted"] for r in g) / len(g) for g in kinds.values())
        lines.append(f"\nMaximum APCER over attack kinds: {100 * worst:.0f}% ({len(attacks)} attacks).")
    reasons = sorted({reason for r in rows for reason in r["reasons"]})
    lines.append("\nRefusal sentences seen:\n")
    lines += [f"- {reason}" for reason in reasons]
    if refused:
        lines.append("\nHonest recordings refused:\n")
        lines += [f"- {r['name']} ({r['desc']}): {' '.join(r['reasons'])}" for r in refused]
    return "\n".join(lines), ok


def _by(group) -> str:
    counts = defaultdict(int)
    for r in group:
        for check in r["failed"]:
            counts[check] += 1
    return ", ".join(f"{check} {n}" for check, n in sorted(counts.items())) or "-"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--honest", type=int, default=40)
    parser.add_argument("--per-attack", type=int, default=3)
    parser.add_argument("--dir", help="keep the recordings here (reused when present)")
    parser.add_argument("--only", help="comma-separated case names to run")
    parser.add_argument("--json", help="write every verdict here")
    parser.add_argument("--make-only", action="store_true", help="only write the recordings")
    parser.add_argument("--kind", choices=["honest", "attacks"], help="run only these presentations")
    parser.add_argument("--table", help="comma-separated --json files of earlier runs: print their table")
    args = parser.parse_args()
    if args.table:
        rows = [row for name in args.table.split(",") for row in json.loads(Path(name).read_text())]
        report, ok = table(rows)
        print(report)
        return 0 if ok else 1
    from tests.cameos import corpus

    cases = corpus.corpus(args.honest, args.per_attack)
    if args.only:
        wanted = set(args.only.split(","))
        cases = [c for c in cases if c.name in wanted]
    if args.kind:
        cases = [c for c in cases if (c.kind == "honest") == (args.kind == "honest")]
    folder = Path(args.dir or tempfile.mkdtemp(prefix="liveness-corpus-"))
    folder.mkdir(parents=True, exist_ok=True)
    made = {
        c.name: folder / f"{c.name}.{c.suffix}" for c in cases if (folder / f"{c.name}.{c.suffix}").exists()
    }
    rows = []
    started = time.perf_counter()
    for case in cases:
        path = corpus.materialise([case], folder, made)[case.name]
        if args.make_only:
            continue
        verdict = judge(case, path)
        desc = (
            f"{case.face}, {case.head_px} px, yaw {case.yaw_deg[0]:g}/{case.yaw_deg[1]:g}, "
            f"{case.voice} ×{case.rate:g}, {case.container} {case.fps} fps"
        )
        row = {"name": case.name, "kind": case.kind, "expected": case.expected, "desc": desc, **verdict}
        rows.append(row)
        mark = "ok " if (row["accepted"] == (case.kind == "honest")) else "BAD"
        print(
            f"{mark} {case.name:<18} {desc:<70} failed={row['failed']} turns={row.get('turns')} "
            f"heard={row.get('heard')} want={case.challenge.digits}/{'-'.join(case.challenge.turns)} "
            f"{row['seconds']}s",
            flush=True,
        )
    if args.make_only:
        print(f"{len(made)} recordings in {folder} ({time.perf_counter() - started:.0f} s)")
        return 0
    report, ok = table(rows)
    print(f"\n{len(rows)} recordings in {time.perf_counter() - started:.0f} s\n")
    print(report)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
