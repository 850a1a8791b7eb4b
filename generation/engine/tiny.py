"""A tiny random-weight LTX-2 pipeline, built offline, for tests, CI and laptops without a GPU.

It has every component of the real checkpoint (Gemma text encoder and tokenizer: Gemma 3 for LTX-2
and 2.3, Gemma 4 for 2.5; text connectors,
audio-video transformer, video VAE, audio VAE, vocoder, scheduler) and compresses like it: the video
VAE 32x in space and 8x in time, the audio path 100 mel frames per second and a 240x vocoder to
24 kHz, so frame counts, sizes and audio lengths follow the same arithmetic as production. Weights
are random, so the output is patterned noise with noise for sound.

It is saved with ``save_pretrained`` and loaded back by the same ``from_pretrained`` call a real
deployment uses, so the engine has exactly one loading path.

The same builder makes the family's pipeline at full size with random weights
(:func:`build_full_pipeline`) for ``bench/bench_gpu.py``: the real FLOPs without a download.

Importing this module is cheap; torch and diffusers are imported inside the builders.
"""

from __future__ import annotations

import json
import shutil
import string
from pathlib import Path

MARKER_FILE = "sora_tiny.json"

# Tokenizer layout. The special tokens keep Gemma's first ids (pad 0, eos 1, bos 2) because the
# Gemma 3 config refers to them by id.
_SPECIAL_TOKENS = [
    "<pad>",
    "<eos>",
    "<bos>",
    "<unk>",
    "<mask>",
    "<start_of_image>",
    "<end_of_image>",
    "<image_soft_token>",
]
_TEXT_HIDDEN = 32  # must equal the connectors' heads x head_dim (4 x 8)
_TEXT_LAYERS = 2


def is_tiny_model(directory: str | Path) -> bool:
    """True when ``directory`` holds a pipeline written by :func:`build_tiny_model`."""
    return (Path(directory) / MARKER_FILE).is_file()


def _tokenizer_vocab() -> dict[str, int]:
    # Byte-fallback tokens make every string encodable with merges=[]: characters in the vocab map to
    # themselves, anything else (accents, emoji) falls back to its UTF-8 bytes.
    tokens = list(_SPECIAL_TOKENS)
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    tokens += ["\u2581"]  # Gemma's word-boundary marker, what the normalizer turns spaces into
    tokens += [c for c in string.ascii_letters + string.digits + string.punctuation if c not in tokens]
    return {token: index for index, token in enumerate(tokens)}


# Widths and depths of the tiny build; every other switch comes from the family's real architecture.
_TINY_TRANSFORMER = {
    "in_channels": 16,  # = video VAE latent channels (patch size 1)
    "out_channels": 16,
    "num_attention_heads": 4,
    "attention_head_dim": 8,
    "cross_attention_dim": 32,
    "audio_in_channels": 16,  # = audio latent channels (4) x latent mel bins (16 / 4)
    "audio_out_channels": 16,
    "audio_num_attention_heads": 2,
    "audio_attention_head_dim": 8,
    "audio_cross_attention_dim": 16,
    "num_layers": 2,
    "caption_channels": _TEXT_HIDDEN,
    "rope_double_precision": False,
}
_TINY_CONNECTORS = {
    "caption_channels": _TEXT_HIDDEN,
    "text_proj_in_factor": _TEXT_LAYERS + 1,  # the pipeline stacks every hidden state + embeddings
    "video_connector_num_attention_heads": 4,
    "video_connector_attention_head_dim": 8,
    "video_connector_num_layers": 1,
    "video_connector_num_learnable_registers": None,
    "audio_connector_num_attention_heads": 4,
    "audio_connector_attention_head_dim": 8,
    "audio_connector_num_layers": 1,
    "audio_connector_num_learnable_registers": None,
    "connector_rope_base_seq_len": 32,
    "rope_double_precision": False,
}
# 2.3/2.5 project text per modality to the transformer's widths inside the connectors.
_TINY_PER_MODALITY = {
    "video_hidden_dim": 32,
    "audio_hidden_dim": 16,
    "audio_connector_num_attention_heads": 2,
}
_TINY_VAE = {
    "ltx2": {
        "block_out_channels": (8, 16, 32, 64),
        "decoder_block_out_channels": (16, 32, 64),
        "layers_per_block": (1, 1, 1, 1, 1),
        "decoder_layers_per_block": (1, 1, 1, 1),
    },
    "ltx2.3": {
        "block_out_channels": (8, 16, 32, 32),
        "decoder_block_out_channels": (8, 16, 16, 32),
        "layers_per_block": (1, 1, 1, 1, 1),
        "decoder_layers_per_block": (1, 1, 1, 1, 1),
    },
}
_TINY_AUDIO_VAE = {
    "base_channels": 16,  # also the size of its latent statistics: latent channels x latent mel bins
    "ch_mult": (1, 2, 4),  # two downsamplings: the pipeline assumes 4x in time and in mel bins
    "num_res_blocks": 1,
    "latent_channels": 4,
    "mel_bins": 16,
    "sample_rate": 16000,
    "mel_hop_length": 160,
}
_TINY_VOCODER = {
    # 6*5*2*2*2 = 240 samples per mel frame at 100 mel frames/s gives 24 kHz, like LTX-2.0's
    # vocoder, so the audio is as long as the video. Kernel sizes are the real ones: they make each
    # transposed convolution upsample by exactly its factor.
    "LTX2Vocoder": {
        "in_channels": 2 * 16,
        "hidden_channels": 64,
        "resnet_kernel_sizes": [3],
        "resnet_dilations": [[1, 3, 5]],
    },
    # 16 kHz vocoder then bandwidth extension to 48 kHz, as LTX-2.3/2.5; narrow, real factors.
    "LTX2VocoderWithBWE": {
        "in_channels": 2 * 16,
        "hidden_channels": 64,  # the narrowest that survives six halvings
        "resnet_kernel_sizes": [3],
        "resnet_dilations": [[1]],  # one dilation per block: the 48 kHz stages dominate CPU time
        "bwe_hidden_channels": 32,
        "bwe_resnet_kernel_sizes": [3],
        "bwe_resnet_dilations": [[1]],
    },
}
# Chat template for prompt enhancement (Gemma's turn format), used by the tiny 2.3/2.5 builds.
_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<start_of_turn>{{ m['role'] }}\n"
    "{{ m['content'] if m['content'] is string else m['content'][-1]['text'] }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)
LATENT_UPSAMPLER_DIR = "latent_upsampler"


def build_tiny_model(directory: Path, seed: int = 0, family: str = "ltx2") -> Path:
    """Build the tiny pipeline of LTX ``family`` ("ltx2", "ltx2.3", "ltx2.5") into ``directory``.

    Every component has its family's real architecture (see :mod:`.architectures`) at tiny widths.
    LTX-2.3 and 2.5 also get a processor with a chat template, so prompt enhancement runs offline:
    2.3 enhances with its text encoder, 2.5 with its own tiny Gemma 4 ``prompt_enhancer`` (its Gemma 4
    text encoder is not a writer), and 2.5 gets its duration head. A tiny latent upsampler (two-stage
    generation) is saved beside the pipeline in ``latent_upsampler/``.

    Deterministic for a given ``seed``; needs no network. Overwrites files of the same name but
    leaves other files alone; the caller decides whether to clear the directory first. Takes a few
    seconds and writes about 9 MB.
    """
    import diffusers
    import torch

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # fork_rng keeps the caller's global RNG state untouched while module constructors draw from it.
    with torch.random.fork_rng(devices=[]):
        pipe, upsampler = random_pipeline(family, full_size=False, seed=seed)
    pipe.save_pretrained(directory)
    upsampler.save_pretrained(directory / LATENT_UPSAMPLER_DIR)
    marker = {"profile": f"tiny-{family}" if family != "ltx2" else "tiny", "family": family, "seed": seed}
    (directory / MARKER_FILE).write_text(
        json.dumps(dict(marker, diffusers=diffusers.__version__), indent=2) + "\n"
    )
    return directory


def build_full_pipeline(family: str, device: str, dtype):
    """The family's pipeline and latent upsampler at full size, random weights, built on ``device``
    in ``dtype`` (no float32 copy of 30B weights on the way). For the GPU bench: the real FLOPs and
    memory with nothing downloaded; random weights decode to noise."""
    import torch

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device), torch.no_grad():
            return random_pipeline(family, full_size=True, seed=None)
    finally:
        torch.set_default_dtype(previous)


def random_pipeline(family: str, full_size: bool = False, seed: int | None = 0):
    """(``LTX2Pipeline``, latent upsampler) of ``family`` with random weights, built in memory.

    Tiny widths (with the enhancer's processor and 2.5's prompt enhancer), or with ``full_size`` the
    real ones, with a Gemma 3 12B text tower for every family. Each component draws from the global
    RNG seeded ``seed + k`` (unseeded when ``seed`` is None).
    """
    from diffusers import LTX2Pipeline

    vocab = _tokenizer_vocab()
    components, upsampler = _random_components(family, full_size, seed, vocab)
    tokenizer = _tokenizer(vocab, family if not full_size else "ltx2")
    if not full_size and family != "ltx2":
        tokenizer.chat_template = _CHAT_TEMPLATE
        components["processor"] = _tiny_processor(tokenizer)
    pipe = LTX2Pipeline(scheduler=_scheduler(), tokenizer=tokenizer, **components)
    return pipe, upsampler


def _random_components(family: str, full_size: bool, seed: int | None, vocab: dict[str, int]):
    """The pipeline's modules with random weights (by name), and the latent upsampler."""
    import torch
    from diffusers import AutoencoderKLLTX2Audio, AutoencoderKLLTX2Video, LTX2VideoTransformer3DModel
    from diffusers.pipelines import ltx2

    from .architectures import architecture

    configs = architecture(family) if full_size else _tiny_configs(family)

    def seeded(offset: int) -> None:
        if seed is not None:
            torch.manual_seed(seed + offset)

    seeded(0)
    components = {"text_encoder": _text_encoder(family, vocab, full_size)}
    seeded(1)
    components["connectors"] = ltx2.LTX2TextConnectors(**configs["connectors"])
    seeded(2)
    components["transformer"] = LTX2VideoTransformer3DModel(**configs["transformer"])
    seeded(3)
    components["vae"] = AutoencoderKLLTX2Video(**configs["vae"])
    seeded(4)
    components["audio_vae"] = AutoencoderKLLTX2Audio(**configs["audio_vae"])
    seeded(5)
    vocoder_class, vocoder_config = configs["vocoder"]
    components["vocoder"] = getattr(ltx2, vocoder_class)(**vocoder_config)
    if configs["duration_head"] is not None:
        seeded(6)
        components["duration_head"] = ltx2.LTX2DurationHead(**configs["duration_head"])
    if family == "ltx2.5" and not full_size:
        # 2.5's text encoder is not trained to write; a separate Gemma 4 chat model enhances.
        seeded(8)
        components["prompt_enhancer"] = _tiny_prompt_enhancer(vocab)
    seeded(7)
    upsampler = ltx2.LTX2LatentUpsamplerModel(**configs["latent_upsampler"])
    return components, upsampler


def _tiny_configs(family: str) -> dict:
    """The family's architecture (see :mod:`.architectures`) at the tiny widths and depths."""
    from .architectures import architecture

    arch = architecture(family)
    connectors = dict(arch["connectors"], **_TINY_CONNECTORS)
    if connectors["per_modality_projections"]:
        connectors.update(_TINY_PER_MODALITY)
    vocoder_class, vocoder_config = arch["vocoder"]
    duration_head = None
    if arch["duration_head"] is not None:
        duration_head = {
            "video_cross_attention_dim": 32,
            "audio_cross_attention_dim": 16,
            "pooler_hidden_dim": 16,
            "num_pooler_heads": 2,
            "mlp_hidden_dim": 16,
        }
    return {
        "connectors": connectors,
        "transformer": dict(arch["transformer"], **_TINY_TRANSFORMER),
        # The family's down/upsampling pattern with narrow channels. The compression ratios stay
        # explicit: the constructor's fallback computes 64/16 for this pattern and the pipeline would
        # then silently return fewer, smaller frames than asked for.
        "vae": dict(arch["vae"], latent_channels=16, **_TINY_VAE["ltx2" if family == "ltx2" else "ltx2.3"]),
        "audio_vae": _TINY_AUDIO_VAE,
        "vocoder": (vocoder_class, dict(vocoder_config, **_TINY_VOCODER[vocoder_class])),
        "duration_head": duration_head,
        "latent_upsampler": dict(
            arch["latent_upsampler"], in_channels=16, mid_channels=32, num_blocks_per_stage=1
        ),
    }


def _tokenizer(vocab: dict[str, int], family: str):
    """Gemma's tokenizer over the byte-level vocabulary; prompts pad to 1024 tokens."""
    from transformers import GemmaTokenizer

    extra = {}
    if family == "ltx2.5":
        # Gemma 4 reads no token_type_ids, which Gemma3Processor adds unless its tokenizer says so.
        extra["return_mm_token_type_ids"] = False
    if family != "ltx2":
        # Gemma3Processor finds its image tokens through these names.
        extra["extra_special_tokens"] = {
            "boi_token": "<start_of_image>",
            "eoi_token": "<end_of_image>",
            "image_token": "<image_soft_token>",
        }
    return GemmaTokenizer(vocab=vocab, merges=[], model_max_length=1024, **extra)


def _scheduler():
    """LTX-2's scheduler settings: resolution-dependent shift, terminal sigma stretched to 0.1."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    return FlowMatchEulerDiscreteScheduler(
        use_dynamic_shifting=True,
        base_shift=0.95,
        max_shift=2.05,
        base_image_seq_len=1024,
        max_image_seq_len=4096,
        shift_terminal=0.1,
    )


def rebuild_tiny_model(directory: Path, seed: int = 0, family: str = "ltx2") -> Path:
    """Delete ``directory`` if it holds a tiny model, then build a fresh one there.

    Refuses (``FileExistsError``) to delete a non-empty directory that isn't a tiny model, so a typo
    can't wipe a real checkpoint.
    """
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        if not is_tiny_model(directory):
            raise FileExistsError(f"{directory} is not empty and holds no {MARKER_FILE}; not deleting it")
        shutil.rmtree(directory)
    return build_tiny_model(directory, seed=seed, family=family)


def _tiny_text_config(vocab: dict[str, int]) -> dict:
    return {
        "vocab_size": len(vocab),
        "hidden_size": _TEXT_HIDDEN,
        "intermediate_size": 64,
        "num_hidden_layers": _TEXT_LAYERS,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "head_dim": 16,
        "max_position_embeddings": 2048,
        "sliding_window": 64,
    }


def _tiny_gemma4_text_config(vocab: dict[str, int]) -> dict:
    # Gemma 4 alternates sliding and full attention and gives full-attention layers their own head
    # width (global_head_dim, 512 at full size); both kept explicit so the tiny model has each kind.
    return dict(
        _tiny_text_config(vocab),
        layer_types=["sliding_attention", "full_attention"],
        global_head_dim=16,
    )


def _gemma4_media_tokens(vocab: dict[str, int]) -> dict:
    # Gemma 4's defaults point past the tiny vocabulary; without towers the ids are never looked up,
    # but they must name real tokens. Video and audio reuse the image markers.
    begin, end, soft = vocab["<start_of_image>"], vocab["<end_of_image>"], vocab["<image_soft_token>"]
    return {
        "boi_token_id": begin,
        "eoi_token_id": end,
        "image_token_id": soft,
        "video_token_id": soft,
        "boa_token_id": begin,
        "eoa_token_index": end,
        "audio_token_id": soft,
    }


def _text_encoder(family: str, vocab: dict[str, int], full_size: bool = False):
    """The family's text encoder class: Gemma 3 for 2.0/2.3, Gemma 4 for 2.5, at tiny widths; with
    ``full_size``, Gemma 3 12B's text tower for every family (the GPU bench's stand-in).

    The class is what diffusers' LTX2Pipeline takes for each generation (``text_encoder:
    Gemma3ForConditionalGeneration | Gemma4UnifiedForConditionalGeneration``); the pipeline stacks
    every layer's hidden states, so ``_TEXT_HIDDEN`` x (layers + 1) is the connectors' input either way.
    """
    if full_size:
        from .architectures import GEMMA3_12B_TEXT

        return _gemma3(GEMMA3_12B_TEXT, vocab)
    if family != "ltx2.5":
        return _gemma3(dict(_tiny_text_config(vocab), query_pre_attn_scalar=16), vocab)
    from transformers import (
        Gemma4UnifiedConfig,
        Gemma4UnifiedForConditionalGeneration,
        Gemma4UnifiedTextConfig,
    )

    return Gemma4UnifiedForConditionalGeneration(
        Gemma4UnifiedConfig(
            text_config=Gemma4UnifiedTextConfig(**_tiny_gemma4_text_config(vocab)),
            # Only the language model encodes prompts; the vision and audio towers stay out.
            vision_config=None,
            audio_config=None,
            **_gemma4_media_tokens(vocab),
        )
    ).eval()


def _gemma3(text_config: dict, vocab: dict[str, int]):
    """Gemma 3 with ``text_config``'s language model and a tiny vision tower, which text prompts
    never run."""
    from transformers import (
        Gemma3Config,
        Gemma3ForConditionalGeneration,
        Gemma3TextConfig,
        SiglipVisionConfig,
    )

    return Gemma3ForConditionalGeneration(
        Gemma3Config(
            text_config=Gemma3TextConfig(**text_config),
            vision_config=SiglipVisionConfig(
                hidden_size=16,
                intermediate_size=32,
                num_hidden_layers=1,
                num_attention_heads=2,
                image_size=32,
                patch_size=8,
            ),
            mm_tokens_per_image=4,
            boi_token_index=vocab["<start_of_image>"],
            eoi_token_index=vocab["<end_of_image>"],
            image_token_index=vocab["<image_soft_token>"],
        )
    ).eval()


def _tiny_processor(tokenizer):
    """The enhancer's chat processor: Gemma 3's, the one Gemma processor that builds without torchvision."""
    from transformers import Gemma3ImageProcessorPil, Gemma3Processor

    return Gemma3Processor(
        image_processor=Gemma3ImageProcessorPil(size={"height": 32, "width": 32}),
        tokenizer=tokenizer,
        image_seq_length=4,
        chat_template=_CHAT_TEMPLATE,
    )


def _tiny_prompt_enhancer(vocab: dict[str, int]):
    """LTX-2.5's dedicated enhancer, diffusers' ``prompt_enhancer: Gemma4ForConditionalGeneration``."""
    from transformers import Gemma4Config, Gemma4ForConditionalGeneration, Gemma4TextConfig

    text = Gemma4TextConfig(
        **_tiny_gemma4_text_config(vocab),
        # Per-layer input embeddings default to a 262144 x (layers x 256) table: 134M parameters.
        vocab_size_per_layer_input=len(vocab),
        hidden_size_per_layer_input=8,
    )
    return Gemma4ForConditionalGeneration(
        Gemma4Config(
            text_config=text,
            vision_config=None,
            audio_config=None,
            **_gemma4_media_tokens(vocab),
        )
    ).eval()
