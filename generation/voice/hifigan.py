"""Our HiFi-GAN generator (V1) that turns WavLM features into 16 kHz speech, as kNN-VC vocodes.

The architecture is HiFi-GAN V1 with a linear layer in front that maps WavLM features (1024-d for
WavLM-Large) to the generator's input width; four transposed convolutions upsample 10 x 8 x 2 x 2 =
320 samples per 20 ms WavLM frame. It loads the published kNN-VC checkpoints
(``prematch_g_02500000.pt``: ``{"generator": state_dict}``, written with the old
``torch.nn.utils.weight_norm``, so every convolution has ``weight_g``/``weight_v`` keys) and folds
the weight norm away after loading, since inference never needs it.

Worker-only: this module imports torch at the top because it defines modules. Load it through
:mod:`generation.voice.stage`, which imports it lazily.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm

LRELU_SLOPE = 0.1
# Looked for beside the checkpoint, in this order: "<checkpoint stem>.json", then these names.
CONFIG_NAMES = ("config.json", "config_v1_wavlm.json")


@dataclass(frozen=True)
class VocoderConfig:
    """The generator's shape. Defaults are kNN-VC's ``config_v1_wavlm.json`` (WavLM-Large, 16 kHz)."""

    hubert_dim: int = 1024  # input feature width: the WavLM hidden size
    hifi_dim: int = 512
    upsample_rates: list[int] = field(default_factory=lambda: [10, 8, 2, 2])
    upsample_kernel_sizes: list[int] = field(default_factory=lambda: [20, 16, 4, 4])
    upsample_initial_channel: int = 512
    resblock: str = "1"
    resblock_kernel_sizes: list[int] = field(default_factory=lambda: [3, 7, 11])
    resblock_dilation_sizes: list[list[int]] = field(default_factory=lambda: [[1, 3, 5]] * 3)
    sampling_rate: int = 16_000

    @classmethod
    def from_dict(cls, data: dict) -> VocoderConfig:
        """Keeps the generator's keys; a training config's other keys (batch size, mel...) are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def hop_length(self) -> int:
        """Output samples per input frame (320 = 20 ms at 16 kHz for the published vocoder)."""
        return math.prod(self.upsample_rates)


def _padding(kernel_size: int, dilation: int) -> int:
    return (kernel_size * dilation - dilation) // 2


def _conv(channels: int, kernel_size: int, dilation: int) -> nn.Conv1d:
    return weight_norm(
        nn.Conv1d(channels, channels, kernel_size, dilation=dilation, padding=_padding(kernel_size, dilation))
    )


class ResBlock1(nn.Module):
    """Pairs of (dilated, plain) convolutions, each pair a residual step."""

    def __init__(self, channels: int, kernel_size: int, dilations: list[int]):
        super().__init__()
        self.convs1 = nn.ModuleList(_conv(channels, kernel_size, d) for d in dilations)
        self.convs2 = nn.ModuleList(_conv(channels, kernel_size, 1) for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for dilated, plain in zip(self.convs1, self.convs2, strict=True):
            step = dilated(F.leaky_relu(x, LRELU_SLOPE))
            x = x + plain(F.leaky_relu(step, LRELU_SLOPE))
        return x


class ResBlock2(nn.Module):
    """HiFi-GAN V3's lighter block: one dilated convolution per residual step."""

    def __init__(self, channels: int, kernel_size: int, dilations: list[int]):
        super().__init__()
        self.convs = nn.ModuleList(_conv(channels, kernel_size, d) for d in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = x + conv(F.leaky_relu(x, LRELU_SLOPE))
        return x


class Generator(nn.Module):
    """WavLM features (batch, frames, hubert_dim) -> waveform (batch, frames x hop_length) in [-1, 1].

    Parameter names follow the published checkpoints (``lin_pre``, ``conv_pre``, ``ups.i``,
    ``resblocks.j.convs1.k``, ``conv_post``) so their state dicts load unchanged.
    """

    def __init__(self, config: VocoderConfig):
        super().__init__()
        if config.resblock not in ("1", "2"):
            raise ValueError(f"unknown HiFi-GAN resblock type {config.resblock!r}")
        if len(config.upsample_rates) != len(config.upsample_kernel_sizes):
            raise ValueError("upsample_rates and upsample_kernel_sizes differ in length")
        self.config = config
        block = ResBlock1 if config.resblock == "1" else ResBlock2
        self.num_kernels = len(config.resblock_kernel_sizes)
        channels = config.upsample_initial_channel
        self.lin_pre = nn.Linear(config.hubert_dim, config.hifi_dim)
        self.conv_pre = weight_norm(nn.Conv1d(config.hifi_dim, channels, 7, padding=3))
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        for rate, kernel in zip(config.upsample_rates, config.upsample_kernel_sizes, strict=True):
            # padding (k - u) / 2 makes each stage exactly u times longer: frames x hop_length samples.
            self.ups.append(
                weight_norm(
                    nn.ConvTranspose1d(channels, channels // 2, kernel, rate, padding=(kernel - rate) // 2)
                )
            )
            channels //= 2
            for size, dilations in zip(
                config.resblock_kernel_sizes, config.resblock_dilation_sizes, strict=True
            ):
                self.resblocks.append(block(channels, size, dilations))
        self.conv_post = weight_norm(nn.Conv1d(channels, 1, 7, padding=3))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(self.lin_pre(features).transpose(1, 2))
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            blocks = self.resblocks[i * self.num_kernels : (i + 1) * self.num_kernels]
            x = sum(block(x) for block in blocks) / self.num_kernels
        # The published generator ends with the default-slope leaky ReLU (0.01), not LRELU_SLOPE.
        x = self.conv_post(F.leaky_relu(x))
        return torch.tanh(x)[:, 0]

    def fold_weight_norm(self) -> None:
        """Replace each weight-normed weight by its value: the same output, less work per call."""
        for module in self.modules():
            if parametrize.is_parametrized(module, "weight"):
                parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)


def upgrade_weight_norm_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename old ``weight_norm`` keys (``x.weight_g``/``x.weight_v``) to the parametrization names.

    ``torch.nn.utils.parametrizations.weight_norm`` stores g as ``parametrizations.weight.original0``
    and v as ``original1``. Recent torch also renames on load, but doing it here keeps loading
    independent of that hook.
    """
    upgraded = {}
    for key, value in state.items():
        if key.endswith(".weight_g"):
            key = key.removesuffix(".weight_g") + ".parametrizations.weight.original0"
        elif key.endswith(".weight_v"):
            key = key.removesuffix(".weight_v") + ".parametrizations.weight.original1"
        upgraded[key] = value
    return upgraded


def published_state_dict(model: Generator) -> dict[str, torch.Tensor]:
    """The generator's weights keyed as the published checkpoints are (``weight_g``/``weight_v``)."""
    state = {}
    for key, value in model.state_dict().items():
        key = key.replace(".parametrizations.weight.original0", ".weight_g")
        key = key.replace(".parametrizations.weight.original1", ".weight_v")
        state[key] = value.detach().clone()
    return state


def config_path_for(checkpoint: Path) -> Path | None:
    """The config json that belongs to ``checkpoint``, if one lies beside it."""
    for candidate in (checkpoint.with_suffix(".json"), *(checkpoint.parent / n for n in CONFIG_NAMES)):
        if candidate.is_file():
            return candidate
    return None


def load_vocoder(path: str | Path, device: str = "cpu") -> Generator:
    """Load a generator from a published-format checkpoint, ready for inference (eval, norm folded).

    The config comes from a json beside the checkpoint (see :func:`config_path_for`) or, without
    one, the published defaults. Raises FileNotFoundError for a missing file and ValueError when the
    weights don't fit the config (naming the file), never a bare state-dict traceback.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"HiFi-GAN vocoder checkpoint {path} does not exist")
    config_path = config_path_for(path)
    config = VocoderConfig.from_dict(json.loads(config_path.read_text())) if config_path else VocoderConfig()
    package = torch.load(path, map_location="cpu", weights_only=True)
    state = package.get("generator", package) if isinstance(package, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f"{path} is not a HiFi-GAN generator checkpoint")
    model = Generator(config)
    try:
        model.load_state_dict(upgrade_weight_norm_keys(state))
    except RuntimeError as error:
        source = config_path or "the default config"
        raise ValueError(f"{path} does not match the vocoder config from {source}: {error}") from error
    model.fold_weight_norm()
    return model.eval().to(device)


def save_vocoder(model: Generator, path: str | Path) -> Path:
    """Write ``model`` in the published format (``{"generator": ...}`` with weight_g/weight_v keys),
    and its config as ``config.json`` beside it. Returns the checkpoint path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"generator": published_state_dict(model)}, path)
    (path.parent / CONFIG_NAMES[0]).write_text(json.dumps(model.config.to_dict(), indent=2) + "\n")
    return path
