"""Cameo voice route 2 (Demucs + kNN-VC + remix) on CPU: seconds of work per second of audio.

    .venv/bin/python bench/bench_voice_route2.py [--seconds 10] [--no-real]

Times each part on a clip of music with flite speech over it (24 kHz stereo, as the engine makes):
separation (per second of clip), WavLM layer-6 features and kNN matching + vocoder (per second of
speech), and the whole stage (per second of clip). First on the tiny models, then on random-weight
models of the real sizes (HTDemucs as published, WavLM-Large cut to 6 layers, HiFi-GAN V1 at 1024-d
input). Random weights cost the same as trained ones. The real-size Demucs gets the tiny one's
speech pass-through (generation/voice/tiny.py) so that the stage finds speech and converts it;
that only zeroes weights, the work is the same.
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

RATE = 24_000


def clip(seconds: float) -> tuple[np.ndarray, np.ndarray, float]:
    """(stereo clip at 24 kHz, its speech alone at 16 kHz, speech seconds): music throughout, speech
    from 1 s to 1 s before the end."""
    from tests.media_factory import speech_samples

    text = "The quick brown fox jumps over the lazy dog, and then it runs back home again."
    speech24 = np.zeros(0, np.float32)
    while len(speech24) < (seconds - 2) * RATE:
        speech24 = np.concatenate([speech24, speech_samples(text, "rms", RATE)])
    speech24 = speech24[: round((seconds - 2) * RATE)]
    t = np.arange(round(seconds * RATE)) / RATE
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) * 0.05
    audio = np.stack([chord, 0.8 * chord]).astype(np.float32)
    audio[:, RATE : RATE + len(speech24)] += 0.7 * speech24
    from generation.voice.stage import _resample

    return audio, _resample(speech24, RATE, 16_000), len(speech24) / RATE


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


def bench(label: str, stage, audio: np.ndarray, speech16k: np.ndarray, speech_seconds: float) -> float:
    from generation.voice.separation import separate

    knnvc = stage.knnvc
    seconds = audio.shape[1] / RATE
    matching = knnvc.enrol(speech16k[: 16_000 * 5])
    separate(stage.separator, audio[:, : RATE * 2], RATE)  # warm up allocators and kernels
    knnvc.convert(speech16k[:16_000], matching)

    _, separation = timed(separate, stage.separator, audio, RATE)
    query, features = timed(knnvc.features, speech16k)
    _, matching_vocoder = timed(knnvc.match_and_vocode, query, matching)
    result, total = timed(stage.convert, audio, RATE, matching)
    assert result.audio.shape == audio.shape and result.report["converted"], result.report
    converted = result.report["speech_seconds"]
    print(f"{label}: {seconds:.1f} s clip, {speech_seconds:.1f} s of speech ({converted:.1f} s converted)")
    print(f"  separation       {separation / seconds:6.3f} s per s of clip    ({separation:.2f} s)")
    print(f"  WavLM features   {features / speech_seconds:6.3f} s per s of speech  ({features:.2f} s)")
    print(
        f"  kNN + vocoder    {matching_vocoder / speech_seconds:6.3f} s per s of speech  ({matching_vocoder:.2f} s)"
    )
    print(f"  total (stage)    {total / seconds:6.3f} s per s of clip    ({total:.2f} s)")
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-real", action="store_true", help="skip the real-size models")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sora_site.settings")
    os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="bench-voice-"))
    import django

    django.setup()
    import torch

    from generation.voice import tiny
    from generation.voice.hifigan import Generator, VocoderConfig
    from generation.voice.knnvc import KnnVC
    from generation.voice.stage import VoiceStage

    print(
        f"CPU, torch {torch.__version__}, {torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}"
    )
    audio, speech16k, speech_seconds = clip(args.seconds)

    with tempfile.TemporaryDirectory() as directory:
        paths = tiny.build_tiny_voice_models(Path(directory) / "models")
        stage = VoiceStage.load(
            paths["demucs_dir"], paths["demucs_model"], paths["wavlm_dir"], paths["vocoder_path"]
        )
        bench("tiny models", stage, audio, speech16k, speech_seconds)
    if args.no_real:
        return

    from transformers import WavLMModel

    torch.manual_seed(0)
    separator = tiny.build_demucs(tiny.real_demucs_kwargs(), passthrough=True)
    knnvc = KnnVC(WavLMModel(tiny.real_wavlm_config()), Generator(VocoderConfig()))
    for name, model in (
        ("HTDemucs", separator),
        ("WavLM-Large, 6 layers", knnvc.wavlm),
        ("HiFi-GAN", knnvc.vocoder),
    ):
        print(f"  {name}: {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters")
    started = time.perf_counter()
    bench("real-size random models", VoiceStage(separator, knnvc, []), audio, speech16k, speech_seconds)
    print(f"  (real-size run took {time.perf_counter() - started:.0f} s with warm-up and enrolment)")


if __name__ == "__main__":
    main()
