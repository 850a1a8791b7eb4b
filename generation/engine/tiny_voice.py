"""A tiny random ID-LoRA for the tiny LTX-2 model, so route 1 of cameo voice runs without real weights.

It has the published ID-LoRA's key format (original LTX-2 names under ``diffusion_model.``, peft's
``lora_A``/``lora_B``) and covers the same layers (see :func:`reference_audio.id_lora_module_names`),
with shapes read from the tiny transformer itself. ``lora_B`` is random rather than zero (a fresh
LoRA's usual start), so loading it really changes what the model outputs.

Importing this module is cheap; torch, diffusers and safetensors are imported inside the functions.
"""

from __future__ import annotations

from pathlib import Path


def build_tiny_id_lora(model_dir: str | Path, path: str | Path, rank: int = 4, seed: int = 0) -> Path:
    """Write a random ID-LoRA for the transformer in ``model_dir`` to the safetensors file ``path``.

    Deterministic for a given model, ``rank`` and ``seed``; overwrites ``path``; needs no network.
    Takes well under a second for the tiny model. Returns ``path``.
    """
    from diffusers import LTX2VideoTransformer3DModel

    from .reference_audio import id_lora_module_names

    if rank < 1:
        raise ValueError("rank must be at least 1")
    transformer = LTX2VideoTransformer3DModel.from_pretrained(Path(model_dir) / "transformer")
    modules = dict(transformer.named_modules())
    shapes = {
        name: (modules[name].in_features, modules[name].out_features)
        for name in id_lora_module_names(transformer.config.num_layers)
    }
    return write_random_lora(path, shapes, rank=rank, seed=seed, metadata={"sora_tiny": "id-lora"})


def write_random_lora(
    path: str | Path, shapes: dict[str, tuple[int, int]], rank: int = 4, seed: int = 0, metadata=None
) -> Path:
    """Write a random LoRA in the published ID-LoRA key format to the safetensors file ``path``.

    ``shapes`` maps each wrapped linear's transformer module name to its (in_features,
    out_features). Deterministic for the same arguments; overwrites ``path``. Returns ``path``.
    """
    import torch
    from safetensors.torch import save_file

    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for name, (in_features, out_features) in shapes.items():
        # Scaled so the LoRA's contribution is of the order of the layer's own output, not a blow-up.
        down = torch.randn(rank, in_features, generator=generator) / in_features**0.5
        up = torch.randn(out_features, rank, generator=generator) / rank**0.5
        tensors[f"diffusion_model.{name}.lora_A.weight"] = down.contiguous()
        tensors[f"diffusion_model.{name}.lora_B.weight"] = up.contiguous()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={"format": "pt", **(metadata or {}), "rank": str(rank)})
    return path
