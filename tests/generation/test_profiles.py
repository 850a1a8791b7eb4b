"""LTX-2.3 and LTX-2.5 profiles: tiny random builds of their real architectures, loaded and run."""

import numpy as np
import pytest

from generation.engine import Engine, GenerationRequest, Shot, build_tiny_model, get_capabilities
from generation.engine.capabilities import capability_table


@pytest.fixture(scope="module", params=["ltx2.3", "ltx2.5"])
def family_engine(request, tmp_path_factory):
    family = request.param
    directory = build_tiny_model(tmp_path_factory.mktemp(family), seed=0, family=family)
    # A few new tokens keep the tiny enhancer quick; the real one writes up to 256.
    engine = Engine(str(directory), get_capabilities(f"tiny-{family}"), enhance_max_tokens=4)
    engine.load()  # from_pretrained(directory), the one loading path a deployment uses
    return family, engine


def test_each_tiny_family_has_its_real_architecture(family_engine):
    family, engine = family_engine
    pipe = engine._pipe
    config = pipe.transformer.config
    assert (config.gated_attn, config.cross_attn_mod, config.use_prompt_embeddings) == (True, True, False)
    assert pipe.connectors.config.per_modality_projections
    assert type(pipe.vocoder).__name__ == "LTX2VocoderWithBWE"
    assert list(pipe.vae.config.upsample_type) == ["spatiotemporal", "spatiotemporal", "temporal", "spatial"]
    assert (getattr(pipe, "duration_head", None) is not None) == (family == "ltx2.5")
    assert config.ff_bias == (family != "ltx2.5")
    # The text side: 2.3 encodes and enhances with Gemma 3; 2.5 encodes with Gemma 4 and enhances
    # with a separate Gemma 4 chat model, the classes diffusers' LTX2Pipeline names for each.
    encoder, enhancer = type(pipe.text_encoder).__name__, getattr(pipe, "prompt_enhancer", None)
    if family == "ltx2.5":
        assert encoder == "Gemma4UnifiedForConditionalGeneration"
        assert pipe.text_encoder.config.model_type == "gemma4_unified"
        assert type(enhancer).__name__ == "Gemma4ForConditionalGeneration"
    else:
        assert encoder == "Gemma3ForConditionalGeneration" and enhancer is None
    # Every layer's hidden states, stacked, are what the connectors read.
    text = pipe.text_encoder.config.text_config
    assert pipe.connectors.config.caption_channels == text.hidden_size
    assert pipe.connectors.config.text_proj_in_factor == text.num_hidden_layers + 1


def test_each_tiny_family_makes_a_clip_with_48_khz_sound_from_an_enhanced_prompt(family_engine):
    family, engine = family_engine
    caps = engine.capabilities
    output = engine.generate(
        GenerationRequest([Shot("a heron lands on a pier", 1)], "portrait", seed=2, steps=2)
    )

    assert output.frames.shape == (25, 320, 192, 3)
    assert output.sample_rate == caps.audio_sample_rate == 48000
    assert output.audio.shape == (2, 25 * 48000 // 24)
    assert np.isfinite(output.audio).all()
    # Prompt enhancement ran on the local text model, the user's words first.
    assert output.enhanced_prompts[0].startswith("a heron lands on a pier")
    assert output.timings["enhance_s"] > 0


def test_the_capability_table_lists_every_profile_with_its_numbers():
    table = {row["profile"]: row for row in capability_table()}
    assert {"tiny", "ltx2", "ltx2.3", "ltx2.5", "tiny-ltx2.3", "tiny-ltx2.5"} <= set(table)
    assert table["ltx2"]["audio_sample_rate"] == 24000 and not table["ltx2"]["prompt_enhancement"]
    assert table["ltx2.3"]["audio_sample_rate"] == 48000 and table["ltx2.3"]["prompt_enhancement"]
    assert table["ltx2.5"]["auto_duration"] and 20 in table["ltx2.5"]["durations"]
    assert all(row["fps"] == 24 for row in table.values())
