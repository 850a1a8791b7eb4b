"""Output-check cost beside the job it guards (tiny model, CPU).

    .venv/bin/python bench/bench_output_check.py [--seconds 8]

Generates one clip with the engine (storyboard of 2-s shots up to --seconds), then times the
output check (nudenet frames, pocketsphinx transcript + keyword spotting, text policy) on the
same frames and audio, and prints the check as a share of the job (generate + encode + check).
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sora_site.settings")
    os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="bench-check-"))
    import django

    django.setup()
    from django.core.management import call_command

    from generation import media
    from generation.engine.pipeline import GenerationRequest, Shot, get_engine
    from moderation.output_check import check_output

    model = ROOT / "var" / "models" / "tiny-ltx2-bench"
    if not model.exists():
        call_command("build_tiny_model", str(model))
    engine = get_engine(str(model), "tiny")
    engine.load()
    shots = [Shot(prompt=f"shot {i}", seconds=2) for i in range(args.seconds // 2)]
    request = GenerationRequest(shots=shots, orientation="portrait", seed=3)
    engine.generate(GenerationRequest(shots=shots[:1], orientation="portrait", seed=1))  # warm
    check_output(np.zeros((4, 64, 64, 3), np.uint8), 24, None, None)  # load the detector

    started = time.perf_counter()
    output = engine.generate(request)
    generate_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        media.write_mp4(Path(tmp) / "v.mp4", output.frames, output.fps, output.audio, output.sample_rate)
        encode_s = time.perf_counter() - started
    started = time.perf_counter()
    result = check_output(output.frames, output.fps, output.audio, output.sample_rate)
    check_s = time.perf_counter() - started
    job = generate_s + encode_s + check_s
    print(f"tiny model, {output.seconds:.1f} s clip {output.frames.shape[2]}x{output.frames.shape[1]}, CPU")
    print(f"generate {generate_s:.2f} s, encode {encode_s:.2f} s, check {check_s:.2f} s ({result.outcome})")
    print(f"check share of the job: {100 * check_s / job:.0f}%")


if __name__ == "__main__":
    main()
