"""Time route 1 of cameo voice (ID-LoRA reference-audio conditioning) against the same request without it.

    .venv/bin/python bench/bench_voice_route1.py                  # tiny model + tiny ID-LoRA, temp dir
    .venv/bin/python bench/bench_voice_route1.py --model DIR --profile ltx2 --id-lora FILE --seconds 5

Prints wall seconds per second of generated audio for three image-to-video runs of the same
request, side by side: without a reference voice (the plain pipeline), with the reference and
identity guidance off (s=0: reference tokens only), and with identity guidance on (s>0: one extra
transformer pass per step). Runs are interleaved (plain, s=0, s>0, plain, ...) after one warm-up
round and each figure is the fastest of ``--repeat`` runs, so a busy machine slows all three alike;
CPU seconds of the process are printed too (less sensitive to other load, but summed over threads).
Runs on CUDA when available, else the CPU (float32). Nothing is written outside a temp directory.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from generation.engine import (  # noqa: E402
    Engine,
    GenerationRequest,
    Shot,
    build_tiny_id_lora,
    build_tiny_model,
    get_capabilities,
)

REFERENCE_RATE = 16_000


def synthetic_voice(seconds: float, f0: float = 120.0) -> np.ndarray:
    """A voiced, vowel-like mono signal at 16 kHz: harmonics of ``f0`` in syllable-long bursts."""
    t = np.arange(int(seconds * REFERENCE_RATE)) / REFERENCE_RATE
    harmonics = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 12))
    syllables = np.clip(np.sin(2 * np.pi * 3.0 * t), 0, None) ** 0.5
    signal = harmonics * syllables
    return (0.5 * signal / np.abs(signal).max()).astype(np.float32)


def _timed(engine: Engine, request: GenerationRequest, identity_scale: float) -> tuple[float, float, float]:
    """(wall s, CPU s of this process, audio s) of one generate() at ``identity_scale``."""
    # Read per shot: the way to vary it without a second load.
    engine.settings = dataclasses.replace(engine.settings, identity_scale=identity_scale)
    wall, cpu = time.perf_counter(), time.process_time()
    output = engine.generate(request)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall, cpu, output.audio.shape[1] / output.sample_rate


@dataclass(frozen=True)
class Route1Bench:
    """What to compare. Without ``model`` a tiny model and a tiny random ID-LoRA are built into a
    temp dir (then ``id_lora`` is ignored); with ``model``, ``id_lora`` is required."""

    model: str | None = None
    profile: str = "tiny"
    id_lora: str | None = None
    seconds: tuple[float, ...] = (1.0, 2.0)
    identity_scale: float = 3.0
    reference_seconds: float = 5.0
    steps: int | None = None
    repeat: int = 3
    device: str = "auto"
    dtype: str = "auto"


def bench_route1(bench: Route1Bench = Route1Bench()) -> list[dict]:
    """Run the comparison and print it; returns one row per clip length with the figures."""
    caps = get_capabilities(bench.profile)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        # One engine for all three: without a reference voice it runs the plain image-to-video
        # pipeline (LoRA disabled), so a real checkpoint is loaded once.
        engine = _load_engine(bench, caps, *_model_and_lora(bench, Path(scratch)))
        width, height = caps.sizes["portrait"]
        print(
            f"reference voice              {bench.reference_seconds:g} s; identity scale "
            f"{bench.identity_scale:g}; {bench.steps or caps.steps} steps; guidance scale "
            f"{caps.guidance_scale:g}; {width}x{height}; fastest of {bench.repeat}"
        )
        names = ("no reference", "route 1, s=0", f"route 1, s={bench.identity_scale:g}")
        print(
            f"{'clip':>6}  {'':>5}  " + "  ".join(f"{name:>14}" for name in names) + "   (s per s of audio)"
        )
        image = Image.new("RGB", (width, height), (180, 120, 90))
        for clip in bench.seconds:
            rows.append(_bench_clip(engine, bench, clip, image))
    return rows


def _model_and_lora(bench: Route1Bench, scratch: Path) -> tuple[str, str]:
    if bench.model is not None:
        if not bench.id_lora:
            raise SystemExit("--id-lora is required with --model")
        return bench.model, bench.id_lora
    started = time.perf_counter()
    model = str(build_tiny_model(scratch / "tiny"))
    id_lora = str(build_tiny_id_lora(model, scratch / "tiny-id-lora.safetensors"))
    print(f"build tiny model + ID-LoRA   {time.perf_counter() - started:6.2f} s")
    return model, id_lora


def _load_engine(bench: Route1Bench, caps, model: str, id_lora: str) -> Engine:
    import torch

    engine = Engine(
        model,
        caps,
        device=bench.device,
        dtype=bench.dtype,
        id_lora=id_lora,
        identity_scale=bench.identity_scale,
    )
    engine.load()
    print(
        f"load (with ID-LoRA)          {engine.load_seconds:6.2f} s"
        f"  ({engine.id_lora_layers} linears wrapped; {engine.resolved_device}, {engine.resolved_dtype})"
    )
    if engine.resolved_device.startswith("cuda"):
        print(f"gpu                          {torch.cuda.get_device_name()}")
    else:
        print(f"cpu threads                  {torch.get_num_threads()} (of {os.cpu_count()} cores)")
    return engine


def _bench_clip(engine: Engine, bench: Route1Bench, clip: float, image: Image.Image) -> dict:
    """The three variants of one clip, interleaved, fastest of ``repeat`` after a warm-up round."""
    plain = GenerationRequest([Shot("a person talks to the camera", clip)], "portrait", seed=0)
    plain.condition_image, plain.steps = image, bench.steps
    voiced = dataclasses.replace(plain, reference_voice=synthetic_voice(bench.reference_seconds))
    variants = {"plain": (plain, 0.0), "reference": (voiced, 0.0), "guided": (voiced, bench.identity_scale)}
    best: dict[str, tuple[float, float, float]] = {}
    for run in range(bench.repeat + 1):  # run 0 warms up
        for name, (request, scale) in variants.items():
            timing = _timed(engine, request, scale)
            if run > 0 and (name not in best or timing[0] < best[name][0]):
                best[name] = timing
    audio_seconds = best["plain"][2]
    row = {"clip_s": clip, "audio_s": audio_seconds}
    for name in variants:
        row[f"{name}_wall"] = best[name][0] / audio_seconds
        row[f"{name}_cpu"] = best[name][1] / audio_seconds
    for kind in ("wall", "cpu"):
        figures = [row[f"{name}_{kind}"] for name in variants]
        print(
            f"{clip:>5g}s  {kind:>5}  "
            + "  ".join(f"{value:>14.3f}" for value in figures)
            + f"   (x{figures[1] / figures[0]:.2f} / x{figures[2] / figures[0]:.2f})"
        )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="model directory or hub id (default: build the tiny model)")
    parser.add_argument("--profile", default="tiny")
    parser.add_argument("--id-lora", help="ID-LoRA checkpoint (required with --model)")
    parser.add_argument("--seconds", type=float, nargs="+", default=[1, 2])
    parser.add_argument("--identity-scale", type=float, default=3.0)
    parser.add_argument("--reference-seconds", type=float, default=5.0)
    parser.add_argument("--steps", type=int, help="denoising steps (default: the profile's)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    args = parser.parse_args()
    bench_route1(Route1Bench(**dict(vars(args), seconds=tuple(args.seconds))))


if __name__ == "__main__":
    main()
