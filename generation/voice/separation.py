"""Speech versus everything else: Demucs (demucs-infer) loaded from a local checkpoint directory.

The directory is laid out like Demucs' own model store: ``<name>.yaml`` (a bag listing checkpoint
signatures, e.g. ``htdemucs.yaml`` -> ``models: ['955717e8']``) and ``<signature>[-<sha256
prefix>].th`` files; ``get_model(name, repo=dir)`` loads from it and verifies that prefix. Nothing is
downloaded: with ``repo`` given, demucs-infer never falls back to its remote store.

Speech is the "vocals" stem; the background is the input minus that stem, so speech + background
gives back the input exactly (to float rounding), whatever the separator got wrong.

torch, julius and demucs are imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SPEECH_SOURCE = "vocals"


def demucs_files(repo_dir: str | Path, name: str) -> list[Path]:
    """The files ``get_model(name, repo=repo_dir)`` reads: the bag's YAML, if any, and its checkpoints.

    Used to fingerprint what was loaded. A signature resolves to ``<sig>.th`` or ``<sig>-<hash>.th``.
    """
    repo = Path(repo_dir)

    def checkpoints(signature: str) -> list[Path]:
        return sorted(
            p
            for p in repo.glob(f"{signature}*.th")
            if p.stem == signature or p.stem.startswith(f"{signature}-")
        )

    direct = checkpoints(name)
    if direct:
        return direct
    bag = repo / f"{name}.yaml"
    if not bag.is_file():
        return []
    import yaml

    signatures = yaml.safe_load(bag.read_text()).get("models", [])
    return [bag, *(path for signature in signatures for path in checkpoints(signature))]


def load_separator(repo_dir: str | Path, name: str):
    """A Demucs model (or bag of models) in eval mode, from ``repo_dir`` by ``name``.

    Raises FileNotFoundError when the directory or the model is missing, ValueError when the model
    has no speech ("vocals") stem. demucs-infer's own missing-directory path exits the process, so
    the directory is checked here first.
    """
    repo = Path(repo_dir)
    if not repo.is_dir():
        raise FileNotFoundError(f"Demucs checkpoint directory {repo} does not exist")
    from demucs_infer.pretrained import get_model
    from demucs_infer.repo import ModelLoadingError

    try:
        model = get_model(name, repo=repo)
    except ModelLoadingError as error:
        raise FileNotFoundError(f"No Demucs model {name!r} in {repo}: {error}") from error
    if SPEECH_SOURCE not in model.sources:
        raise ValueError(f"Demucs model {name!r} has no {SPEECH_SOURCE!r} stem (it has {model.sources})")
    return model.eval()


def separate(model, audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Split float32 ``audio`` (channels, n) into (speech, background), both (channels, n) at ``sample_rate``.

    The audio is resampled to the model's rate and back (julius, windowed sinc) and brought to the
    model's channel count (mono is duplicated; more than the model has are mixed down, and that
    speech is shared by every channel). Deterministic: no random time shifts. Cost: one Demucs pass
    over the clip in the model's training segments (7.8 s for htdemucs); HTDemucs took 2.3 s per 5 s
    of stereo on two idle cores (FACTS).
    """
    import julius
    import torch

    audio = np.ascontiguousarray(audio, dtype=np.float32)
    if audio.ndim != 2 or audio.shape[1] == 0:
        raise ValueError("audio must be a non-empty float array of shape (channels, samples)")
    channels, length = audio.shape
    wanted = model.audio_channels
    mix = torch.from_numpy(audio)
    if channels != wanted:
        mix = mix.mean(0, keepdim=True).expand(wanted, length)
    model_rate = int(model.samplerate)
    if sample_rate != model_rate:
        mix = julius.resample_frac(mix, sample_rate, model_rate)

    # Demucs was trained on mixtures normalised by the mono reference's mean and deviation.
    reference = mix.mean(0)
    mean, std = reference.mean(), reference.std()
    if not torch.isfinite(std) or float(std) < 1e-8:
        # Digital silence: nothing to separate, and normalising would divide by zero.
        return np.zeros_like(audio), audio.copy()
    from demucs_infer.apply import apply_model

    with torch.inference_mode():
        stems = apply_model(model, ((mix - mean) / std)[None], shifts=0, split=True, overlap=0.25)[0]
    speech = stems[model.sources.index(SPEECH_SOURCE)] * std + mean
    if sample_rate != model_rate:
        # full=True keeps the last partial sample; the line below trims to the exact length.
        speech = julius.resample_frac(speech, model_rate, sample_rate, full=True)
    speech = speech[:, :length]
    if speech.shape[1] < length:
        speech = torch.nn.functional.pad(speech, (0, length - speech.shape[1]))
    if channels != wanted:
        speech = speech.mean(0, keepdim=True).expand(channels, length)
    speech = speech.numpy().astype(np.float32)
    return speech, audio - speech
