"""Time the GPU fast path: one-stage vs two-stage, full-size LTX architectures, random weights.

    .venv/bin/python bench/bench_gpu.py                 # on one GPU: LTX-2.3 at full size, ~5 min
    .venv/bin/python bench/bench_gpu.py --family ltx2 --compile
    .venv/bin/python bench/bench_gpu.py --tiny          # on the CPU: the tiny build, seconds

Builds every component of the family at its real size from its config (generation/engine/
architectures.py: the 48-layer audio-video transformer, Gemma 3 12B, the VAEs, the vocoder and the
latent upsampler) with random weights straight on the device, in bf16: the same FLOPs and memory as
the real checkpoint, nothing downloaded. Then renders ``--frames`` frames (default 121, 5 s at
24 fps) at ``--width`` x ``--height`` (768x512) with sound through the engine, the distilled
8-step schedule with guidance off:

* one-stage: 8 steps at full size;
* two-stage: 8 steps at half size, latent upsampler 2x, 3 refining steps at full size.

Each mode runs once to warm up (kernels, torch.compile) and then ``--repeat`` times; the fastest
run is reported with its split (stage 1, upsample, denoise, decode) and the device's peak memory.
Prints one JSON object per run and a Markdown table for BENCHMARKS.md. Random weights decode to
noise: only the timings mean anything.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generation.engine import Engine, GenerationRequest, Shot, build_tiny_model, get_capabilities  # noqa: E402
from generation.engine.architectures import FAMILIES  # noqa: E402
from generation.engine.tiny import build_full_pipeline  # noqa: E402

MODES = ("one_stage", "two_stage")
PROMPT = "A lighthouse keeper climbs the spiral stairs at dusk, wind howling, waves crashing below."


def bench_capabilities(family: str, tiny: bool, width: int, height: int, steps: int):
    """The family's profile at the bench's one size, guidance off (distilled checkpoints run without)."""
    base = get_capabilities(f"tiny-{family}" if tiny and family != "ltx2" else "tiny" if tiny else family)
    return dataclasses.replace(
        base,
        sizes={"landscape": (width, height)},
        output_sizes={"landscape": (width, height)},
        guidance_scale=1.0,
        steps=steps,
        max_total_seconds=60,
    )


def peak_memory_gb(device: str) -> float:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**30
    # Process-wide high-water mark (kB on Linux): on the CPU it covers every run so far.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def run(engine: Engine, frames: int, fps: int, seed: int, device: str) -> dict:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    request = GenerationRequest(
        [Shot(PROMPT, (frames - 1) / fps)], "landscape", seed=seed, enhance_prompt=False
    )
    started = time.perf_counter()
    output = engine.generate(request)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    wall = time.perf_counter() - started
    timings = output.timings
    return {
        "wall_s": round(wall, 3),
        "frames": int(output.frames.shape[0]),
        "size": f"{output.frames.shape[2]}x{output.frames.shape[1]}",
        "audio_s": round(output.audio.shape[1] / output.sample_rate, 3),
        "video_s": round(output.seconds, 3),
        "stage1_s": round(timings.get("stage1_s", 0.0), 3),
        "upsample_s": round(timings.get("upsample_s", 0.0), 3),
        "denoise_s": round(timings["denoise_s"], 3),
        "decode_s": round(timings["decode_s"], 3),
        "peak_gb": round(peak_memory_gb(device), 2),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tiny", action="store_true", help="the tiny build on the CPU (float32)")
    parser.add_argument("--family", choices=FAMILIES, default="ltx2.3")
    parser.add_argument("--frames", type=int, default=121, help="8k+1 frames (default 121: 5 s)")
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--steps", type=int, default=8, help="first-pass steps (8 = the distilled schedule)")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per mode after the warm-up")
    parser.add_argument("--no-warmup", action="store_true")
    parser.add_argument("--compile", action="store_true", help="torch.compile the transformer blocks (CUDA)")
    parser.add_argument("--attention-backend", default="native", help="diffusers attention backend")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if (args.frames - 1) % 8:
        parser.error("--frames must be 8k+1 (the VAE's time grid)")
    if args.width % 64 or args.height % 64:
        parser.error("--width and --height must divide by 64 (two-stage renders half of each in 32s)")
    if not args.tiny:
        import torch

        if not torch.cuda.is_available():
            parser.error("no CUDA device; use --tiny for the CPU run")
    return args


def bench_mode(args, number: int, mode: str, model: str, caps, pipeline, upsampler) -> dict:
    """Warm up and time one mode's engine; the fastest run with what it ran on."""
    import torch

    device = "cpu" if args.tiny else "cuda"
    engine = Engine(
        model,
        caps,
        device=device,
        dtype="float32" if args.tiny else "bfloat16",
        two_stage=mode == "two_stage",
        distilled=args.steps == 8,
        # The blocks are shared between the modes' engines: compile them once.
        compile=args.compile and number == 0,
        attention_backend=args.attention_backend,
    )
    engine.load(pipeline=pipeline, latent_upsampler=upsampler)
    if not args.no_warmup:
        run(engine, args.frames, caps.fps, seed=0, device=device)
    best = min(
        (run(engine, args.frames, caps.fps, seed=1 + i, device=device) for i in range(max(1, args.repeat))),
        key=lambda r: r["wall_s"],
    )
    best.update(
        mode=mode,
        family=args.family,
        device=torch.cuda.get_device_name() if device == "cuda" else "cpu",
        tiny=args.tiny,
        steps=args.steps,
        realtime_factor=round(best["video_s"] / best["wall_s"], 3),
    )
    return best


def print_table(results: list[dict]) -> None:
    print("\n| mode | frames | size | wall | stage 1 | upsample | denoise | decode | peak | x realtime |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['mode']} | {r['frames']} | {r['size']} | {r['wall_s']} s | {r['stage1_s']} s | "
            f"{r['upsample_s']} s | {r['denoise_s']} s | {r['decode_s']} s | {r['peak_gb']} GB | {r['realtime_factor']} |"
        )


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    import torch

    caps = bench_capabilities(args.family, args.tiny, args.width, args.height, args.steps)
    started = time.perf_counter()
    tmp = tempfile.TemporaryDirectory()
    if args.tiny:
        model = str(build_tiny_model(Path(tmp.name), family=args.family))
        pipeline = upsampler = None
    else:
        model = f"random-{args.family}"
        pipeline, upsampler = build_full_pipeline(args.family, "cuda", torch.bfloat16)
    build_s = time.perf_counter() - started
    results = []
    try:
        for number, mode in enumerate(args.modes):
            best = bench_mode(args, number, mode, model, caps, pipeline, upsampler)
            best["build_s"] = round(build_s, 1)
            results.append(best)
            print(json.dumps(best), flush=True)
    finally:
        tmp.cleanup()
    print_table(results)
    print(f"\nbuild {build_s:.1f} s, total {time.perf_counter() - started:.1f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
