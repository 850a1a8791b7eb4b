"""The GPU fast path on the tiny model: two-stage generation and the bench's CPU mode."""

import importlib.util
from pathlib import Path

import numpy as np

from generation.engine import Engine, GenerationRequest, Progress, Shot, get_capabilities


def test_two_stage_denoises_at_half_size_then_upsamples_and_refines(tiny_model_dir):
    engine = Engine(str(tiny_model_dir), get_capabilities("tiny"), two_stage=True)
    seen: list[Progress] = []
    output = engine.generate(
        GenerationRequest([Shot("a kite", 1)], "portrait", seed=3, steps=2), on_progress=seen.append
    )

    assert output.frames.shape == (25, 320, 192, 3)
    assert output.audio.shape == (2, 25 * 24000 // 24)
    assert np.isfinite(output.audio).all()
    assert output.timings["stage1_s"] > 0 and output.timings["upsample_s"] > 0
    # 2 steps at half size, then the 3 distilled refining steps at full size, counted as one run.
    assert [p.step for p in seen if p.stage == "generating"] == [1, 2, 3, 4, 5]
    assert {p.total_steps for p in seen if p.stage != "loading"} == {5}


def test_the_gpu_bench_runs_on_the_cpu_in_tiny_mode(tmp_path):
    path = Path(__file__).resolve().parents[2] / "bench" / "bench_gpu.py"
    spec = importlib.util.spec_from_file_location("bench_gpu", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    args = [
        "--tiny",
        "--family",
        "ltx2",
        "--frames",
        "9",
        "--width",
        "256",
        "--height",
        "192",
        "--steps",
        "2",
    ]
    results = bench.main([*args, "--no-warmup", "--json", str(tmp_path / "out.json")])

    one, two = results
    assert (one["mode"], two["mode"]) == ("one_stage", "two_stage")
    for result in results:
        assert (result["frames"], result["size"], result["device"]) == (9, "256x192", "cpu")
        assert result["audio_s"] == result["video_s"] and result["wall_s"] > 0
    assert one["upsample_s"] == 0 and two["upsample_s"] > 0 and two["stage1_s"] > 0
    assert (tmp_path / "out.json").read_text().count('"mode"') == 2
