"""Voice reference for LTX-2 (route 1 of cameo voice): the ID-LoRA mechanism on diffusers' pipeline.

ID-LoRA (arXiv 2603.10256; ComfyUI's ``LTXVReferenceAudio`` node) makes LTX-2 speak in the voice of
a ~5 s reference recording:

- the reference waveform becomes a log-mel spectrogram the way LTX-2's audio VAE was trained on it
  (16 kHz, 1024-point STFT, hop 160, Slaney mel filters, magnitude, natural log), is encoded by
  ``audio_vae.encode`` and normalised like every other audio latent;
- those clean reference tokens are put in front of the generated audio tokens, at negative temporal
  RoPE positions (ending one latent frame before t=0) and with timestep 0, and the transformer's
  outputs for them are dropped, so the voice is something the model attends to, not something it
  generates;
- an identity-guidance term, one extra transformer pass per step, is added after classifier-free
  guidance: ``out = pos + (g - 1)(pos - neg) + s (pos - pos_without_reference)`` (audio only);
- a rank-128 LoRA on the audio attention, feed-forward and audio/video cross-attention, trained for
  exactly this input, is what makes the model use the reference; :func:`load_id_lora` loads it.

diffusers 0.42.1 has no such input, but ``LTX2VideoTransformer3DModel.forward`` takes per-token
``audio_timestep`` and explicit ``audio_coords``, which is all the mechanism needs. So
:class:`LTX2ReferenceAudioPipeline` reuses the image-to-video pipeline's whole denoising loop and
only wraps the transformer's ``forward`` for the duration of a call.

This module imports torch and diffusers at the top: only the engine's worker code imports it, and
only when it loads a model (see ``generation/engine/pipeline.py``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from diffusers import LTX2ImageToVideoPipeline

# The adapter name the ID-LoRA is loaded under. The LoRA wraps the transformer that every pipeline
# of an engine shares (``from_pipe``), so it stays disabled except inside a reference call.
ID_LORA_ADAPTER = "id_lora"

# ComfyUI's and the ID-LoRA scripts' default identity-guidance scale.
DEFAULT_IDENTITY_GUIDANCE_SCALE = 3.0

# The sample rate callers hand the reference in (the cameo voice pipeline works at 16 kHz).
REFERENCE_SAMPLE_RATE = 16_000

# LTX-2's audio VAE config stores sample rate, hop and mel bins but not the FFT size; LTX-2's own
# audio processor (ltx_core, used by the ID-LoRA scripts) uses a 1024-point window.
MEL_N_FFT = 1024
MEL_LOG_FLOOR = 1e-5

# Shorter than this and the reference has no voice to speak of (and the centred STFT's reflection
# padding needs more than n_fft / 2 samples). ID-LoRA was trained on ~5 s.
MIN_REFERENCE_SECONDS = 0.5

# The sublayers of each transformer block that an ID-LoRA adapts: audio self- and text
# cross-attention, both audio/video cross-attentions (4 projections each) and the audio
# feed-forward (2 linears): 18 wrapped linears per block.
ID_LORA_ATTENTIONS = ("audio_attn1", "audio_attn2", "audio_to_video_attn", "video_to_audio_attn")
ID_LORA_PROJECTIONS = ("to_q", "to_k", "to_v", "to_out.0")
ID_LORA_FEED_FORWARD = ("audio_ff.net.0.proj", "audio_ff.net.2")


def id_lora_module_names(num_layers: int) -> list[str]:
    """Dotted names (diffusers and original LTX-2 spell them alike) of the linears an ID-LoRA adapts."""
    names = []
    for block in range(num_layers):
        prefix = f"transformer_blocks.{block}"
        names += [f"{prefix}.{attn}.{proj}" for attn in ID_LORA_ATTENTIONS for proj in ID_LORA_PROJECTIONS]
        names += [f"{prefix}.{ff}" for ff in ID_LORA_FEED_FORWARD]
    return names


def as_reference_waveform(audio, sample_rate: int = REFERENCE_SAMPLE_RATE) -> np.ndarray:
    """Check a reference recording and return it as a contiguous float32 mono array.

    Accepts a 1-D numpy array or tensor of samples in [-1, 1] (a ``(1, n)`` array is taken as mono).
    Raises ``ValueError`` for anything else: several channels, an empty, too short or non-finite
    signal, or digital silence (which carries no voice and would only condition on silence).
    """
    if isinstance(audio, torch.Tensor):
        audio = audio.detach().float().cpu().numpy()
    waveform = np.asarray(audio, dtype=np.float32)
    if waveform.ndim == 2 and waveform.shape[0] == 1:
        waveform = waveform[0]
    if waveform.ndim != 1:
        raise ValueError(f"the reference voice must be mono samples, got shape {waveform.shape}")
    if waveform.size < MIN_REFERENCE_SECONDS * sample_rate:
        raise ValueError(f"the reference voice must be at least {MIN_REFERENCE_SECONDS} s long")
    if not np.all(np.isfinite(waveform)):
        raise ValueError("the reference voice contains NaN or infinite samples")
    if not np.any(waveform):
        raise ValueError("the reference voice is silent")
    return np.ascontiguousarray(waveform)


def slaney_mel_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """Triangular mel filters (n_mels, n_fft // 2 + 1), Slaney scale and area normalisation.

    The same filters as ``librosa.filters.mel(htk=False, norm="slaney")`` and torchaudio's
    ``MelSpectrogram(mel_scale="slaney", norm="slaney")``, which LTX-2's audio processor uses;
    built here because torchaudio isn't installed.
    """
    f_sp = 200.0 / 3  # Hz per mel below 1 kHz (linear part)
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0  # log-spaced above 1 kHz

    def hz_to_mel(hz: np.ndarray) -> np.ndarray:
        hz = np.asarray(hz, dtype=np.float64)
        linear = hz / f_sp
        return np.where(
            hz >= min_log_hz, min_log_mel + np.log(np.maximum(hz, 1e-10) / min_log_hz) / logstep, linear
        )

    def mel_to_hz(mel: np.ndarray) -> np.ndarray:
        return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), f_sp * mel)

    fft_freqs = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    mel_points = np.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2.0), n_mels + 2)
    hz_points = mel_to_hz(mel_points)
    spacing = np.diff(hz_points)
    ramps = hz_points[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / spacing[:-1, None]
    upper = ramps[2:] / spacing[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (hz_points[2:] - hz_points[:-2]))[:, None]
    return weights.astype(np.float32)


def log_mel_spectrogram(
    waveform: torch.Tensor, sample_rate: int, n_mels: int, hop_length: int, n_fft: int = MEL_N_FFT
) -> torch.Tensor:
    """(batch, channels, samples) -> log-mel (batch, channels, frames, n_mels), LTX-2's recipe.

    Magnitude (power 1) of a centred, reflection-padded, periodic-Hann STFT, Slaney mel filters,
    natural log floored at 1e-5; ``frames = samples // hop_length + 1``.
    """
    batch, channels, samples = waveform.shape
    flat = waveform.reshape(batch * channels, samples).float()
    spectrum = torch.stft(
        flat,
        n_fft=n_fft,
        hop_length=hop_length,
        win_length=n_fft,
        window=torch.hann_window(n_fft, periodic=True, device=flat.device),
        center=True,
        pad_mode="reflect",
        return_complex=True,
    ).abs()  # (batch * channels, n_fft // 2 + 1, frames)
    filters = torch.from_numpy(slaney_mel_filterbank(sample_rate, n_fft, n_mels)).to(flat.device)
    mel = torch.matmul(filters, spectrum)  # (batch * channels, n_mels, frames)
    mel = torch.log(torch.clamp(mel, min=MEL_LOG_FLOOR))
    return mel.reshape(batch, channels, n_mels, -1).transpose(2, 3).contiguous()


def count_id_lora_layers(module: torch.nn.Module, adapter: str = ID_LORA_ADAPTER) -> int:
    """How many linears inside ``module`` carry the ``adapter`` LoRA."""
    from peft.tuners.lora import LoraLayer

    return sum(1 for m in module.modules() if isinstance(m, LoraLayer) and adapter in m.lora_A)


def set_id_lora_enabled(pipe, enabled: bool) -> bool:
    """Turn the ID-LoRA on or off in every model of ``pipe`` that carries it; False if none does.

    A checkpoint may also hold LoRA weights for the text connectors, so both are covered.
    """
    found = False
    for model in (pipe.transformer, getattr(pipe, "connectors", None)):
        if model is not None and ID_LORA_ADAPTER in (getattr(model, "peft_config", None) or {}):
            if enabled:
                model.enable_adapters()
            else:
                model.disable_adapters()
            found = True
    return found


def load_id_lora(pipe, path: str | Path) -> int:
    """Load an ID-LoRA checkpoint into ``pipe``'s transformer and return how many linears it wraps.

    ``path`` is a safetensors file in the original LTX-2 key format (``diffusion_model.*``), as the
    ID-LoRA authors publish it; diffusers' LTX-2 LoRA loader converts the names. The adapter is
    left *disabled*: every pipeline made from ``pipe`` with ``from_pipe`` shares the transformer, and
    only :class:`LTX2ReferenceAudioPipeline` turns it on, for the duration of a call. Call once per
    process (at model load), not per job. Raises ``FileNotFoundError`` for a missing file and
    ``ValueError`` when no layer of the transformer matches (not an LTX-2 audio LoRA).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ID-LoRA checkpoint not found: {path}")
    try:
        pipe.load_lora_weights(str(path), adapter_name=ID_LORA_ADAPTER)
    except ValueError as exc:  # peft's and diffusers' "no such module" / "not a LoRA" errors
        raise ValueError(f"{path.name} is not an LTX-2 ID-LoRA for this model: {exc}") from exc
    wrapped = count_id_lora_layers(pipe.transformer)
    if wrapped == 0:
        pipe.delete_adapters(ID_LORA_ADAPTER)
        raise ValueError(f"{path.name} adapts no layer of this LTX-2 transformer; is it an ID-LoRA?")
    set_id_lora_enabled(pipe, False)
    return wrapped


class LTX2ReferenceAudioPipeline(LTX2ImageToVideoPipeline):
    """LTX-2 image-to-video whose generated voice follows a reference recording (ID-LoRA).

    Call it like :class:`~diffusers.LTX2ImageToVideoPipeline` with two more keyword arguments:

    - ``reference_audio``: the voice to follow, mono float32 samples at ``reference_sample_rate``
      (16 kHz by default; numpy array or tensor, ~5 s as in ID-LoRA's training). ``None`` runs the
      plain image-to-video pipeline (ID-LoRA off).
    - ``identity_guidance_scale`` (``s``): strength of the identity-guidance term. ``0`` skips
      that extra pass entirely; the reference tokens still condition the model.

    Contract: same arguments, seed and reference give the same output (bit-identical on CPU). The
    reference is encoded once per call. Only the audio prediction gets the identity term; the video
    sees the reference only through the model's audio-to-video attention. The identity term is
    added to every transformer output of a step (CFG halves and the STG/modality passes alike), so
    every guidance *difference* is unchanged and the combined prediction is exactly
    ``pos + cfg + stg + modality + s (pos - pos_without_reference)``; the one place that differs from
    ID-LoRA's loop (which has no rescale) is diffusers' guidance rescale, which then measures the
    positive prediction with the identity term included.

    Cost: the reference adds ~25 audio tokens per second of reference to every pass (small next to
    the video tokens) plus one audio VAE encode per call; with ``s > 0``, one extra transformer pass
    per step (positive prompt only, without the reference).

    An ID-LoRA loaded with :func:`load_id_lora` is enabled for the call and disabled again after it,
    even when the call fails. Not re-entrant: the transformer's ``forward`` is swapped for the call,
    so concurrent calls on pipelines sharing that transformer must be serialised (the engine's lock
    does that).
    """

    @torch.no_grad()
    def __call__(
        self,
        *args,
        reference_audio=None,
        identity_guidance_scale: float = DEFAULT_IDENTITY_GUIDANCE_SCALE,
        reference_sample_rate: int = REFERENCE_SAMPLE_RATE,
        **kwargs,
    ):
        if reference_audio is None:
            return super().__call__(*args, **kwargs)
        if identity_guidance_scale < 0:
            raise ValueError("identity_guidance_scale must be >= 0")
        waveform = as_reference_waveform(reference_audio, reference_sample_rate)
        tokens = self.encode_reference_audio(waveform, reference_sample_rate)
        coords = self.reference_audio_coords(tokens.shape[1], tokens.device)

        transformer = self.transformer
        had_own_forward = "forward" in vars(transformer)  # accelerate's offload hooks set one
        original_forward = transformer.forward
        wrapper = self._reference_forward(original_forward, tokens, coords, identity_guidance_scale)
        transformer.forward = wrapper
        has_lora = set_id_lora_enabled(self, True)
        try:
            return super().__call__(*args, **kwargs)
        finally:
            if has_lora:
                set_id_lora_enabled(self, False)
            # Restore only our own swap: if offload hooks were re-applied during the call, the
            # forward they installed is the right one to keep.
            if vars(transformer).get("forward") is wrapper:
                if had_own_forward:
                    transformer.forward = original_forward
                else:
                    del transformer.forward

    def encode_reference_audio(
        self, waveform: np.ndarray, sample_rate: int = REFERENCE_SAMPLE_RATE
    ) -> torch.Tensor:
        """Reference samples -> clean audio tokens (1, frames, features), packed and normalised.

        The mono signal is repeated to the VAE's input channels (LTX-2's VAE is stereo). Its latent
        is the posterior mean, as in ID-LoRA. Resamples with a polyphase filter when ``sample_rate``
        differs from the VAE's.
        """
        config = self.audio_vae.config
        if sample_rate != config.sample_rate:
            from math import gcd

            from scipy.signal import resample_poly

            common = gcd(sample_rate, config.sample_rate)
            waveform = resample_poly(waveform, config.sample_rate // common, sample_rate // common).astype(
                np.float32
            )
        device = self._execution_device
        samples = torch.from_numpy(waveform).to(device)[None, None].expand(1, config.in_channels, -1)
        mel = log_mel_spectrogram(samples, config.sample_rate, config.mel_bins, config.mel_hop_length)
        latent = self.audio_vae.encode(mel.to(self.audio_vae.dtype)).latent_dist.mode()  # (1, C, T, M)
        tokens = self._pack_audio_latents(latent.float())
        tokens = self._normalize_audio_latents(
            tokens, self.audio_vae.latents_mean, self.audio_vae.latents_std
        )
        return tokens.to(self.transformer.dtype)

    def reference_audio_coords(self, num_tokens: int, device) -> torch.Tensor:
        """RoPE [start, end) times in seconds (1, 1, num_tokens, 2) for the reference tokens.

        The reference's own timeline shifted so that it ends one latent frame before t=0, as in
        ID-LoRA: the model reads it as audio heard just before the clip starts.
        """
        rope = self.transformer.audio_rope
        coords = rope.prepare_audio_coords(1, num_tokens, device)
        seconds_per_token = rope.hop_length * rope.scale_factors[0] / rope.sampling_rate
        return coords - coords[..., -1, 1].max() - seconds_per_token

    def _reference_forward(self, forward, tokens: torch.Tensor, coords: torch.Tensor, scale: float):
        """The transformer forward used during a reference call (see the class docstring)."""
        reference_length = tokens.shape[1]
        state: dict[str, torch.Tensor | None] = {"identity": None}

        def reference_forward(**kwargs):
            return_dict = kwargs.pop("return_dict", True)
            audio = kwargs["audio_hidden_states"]
            batch, length = audio.shape[:2]
            audio_timestep = kwargs["audio_timestep"]
            if audio_timestep.ndim == 1:
                audio_timestep = audio_timestep[:, None].expand(batch, length)
            audio_coords = kwargs.get("audio_coords")
            if audio_coords is None:
                audio_coords = self.transformer.audio_rope.prepare_audio_coords(batch, length, audio.device)

            with_reference = dict(
                kwargs,
                audio_hidden_states=torch.cat([tokens.to(audio.dtype).expand(batch, -1, -1), audio], dim=1),
                # Timestep 0: the reference is clean and stays clean.
                audio_timestep=torch.cat(
                    [audio_timestep.new_zeros(batch, reference_length), audio_timestep], dim=1
                ),
                audio_coords=torch.cat(
                    [coords.to(audio_coords).expand(batch, -1, -1, -1), audio_coords], dim=2
                ),
                audio_num_frames=reference_length + length,
            )
            video_out, audio_out = forward(**with_reference, return_dict=False)
            audio_out = audio_out[:, reference_length:]

            # The loop calls the plain [negative, positive] (or positive-only) pass first in every
            # step, then the STG and modality-isolation passes; the identity term is measured on the
            # first and added to all of them.
            main_pass = not kwargs.get("isolate_modalities") and not kwargs.get(
                "spatio_temporal_guidance_blocks"
            )
            if main_pass and scale > 0:
                positive = batch // 2 if self.do_classifier_free_guidance else 0
                without_reference = {
                    key: value[positive:]
                    if torch.is_tensor(value) and value.ndim and value.shape[0] == batch
                    else value
                    for key, value in kwargs.items()
                }
                _, audio_without_reference = forward(**without_reference, return_dict=False)
                state["identity"] = scale * (audio_out[positive:] - audio_without_reference)
            identity = state["identity"]
            if scale > 0 and identity is not None and batch % identity.shape[0] == 0:
                audio_out = audio_out + identity.repeat(batch // identity.shape[0], 1, 1)

            if not return_dict:
                return video_out, audio_out
            from diffusers.models.transformers.transformer_ltx2 import AudioVisualModelOutput

            return AudioVisualModelOutput(sample=video_out, audio_sample=audio_out)

        return reference_forward
