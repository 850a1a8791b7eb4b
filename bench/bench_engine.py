"""Time the generation engine: model load, per denoising step, and whole clips, plus the MP4 encode.

    .venv/bin/python bench/bench_engine.py                      # tiny model, built into a temp dir
    .venv/bin/python bench/bench_engine.py --model DIR --profile ltx2 --seconds 4 8

Runs on CUDA when available (bf16), else on the CPU (float32). Each clip is rendered ``--repeat``
times after one warm-up and the fastest run is reported, so numbers are comparable on a busy
machine. Nothing is written outside a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generation import media  # noqa: E402
from generation.engine import Engine, GenerationRequest, Shot, build_tiny_model, get_capabilities  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="model directory or hub id (default: build the tiny model)")
    parser.add_argument("--profile", default="tiny")
    parser.add_argument("--seconds", type=float, nargs="+", default=[2, 4])
    parser.add_argument("--orientation", default="portrait")
    parser.add_argument("--steps", type=int, help="denoising steps (default: the profile's)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--cpu-offload", action="store_true")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    caps = get_capabilities(args.profile)
    with tempfile.TemporaryDirectory() as scratch:
        model = args.model
        if model is None:
            started = time.perf_counter()
            model = str(build_tiny_model(Path(scratch) / "tiny"))
            print(f"build tiny model      {time.perf_counter() - started:7.2f} s")
        engine = load_engine(model, caps, args)
        for seconds in args.seconds:
            request = GenerationRequest(
                [Shot("a lighthouse in a storm, waves crashing", seconds)], args.orientation, 0
            )
            request.steps = args.steps
            output, step, steps = fastest(engine, request, args.repeat)
            width, height = caps.sizes[args.orientation]
            print(f"{seconds:g} s clip ({output.frames.shape[0]} frames {width}x{height}, {steps} steps)")
            print_timings(output, step, engine.resolved_device)
            time_write_mp4(output, Path(scratch) / "clip.mp4")


def load_engine(model: str, caps, args) -> Engine:
    import torch

    engine = Engine(model, caps, device=args.device, dtype=args.dtype, cpu_offload=args.cpu_offload)
    started = time.perf_counter()
    engine.load()
    device = engine.resolved_device
    print(
        f"load                  {time.perf_counter() - started:7.2f} s  ({device}, {engine.resolved_dtype})"
    )
    if device.startswith("cuda"):
        print(f"gpu                   {torch.cuda.get_device_name()}")
    else:
        print(f"cpu threads           {torch.get_num_threads()} (of {os.cpu_count()} cores)")
    return engine


def fastest(engine: Engine, request: GenerationRequest, repeat: int):
    """(output, median seconds per step, steps timed) of the fastest of ``repeat`` runs after a
    warm-up (first-call allocations and kernel selection)."""
    import torch

    cuda = engine.resolved_device.startswith("cuda")
    engine.generate(request)
    best = None
    for _ in range(repeat):
        stamps: list[float] = []

        def on_progress(progress, stamps=stamps):
            if progress.stage == "generating":
                if cuda:
                    torch.cuda.synchronize()
                stamps.append(time.perf_counter())

        if cuda:
            torch.cuda.reset_peak_memory_stats()
        output = engine.generate(request, on_progress=on_progress)
        step = (
            statistics.median(b - a for a, b in zip(stamps[:-1], stamps[1:], strict=True))
            if len(stamps) > 1
            else float("nan")
        )
        if best is None or output.timings["pipeline_s"] < best[0].timings["pipeline_s"]:
            best = (output, step)
    return (*best, len(stamps))


def print_timings(output, step: float, device: str) -> None:
    import torch

    timings = output.timings
    print(f"  per step            {step:7.3f} s")
    print(
        f"  denoise             {timings['denoise_s']:7.2f} s  (incl. text encoding, previews {timings['preview_s']:.2f} s)"
    )
    print(f"  decode (VAE+audio)  {timings['decode_s']:7.2f} s")
    print(
        f"  pipeline            {timings['pipeline_s']:7.2f} s  ({output.seconds / timings['pipeline_s']:.1f}x realtime)"
    )
    print(f"  whole generate()    {timings['total_s']:7.2f} s")
    if device.startswith("cuda"):
        print(f"  peak GPU memory     {torch.cuda.max_memory_allocated() / 2**30:7.2f} GiB")


def time_write_mp4(output, path: Path) -> None:
    started = time.perf_counter()
    media.write_mp4(path, output.frames, output.fps, output.audio, output.sample_rate)
    size = path.stat().st_size
    print(f"  write_mp4           {time.perf_counter() - started:7.2f} s  ({size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
