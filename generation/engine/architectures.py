"""The LTX family's real architectures as diffusers configs: LTX-2 (2.0), LTX-2.3 and LTX-2.5.

Values follow the checkpoints' diffusers conversion (``scripts/convert_ltx2_to_diffusers.py`` in
diffusers): what ``from_config`` needs to build each component at full size with random weights.
``build_tiny_model`` keeps every architecture switch of a family (gated attention, cross-attention
modulation, per-modality text projections, the 2.3 VAE layout, the 48 kHz vocoder with bandwidth
extension, 2.5's duration head and keyframe embedding) and shrinks only widths and depths;
``bench/bench_gpu.py`` builds them at full size to time the real FLOPs without downloading weights.

Pure Python: importing this module imports nothing heavy.
"""

from __future__ import annotations

import copy

FAMILIES = ("ltx2", "ltx2.3", "ltx2.5")

_TRANSFORMER_2_0 = {
    "in_channels": 128,
    "out_channels": 128,
    "patch_size": 1,
    "patch_size_t": 1,
    "num_attention_heads": 32,
    "attention_head_dim": 128,
    "cross_attention_dim": 4096,
    "vae_scale_factors": (8, 32, 32),
    "pos_embed_max_pos": 20,
    "base_height": 2048,
    "base_width": 2048,
    "audio_in_channels": 128,
    "audio_out_channels": 128,
    "audio_patch_size": 1,
    "audio_patch_size_t": 1,
    "audio_num_attention_heads": 32,
    "audio_attention_head_dim": 64,
    "audio_cross_attention_dim": 2048,
    "audio_scale_factor": 4,
    "audio_pos_embed_max_pos": 20,
    "audio_sampling_rate": 16000,
    "audio_hop_length": 160,
    "num_layers": 48,
    "activation_fn": "gelu-approximate",
    "qk_norm": "rms_norm_across_heads",
    "norm_elementwise_affine": False,
    "norm_eps": 1e-6,
    "caption_channels": 3840,
    "attention_bias": True,
    "attention_out_bias": True,
    "rope_theta": 10000.0,
    "rope_double_precision": True,
    "causal_offset": 1,
    "timestep_scale_multiplier": 1000,
    "cross_attn_timestep_scale_multiplier": 1000,
    "rope_type": "split",
    "use_prompt_embeddings": True,
    "perturbed_attn": False,
}
# 2.3: gated attention, cross-attention modulation, text projected per modality in the connectors.
_TRANSFORMER_2_3 = dict(
    _TRANSFORMER_2_0,
    gated_attn=True,
    cross_attn_mod=True,
    audio_gated_attn=True,
    audio_cross_attn_mod=True,
    use_prompt_embeddings=False,
    perturbed_attn=True,
)
# 2.5: the video feed-forward drops its bias; a learned keyframe position embedding.
_TRANSFORMER_2_5 = dict(_TRANSFORMER_2_3, ff_bias=False, use_keyframes_abs_pos_embedding=True)

_CONNECTORS_2_0 = {
    "caption_channels": 3840,
    "text_proj_in_factor": 49,
    "video_connector_num_attention_heads": 30,
    "video_connector_attention_head_dim": 128,
    "video_connector_num_layers": 2,
    "video_connector_num_learnable_registers": 128,
    "video_gated_attn": False,
    "audio_connector_num_attention_heads": 30,
    "audio_connector_attention_head_dim": 128,
    "audio_connector_num_layers": 2,
    "audio_connector_num_learnable_registers": 128,
    "audio_gated_attn": False,
    "connector_rope_base_seq_len": 4096,
    "rope_theta": 10000.0,
    "rope_double_precision": True,
    "causal_temporal_positioning": False,
    "rope_type": "split",
    "per_modality_projections": False,
    "proj_bias": False,
}
_CONNECTORS_2_3 = dict(
    _CONNECTORS_2_0,
    video_connector_num_attention_heads=32,
    video_connector_num_layers=8,
    video_gated_attn=True,
    audio_connector_num_attention_heads=32,
    audio_connector_attention_head_dim=64,
    audio_connector_num_layers=8,
    audio_gated_attn=True,
    per_modality_projections=True,
    video_hidden_dim=4096,
    audio_hidden_dim=2048,
    proj_bias=True,
)

_VIDEO_VAE_COMMON = {
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 128,
    "down_block_types": ("LTX2VideoDownBlock3D",) * 4,
    "spatio_temporal_scaling": (True, True, True, True),
    "downsample_type": ("spatial", "temporal", "spatiotemporal", "spatiotemporal"),
    "timestep_conditioning": False,
    "patch_size": 4,
    "patch_size_t": 1,
    "resnet_norm_eps": 1e-6,
    "encoder_causal": True,
    "decoder_causal": False,
    "encoder_spatial_padding_mode": "zeros",
    # Passed explicitly: the constructor's fallback computes 64/16 for this block pattern.
    "spatial_compression_ratio": 32,
    "temporal_compression_ratio": 8,
}
_VIDEO_VAE_2_0 = dict(
    _VIDEO_VAE_COMMON,
    block_out_channels=(256, 512, 1024, 2048),
    decoder_block_out_channels=(256, 512, 1024),
    layers_per_block=(4, 6, 6, 2, 2),
    decoder_layers_per_block=(5, 5, 5, 5),
    decoder_spatio_temporal_scaling=(True, True, True),
    decoder_inject_noise=(False,) * 4,
    upsample_type=("spatiotemporal",) * 3,
    upsample_residual=(True, True, True),
    upsample_factor=(2, 2, 2),
    decoder_spatial_padding_mode="reflect",
)
_VIDEO_VAE_2_3 = dict(
    _VIDEO_VAE_COMMON,
    block_out_channels=(256, 512, 1024, 1024),
    decoder_block_out_channels=(256, 512, 512, 1024),
    layers_per_block=(4, 6, 4, 2, 2),
    decoder_layers_per_block=(4, 6, 4, 2, 2),
    decoder_spatio_temporal_scaling=(True, True, True, True),
    decoder_inject_noise=(False,) * 5,
    upsample_type=("spatiotemporal", "spatiotemporal", "temporal", "spatial"),
    upsample_residual=(False, False, False, False),
    upsample_factor=(2, 2, 1, 2),
    decoder_spatial_padding_mode="zeros",
)

_AUDIO_VAE = {
    "base_channels": 128,
    "output_channels": 2,
    "ch_mult": (1, 2, 4),
    "num_res_blocks": 2,
    "attn_resolutions": None,
    "in_channels": 2,
    "resolution": 256,
    "latent_channels": 8,
    "norm_type": "pixel",
    "causality_axis": "height",
    "dropout": 0.0,
    "mid_block_add_attention": False,
    "sample_rate": 16000,
    "mel_hop_length": 160,
    "is_causal": True,
    "mel_bins": 64,
    "double_z": True,
}

_VOCODER_2_0 = {
    "in_channels": 128,
    "hidden_channels": 1024,
    "out_channels": 2,
    "upsample_kernel_sizes": [16, 15, 8, 4, 4],
    "upsample_factors": [6, 5, 2, 2, 2],
    "resnet_kernel_sizes": [3, 7, 11],
    "resnet_dilations": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
    "leaky_relu_negative_slope": 0.1,
    "output_sampling_rate": 24000,
}
# 2.3 and 2.5: a 16 kHz vocoder followed by bandwidth extension to 48 kHz.
_VOCODER_2_3 = {
    "in_channels": 128,
    "hidden_channels": 1536,
    "out_channels": 2,
    "upsample_kernel_sizes": [11, 4, 4, 4, 4, 4],
    "upsample_factors": [5, 2, 2, 2, 2, 2],
    "resnet_kernel_sizes": [3, 7, 11],
    "resnet_dilations": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
    "act_fn": "snakebeta",
    "antialias": True,
    "antialias_ratio": 2,
    "antialias_kernel_size": 12,
    "final_act_fn": None,
    "final_bias": False,
    "bwe_in_channels": 128,
    "bwe_hidden_channels": 512,
    "bwe_out_channels": 2,
    "bwe_upsample_kernel_sizes": [12, 11, 4, 4, 4],
    "bwe_upsample_factors": [6, 5, 2, 2, 2],
    "bwe_resnet_kernel_sizes": [3, 7, 11],
    "bwe_resnet_dilations": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
    "bwe_act_fn": "snakebeta",
    "bwe_antialias": True,
    "bwe_antialias_ratio": 2,
    "bwe_antialias_kernel_size": 12,
    "bwe_final_act_fn": None,
    "bwe_final_bias": False,
    "filter_length": 512,
    "hop_length": 80,
    "window_length": 512,
    "num_mel_channels": 64,
    "input_sampling_rate": 16000,
    "output_sampling_rate": 48000,
}

_UPSAMPLER = {
    "in_channels": 128,
    "mid_channels": 1024,
    "num_blocks_per_stage": 4,
    "dims": 3,
    "spatial_upsample": True,
    "temporal_upsample": False,
    "rational_spatial_scale": 2.0,
}

# Gemma 3 12B, the text encoder of 2.0 and 2.3. 2.5's is a Gemma 4 (Gemma4UnifiedForConditionalGeneration,
# built tiny in .tiny); diffusers 0.42.1 publishes no full-size config for it, so bench_gpu uses this one.
GEMMA3_12B_TEXT = {
    "vocab_size": 262208,
    "hidden_size": 3840,
    "intermediate_size": 15360,
    "num_hidden_layers": 48,
    "num_attention_heads": 16,
    "num_key_value_heads": 8,
    "head_dim": 256,
    "query_pre_attn_scalar": 256,
    "sliding_window": 1024,
}

_ARCHITECTURES = {
    "ltx2": {
        "transformer": _TRANSFORMER_2_0,
        "connectors": _CONNECTORS_2_0,
        "vae": _VIDEO_VAE_2_0,
        "audio_vae": _AUDIO_VAE,
        "vocoder": ("LTX2Vocoder", _VOCODER_2_0),
        "latent_upsampler": dict(_UPSAMPLER, use_rational_resampler=True),
        "duration_head": None,
    },
    "ltx2.3": {
        "transformer": _TRANSFORMER_2_3,
        "connectors": _CONNECTORS_2_3,
        "vae": _VIDEO_VAE_2_3,
        "audio_vae": _AUDIO_VAE,
        "vocoder": ("LTX2VocoderWithBWE", _VOCODER_2_3),
        "latent_upsampler": dict(_UPSAMPLER, use_rational_resampler=False),
        "duration_head": None,
    },
    "ltx2.5": {
        "transformer": _TRANSFORMER_2_5,
        "connectors": _CONNECTORS_2_3,
        "vae": _VIDEO_VAE_2_3,
        "audio_vae": _AUDIO_VAE,
        "vocoder": ("LTX2VocoderWithBWE", _VOCODER_2_3),
        "latent_upsampler": dict(_UPSAMPLER, use_rational_resampler=False),
        # Predicts a caption's natural length from the connectors' outputs (automatic duration).
        "duration_head": {"video_cross_attention_dim": 4096, "audio_cross_attention_dim": 2048},
    },
}


def architecture(family: str) -> dict:
    """A deep copy of ``family``'s full-size component configs (safe to modify)."""
    try:
        return copy.deepcopy(_ARCHITECTURES[family])
    except KeyError:
        raise KeyError(f"unknown LTX family {family!r}; known: {', '.join(FAMILIES)}") from None
