"""Tiny random-weight voice models (Demucs, WavLM, HiFi-GAN) for tests, CI and laptops.

Each is the real architecture at a small width, written in the format a real deployment's
checkpoint has and loaded back by the same code: an HTDemucs package (``klass``/``kwargs``/``state``)
in a Demucs model directory with a bag YAML and a checksummed ``.th``; a WavLM saved with
``save_pretrained`` (stable layer norm like WavLM-Large, six layers, the real 20 ms conv stack); a
HiFi-GAN generator in kNN-VC's published format (``{"generator": ...}`` with ``weight_g``/``weight_v``).

One deliberate exception to "random": the tiny Demucs' time branch is wired so that its speech stem
carries half the (mono) mix through, and its frequency branch adds nothing. With purely random weights
the speech stem is faint noise in which voice-activity detection never finds speech, so the stage
would never convert anything and the tests and dev stack would exercise only the "no speech" path.
Every other weight is random, so the converted voice is noise: the models test the mechanism, not
quality.

Importing this module is cheap; torch, transformers and demucs load inside the functions.
"""

from __future__ import annotations

import hashlib
import json
from fractions import Fraction
from pathlib import Path

MARKER_FILE = "sora_tiny_voice.json"
DEMUCS_MODEL = "tiny_htdemucs"
DEMUCS_SIGNATURE = "5e1f7a0e"
SOURCES = ["drums", "bass", "other", "vocals"]
TINY_WAVLM_HIDDEN = 32
# The tiny speech stem is this share of the mix (see the module docstring).
PASSTHROUGH_GAIN = 0.5


def is_tiny_voice_models(directory: str | Path) -> bool:
    return (Path(directory) / MARKER_FILE).is_file()


def tiny_demucs_kwargs() -> dict:
    """HTDemucs at 8 channels and one transformer layer (~0.4 M parameters instead of 42 M).

    nfft and depth stay as in htdemucs: they set how many tokens the cross-transformer attends over,
    and a smaller nfft makes attention far slower, not faster.
    """
    return {
        "sources": SOURCES,
        "audio_channels": 2,
        "channels": 8,
        "depth": 4,
        "nfft": 4096,
        "t_layers": 1,
        "t_heads": 2,
        "samplerate": 44100,
        "segment": Fraction(39, 5),  # htdemucs' training segment, 7.8 s
    }


def real_demucs_kwargs() -> dict:
    """HTDemucs as published (``htdemucs``: 48 channels, depth 4, 5 transformer layers)."""
    return {"sources": SOURCES, "samplerate": 44100, "segment": Fraction(39, 5)}


def _wire_speech_passthrough(model, gain: float) -> None:
    """Make the time branch's speech stem ``gain`` x the mono mix, and the frequency branch silent.

    The first time encoder splits the mono mix into four polyphase channels and their negatives
    (GELU(x) - GELU(-x) = x, so both signs together survive the nonlinearity exactly); its 1x1
    rewrite and GLU pass them on (gate saturated open). The last time decoder gets only that skip
    connection (the decoder below it is zeroed) and its transposed convolution interleaves the
    phases back into samples for the two "vocals" channels. Residual DConv branches are zeroed on
    that path. The frequency branch's last decoder is zeroed, leaving its constant mean, which the
    inverse STFT turns into a faint 43 Hz tick.
    """
    import torch

    speech = model.sources.index("vocals")
    encoder, decoder, below = model.tencoder[0], model.tdecoder[-1], model.tdecoder[-2]
    channels = encoder.conv.out_channels
    stride, pad = encoder.stride, encoder.pad
    if channels < 2 * stride:
        raise ValueError("the pass-through needs at least 2 x stride channels in the first layer")
    with torch.no_grad():
        for layer in (encoder, decoder):
            for module in layer.dconv.modules() if layer.dconv is not None else ():
                if type(module).__name__ == "LayerScale":
                    module.scale.zero_()
        encoder.conv.weight.zero_()
        encoder.conv.bias.zero_()
        for phase in range(stride):
            # Output t of a stride-4, kernel-8, padding-2 conv sees inputs 4t - 2 + tap.
            encoder.conv.weight[phase, :, phase + pad] = 1 / model.audio_channels
            encoder.conv.weight[stride + phase, :, phase + pad] = -1 / model.audio_channels
        for rewrite in (encoder.rewrite, decoder.rewrite):
            rewrite.weight.zero_()
            rewrite.bias.zero_()
            centre = rewrite.kernel_size[0] // 2
            for channel in range(channels):
                rewrite.weight[channel, channel, centre] = 1.0
            rewrite.bias[channels:] = 30.0  # GLU gate: sigmoid(30) = 1 to float precision
        below.conv_tr.weight.zero_()
        below.conv_tr.bias.zero_()
        decoder.conv_tr.weight.zero_()
        decoder.conv_tr.bias.zero_()
        for channel in range(model.audio_channels):
            out = speech * model.audio_channels + channel
            for phase in range(stride):
                decoder.conv_tr.weight[phase, out, phase + pad] = gain
                decoder.conv_tr.weight[stride + phase, out, phase + pad] = -gain
        model.decoder[-1].conv_tr.weight.zero_()
        model.decoder[-1].conv_tr.bias.zero_()


def save_demucs(model, kwargs: dict, directory: Path, name: str, signature: str) -> Path:
    """Write ``model`` as Demucs' model store does: ``<sig>-<sha256[:8]>.th`` plus ``<name>.yaml``.

    The checksum prefix in the file name is verified by demucs-infer when it loads the file.
    """
    import torch
    import yaml

    directory.mkdir(parents=True, exist_ok=True)
    package = {"klass": type(model), "args": (), "kwargs": kwargs, "state": model.state_dict()}
    partial = directory / f".{signature}.partial"
    torch.save(package, partial)
    digest = hashlib.sha256(partial.read_bytes()).hexdigest()[:8]
    checkpoint = directory / f"{signature}-{digest}.th"
    partial.replace(checkpoint)
    (directory / f"{name}.yaml").write_text(yaml.safe_dump({"models": [signature]}))
    return checkpoint


def build_demucs(kwargs: dict, seed: int = 0, passthrough: bool = False):
    import torch
    from demucs_infer.htdemucs import HTDemucs

    torch.manual_seed(seed)
    model = HTDemucs(**kwargs).eval()
    if passthrough:
        _wire_speech_passthrough(model, PASSTHROUGH_GAIN)
    return model


def tiny_wavlm_config():
    """WavLM-Large's layout (stable layer norm, layer-normed conv stack, 20 ms frames), 32 wide."""
    from transformers import WavLMConfig

    return WavLMConfig(
        hidden_size=TINY_WAVLM_HIDDEN,
        num_hidden_layers=6,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(32,) * 7,
        conv_bias=True,
        feat_extract_norm="layer",
        do_stable_layer_norm=True,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4,
        num_buckets=32,
        apply_spec_augment=False,
    )


def real_wavlm_config(layers: int = 6):
    """WavLM-Large's config, cut to ``layers`` (kNN-VC runs only the first six)."""
    from transformers import WavLMConfig

    return WavLMConfig(
        hidden_size=1024,
        num_hidden_layers=layers,
        num_attention_heads=16,
        intermediate_size=4096,
        conv_bias=False,
        feat_extract_norm="layer",
        do_stable_layer_norm=True,
        apply_spec_augment=False,
    )


def save_wavlm(config, directory: Path, seed: int = 0) -> Path:
    import torch
    from transformers import Wav2Vec2FeatureExtractor, WavLMModel

    torch.manual_seed(seed)
    WavLMModel(config).save_pretrained(directory)
    Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16_000, padding_value=0.0, do_normalize=True, return_attention_mask=True
    ).save_pretrained(directory)
    return directory


def tiny_vocoder_config():
    from .hifigan import VocoderConfig

    return VocoderConfig(hubert_dim=TINY_WAVLM_HIDDEN, hifi_dim=32, upsample_initial_channel=32)


def build_vocoder(config, seed: int = 0):
    import torch

    from .hifigan import Generator

    torch.manual_seed(seed)
    return Generator(config).eval()


def build_tiny_voice_models(target_dir: str | Path, seed: int = 0) -> dict[str, Path | str]:
    """Write the three tiny models under ``target_dir`` (~2 MB, a few seconds, fully offline).

    Returns ``demucs_dir``, ``demucs_model`` (the name to load), ``wavlm_dir`` and ``vocoder_path``:
    the values of the VOICE_* settings. Raises FileExistsError when ``target_dir`` is not empty.
    """
    from .hifigan import save_vocoder

    target = Path(target_dir)
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{target} is not empty")
    target.mkdir(parents=True, exist_ok=True)
    kwargs = tiny_demucs_kwargs()
    demucs_dir = target / "demucs"
    save_demucs(
        build_demucs(kwargs, seed, passthrough=True), kwargs, demucs_dir, DEMUCS_MODEL, DEMUCS_SIGNATURE
    )
    wavlm_dir = save_wavlm(tiny_wavlm_config(), target / "wavlm", seed)
    vocoder_path = save_vocoder(
        build_vocoder(tiny_vocoder_config(), seed), target / "vocoder" / "prematch_g_tiny.pt"
    )
    paths = {
        "demucs_dir": demucs_dir,
        "demucs_model": DEMUCS_MODEL,
        "wavlm_dir": wavlm_dir,
        "vocoder_path": vocoder_path,
    }
    (target / MARKER_FILE).write_text(
        json.dumps({"seed": seed, **{k: str(v) for k, v in paths.items()}}) + "\n"
    )
    return paths
