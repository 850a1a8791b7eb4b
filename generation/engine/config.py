"""How an engine runs: device, precision, memory savers, the ID-LoRA and the GPU fast path.

One frozen :class:`EngineSettings` describes it; a worker builds it once from the Django settings
(:meth:`EngineSettings.from_settings`) and it is also the key of the process-wide engine cache, so
two engines never differ in a setting without differing in their key. Importing this module is
cheap: torch is imported only when "auto" is resolved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

_DTYPES = {
    "float32": "float32",
    "fp32": "float32",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
}


@dataclass(frozen=True)
class EngineSettings:
    """Everything but the model and its profile that decides how an :class:`Engine` renders.

    ``cpu_offload`` keeps idle components in CPU memory (slower, for GPUs under ~48 GB);
    ``vae_tiling`` decodes in tiles to bound VAE memory at large sizes.

    ``id_lora`` is the path of an ID-LoRA checkpoint (safetensors, LTX-2 key format). With it, the
    engine also builds :class:`~generation.engine.reference_audio.LTX2ReferenceAudioPipeline` at
    load time (sharing every weight, LoRA loaded once), and image-conditioned requests that carry a
    ``reference_voice`` run through it with identity-guidance scale ``identity_scale``. The LoRA is
    disabled for every other request, whose output is the same as without it.

    Prompt enhancement (profiles that have it): ``enhance_prompts`` allows it, ``enhance_max_tokens``
    bounds each rewritten prompt. GPU fast path: ``two_stage`` renders text-to-video at half size,
    upsamples the latents 2x (the checkpoint's ``latent_upsampler/``) and refines them in 3 steps;
    ``distilled`` uses the distilled checkpoints' 8-sigma schedule; ``compile`` compiles the
    transformer's repeated blocks (CUDA only); ``attention_backend`` picks diffusers' attention
    dispatch ("native" is torch SDPA, which picks flash/cuDNN kernels on a GPU by itself).
    """

    device: str = "auto"
    dtype: str = "auto"
    cpu_offload: bool = False
    vae_tiling: bool = False
    id_lora: str | None = None
    identity_scale: float = 0.0
    enhance_prompts: bool = True
    enhance_max_tokens: int = 256
    two_stage: bool = False
    distilled: bool = False
    compile: bool = False
    attention_backend: str = "native"

    def __post_init__(self):
        if self.identity_scale < 0:
            raise ValueError("identity_scale must be >= 0")
        # Normalised so that equal settings compare (and hash) equal: "" and None both mean no LoRA.
        object.__setattr__(self, "id_lora", str(self.id_lora) if self.id_lora else None)
        object.__setattr__(self, "identity_scale", float(self.identity_scale))

    @classmethod
    def from_settings(cls, settings) -> EngineSettings:
        """The worker's engine settings from Django's ``settings`` (the SORA_* and VOICE_* names)."""
        return cls(
            device=settings.SORA_DEVICE,
            dtype=settings.SORA_DTYPE,
            cpu_offload=settings.SORA_CPU_OFFLOAD,
            vae_tiling=settings.SORA_VAE_TILING,
            # Route 1 of cameo voice: the ID-LoRA loads with the model, once per worker.
            id_lora=settings.VOICE_ID_LORA or None,
            identity_scale=settings.VOICE_IDENTITY_SCALE,
            two_stage=settings.SORA_TWO_STAGE,
            distilled=settings.SORA_DISTILLED,
            compile=settings.SORA_COMPILE,
            attention_backend=settings.SORA_ATTENTION_BACKEND,
        )


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def resolve_dtype(dtype: str, device: str) -> torch.dtype:
    import torch

    if dtype == "auto":
        # bf16 halves memory on GPUs; CPUs are slow at bf16 matmuls and float32 keeps results exact.
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    try:
        return getattr(torch, _DTYPES[dtype])
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}; use auto, {', '.join(_DTYPES)}") from None
