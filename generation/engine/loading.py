"""Loading an engine's pipelines once: the text-to-video pipeline and the ones sharing its weights.

Only :meth:`Engine.load` calls this (workers only); it is where torch and diffusers get imported.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import EngineSettings, resolve_device, resolve_dtype

if TYPE_CHECKING:
    import torch


@dataclass
class Pipelines:
    """The loaded pipelines. ``text`` owns the weights; the others share every module with it, so
    offload hooks and the ID-LoRA (disabled unless the reference pipeline runs) apply to all."""

    text: Any  # LTX2Pipeline
    image: Any  # LTX2ImageToVideoPipeline
    condition: Any  # LTX2ConditionPipeline
    reference: Any | None  # LTX2ReferenceAudioPipeline, with an ID-LoRA
    upsample: Any | None  # LTX2LatentUpsamplePipeline, for two-stage generation
    device: str  # what "auto" resolved to
    dtype: torch.dtype
    # Linears the ID-LoRA wraps and the record of it put on voiced outputs.
    id_lora_layers: int | None
    voice_record: dict | None
    seconds: float


def load_pipelines(model: str, settings: EngineSettings, pipeline=None, latent_upsampler=None) -> Pipelines:
    """Load ``model`` (hub id or diffusers directory) as ``settings`` say. See :meth:`Engine.load`."""
    from diffusers import LTX2ConditionPipeline, LTX2ImageToVideoPipeline, LTX2Pipeline

    started = time.perf_counter()
    device = resolve_device(settings.device)
    torch_dtype = resolve_dtype(settings.dtype, device)
    pipe = pipeline if pipeline is not None else LTX2Pipeline.from_pretrained(model, dtype=torch_dtype)
    pipe.set_progress_bar_config(disable=True)
    layers = voice_record = None
    if settings.id_lora:
        # Into the shared transformer, before offload hooks or a device move, so the LoRA weights
        # follow the model wherever it goes.
        layers, voice_record = _load_id_lora(pipe, settings.id_lora)
    _place(pipe, settings, device)
    upsample = None
    if settings.two_stage:
        upsample = _load_upsampler(model, pipe, torch_dtype, device, latent_upsampler)
    reference = None
    if settings.id_lora:
        from .reference_audio import LTX2ReferenceAudioPipeline

        reference = _quiet(LTX2ReferenceAudioPipeline.from_pipe(pipe))
    return Pipelines(
        text=pipe,
        # Shares every module (no second copy of the weights). Offload hooks live on the shared
        # modules, so they apply to these pipelines too.
        image=_quiet(LTX2ImageToVideoPipeline.from_pipe(pipe)),
        condition=_quiet(LTX2ConditionPipeline.from_pipe(pipe)),
        reference=reference,
        upsample=upsample,
        device=device,
        dtype=torch_dtype,
        id_lora_layers=layers,
        voice_record=voice_record,
        seconds=time.perf_counter() - started,
    )


def _quiet(pipe):
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _load_id_lora(pipe, path: str) -> tuple[int, dict]:
    """Load the ID-LoRA (left disabled) and describe it: (linears wrapped, voice record)."""
    from .checkpoints import file_sha256
    from .reference_audio import load_id_lora

    layers = load_id_lora(pipe, path)
    record = {"route": "idlora", "checkpoint": Path(path).name, "checkpoint_sha256": file_sha256(path)}
    return layers, record


def _place(pipe, settings: EngineSettings, device: str) -> None:
    """Move to the device (or set up offload), then the memory and speed switches."""
    if settings.cpu_offload and device != "cpu":
        pipe.enable_model_cpu_offload(device=device)
    elif device != "cpu":  # from_pretrained already put everything on the CPU
        pipe.to(device)
    if settings.vae_tiling:
        pipe.vae.enable_tiling()
    if settings.attention_backend != "native":
        pipe.transformer.set_attention_backend(settings.attention_backend)
    if settings.compile and device.startswith("cuda"):
        # Regional compilation: the 48 identical blocks compile once (seconds, not minutes);
        # on a CPU compiling costs more than it saves on a clip, so it stays off there.
        pipe.transformer.compile_repeated_blocks(fullgraph=True)


def _load_upsampler(model: str, pipe, torch_dtype, device: str, upsampler=None):
    """The latent upsampler saved beside the pipeline (``latent_upsampler/``), in a pipeline
    that shares the VAE. Raises FileNotFoundError when the checkpoint has none."""
    from diffusers import LTX2LatentUpsamplePipeline
    from diffusers.pipelines.ltx2 import LTX2LatentUpsamplerModel

    from .tiny import LATENT_UPSAMPLER_DIR

    if upsampler is None:
        folder = Path(model) / LATENT_UPSAMPLER_DIR
        if not folder.is_dir():
            raise FileNotFoundError(f"two-stage generation needs {folder} (the latent upsampler)")
        upsampler = LTX2LatentUpsamplerModel.from_pretrained(folder, torch_dtype=torch_dtype)
    upsample_pipe = LTX2LatentUpsamplePipeline(vae=pipe.vae, latent_upsampler=upsampler)
    if device != "cpu":
        upsampler.to(device)
    return _quiet(upsample_pipe)
