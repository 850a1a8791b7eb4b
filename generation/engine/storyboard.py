"""A storyboard rendered in one pass: every shot's prompt in one text sequence, one joint denoising.

The video and audio tokens of shot k attend (in the transformer's text cross-attention) to shot k's
prompt tokens only; self-attention and the audio-video cross-attention stay unmasked, so identity,
light and sound carry across the cuts. The shot a token belongs to comes from its time coordinate,
the same coordinate its RoPE is computed from, so the mask is right for any pipeline (text-, image-
or frame-conditioned) that calls the transformer with ``video_coords`` and ``audio_coords``.

How it is wired into an unmodified diffusers pipeline, for the duration of one call
(:func:`storyboard_attention`):

* prompts are encoded per shot, each padded to the same length ``L``, and concatenated along the
  text axis (``prompt_embeds`` of ``K*L`` tokens);
* the text connectors run per shot (:class:`ShotConnectors`): they normalise over, and
  self-attend across, their whole input, which would otherwise blend the prompts together;
* a forward pre-hook on the transformer turns the connectors' (B, K*L) padding mask into additive
  per-token masks (B, 1, T, K*L) for video and audio from the call's coordinates;
* :class:`ShotCrossAttnProcessor` on every text cross-attention broadcasts that mask over heads
  (the stock processor would copy it once per head: 32 copies at full size).

Imports torch and diffusers: only the engine imports this module, inside a worker.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import torch
from diffusers.models.attention_dispatch import dispatch_attention_fn
from diffusers.models.transformers.transformer_ltx2 import (
    LTX2AudioVideoAttnProcessor,
    apply_interleaved_rotary_emb,
    apply_split_rotary_emb,
)

# Additive bias for masked keys: large enough that softmax gives them no weight in bf16 and fp32,
# small enough that adding two of them (padding + other shot) stays finite.
MASKED = -10000.0


def shot_of_times(times: torch.Tensor, ends: Sequence[float]) -> torch.Tensor:
    """Shot index of each time (seconds): shot k covers [ends[k-1], ends[k]); the last shot runs on."""
    inner = torch.tensor(list(ends[:-1]), dtype=times.dtype, device=times.device)
    return torch.bucketize(times, inner, right=True)


def token_times(coords: torch.Tensor) -> torch.Tensor:
    """(B, N) midpoint time in seconds of each token from RoPE coords (B, axes, N, 2), time axis first."""
    return coords[:, 0].float().mean(dim=-1)


def shot_cross_attention_bias(
    coords: torch.Tensor,
    ends: Sequence[float],
    text_mask: torch.Tensor,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Additive cross-attention mask (B, 1, N, K*L): 0 where token n may attend text token j.

    ``coords`` are the tokens' RoPE coordinates (time in seconds on axis 0), ``ends`` the shots'
    cumulative end times, ``text_mask`` the (B, K*L) padding mask (1 = a real token) of the shots'
    prompts concatenated, each ``L`` long. Token n may attend text token j when j belongs to the
    shot of n's time and is not padding.
    """
    shots = len(ends)
    batch, text_len = text_mask.shape
    if text_len % shots:
        raise ValueError(f"text length {text_len} is not {shots} prompts of equal length")
    per_shot = text_len // shots
    query_shot = shot_of_times(token_times(coords), ends)  # (B, N)
    key_shot = torch.arange(text_len, device=text_mask.device) // per_shot  # (K*L,)
    allowed = (query_shot[:, :, None] == key_shot[None, None, :]) & text_mask.bool()[:, None, :]
    bias = torch.zeros(allowed.shape, dtype=dtype, device=text_mask.device)
    bias.masked_fill_(~allowed, MASKED)
    return bias.unsqueeze(1)


class ShotCrossAttnProcessor(LTX2AudioVideoAttnProcessor):
    """LTX-2's attention processor, taking a (B, 1, Tq, Tk) additive mask broadcast over heads.

    Other masks go to the stock processor unchanged. The body follows
    ``LTX2AudioVideoAttnProcessor.__call__`` of diffusers 0.42.1 except for the mask handling.
    """

    def __call__(
        self,
        attn,
        hidden_states,
        encoder_hidden_states=None,
        attention_mask=None,
        query_rotary_emb=None,
        key_rotary_emb=None,
    ):
        if attention_mask is None or attention_mask.ndim != 4:
            return super().__call__(
                attn, hidden_states, encoder_hidden_states, attention_mask, query_rotary_emb, key_rotary_emb
            )
        if encoder_hidden_states is None:
            encoder_hidden_states = hidden_states
        gate_logits = attn.to_gate_logits(hidden_states) if attn.to_gate_logits is not None else None
        query = attn.norm_q(attn.to_q(hidden_states))
        key = attn.norm_k(attn.to_k(encoder_hidden_states))
        value = attn.to_v(encoder_hidden_states)
        if query_rotary_emb is not None:
            apply = (
                apply_interleaved_rotary_emb if attn.rope_type == "interleaved" else apply_split_rotary_emb
            )
            query = apply(query, query_rotary_emb)
            key = apply(key, key_rotary_emb if key_rotary_emb is not None else query_rotary_emb)
        query = query.unflatten(2, (attn.heads, -1))
        key = key.unflatten(2, (attn.heads, -1))
        value = value.unflatten(2, (attn.heads, -1))
        hidden_states = dispatch_attention_fn(
            query,
            key,
            value,
            attn_mask=attention_mask.to(query.dtype),
            dropout_p=0.0,
            is_causal=False,
            backend=self._attention_backend,
            parallel_config=self._parallel_config,
        )
        hidden_states = hidden_states.flatten(2, 3).to(query.dtype)
        if gate_logits is not None:
            gates = 2.0 * torch.sigmoid(gate_logits)  # as diffusers: zero logits give gates of 1
            hidden_states = (hidden_states.unflatten(2, (attn.heads, -1)) * gates.unsqueeze(-1)).flatten(2, 3)
        hidden_states = attn.to_out[0](hidden_states)
        return attn.to_out[1](hidden_states)


class ShotConnectors(torch.nn.Module):
    """The pipeline's text connectors run on each shot's prompt alone, outputs concatenated."""

    def __init__(self, connectors: torch.nn.Module, shots: int):
        super().__init__()
        self.inner = connectors
        self.shots = shots

    @property
    def config(self):
        return self.inner.config

    @property
    def dtype(self):
        return self.inner.dtype

    @property
    def device(self):
        return self.inner.device

    def forward(self, hidden_states, attention_mask, *args, **kwargs):
        parts = [
            self.inner(states, mask, *args, **kwargs)
            for states, mask in zip(
                hidden_states.chunk(self.shots, dim=1), attention_mask.chunk(self.shots, dim=1), strict=True
            )
        ]
        return tuple(torch.cat(outputs, dim=1) for outputs in zip(*parts, strict=True))


def _mask_hook(ends: Sequence[float]):
    def hook(module, args, kwargs):
        text_mask = kwargs.get("encoder_attention_mask")
        if text_mask is None or text_mask.ndim != 2:
            return None
        dtype = kwargs["hidden_states"].dtype
        kwargs["encoder_attention_mask"] = shot_cross_attention_bias(
            kwargs["video_coords"], ends, text_mask, dtype
        )
        kwargs["audio_encoder_attention_mask"] = shot_cross_attention_bias(
            kwargs["audio_coords"], ends, text_mask, dtype
        )
        return args, kwargs

    return hook


@contextlib.contextmanager
def storyboard_attention(pipe, ends: Sequence[float]):
    """Within the block, ``pipe`` renders a storyboard whose shots end at ``ends`` (seconds).

    The caller passes the shots' prompts as ``prompt_embeds`` concatenated along the text axis (see
    :func:`encode_shots`). Everything is restored on exit, also after an exception.
    """
    transformer = pipe.transformer
    cross = [
        module for block in transformer.transformer_blocks for module in (block.attn2, block.audio_attn2)
    ]
    saved = [module.processor for module in cross]
    connectors = pipe.connectors
    processor = ShotCrossAttnProcessor()
    for module in cross:
        module.set_processor(processor)
    # Plain attribute swap, not pipe.register_modules: the pipeline's config keeps naming the real
    # connectors, so save_pretrained and from_pipe never see the wrapper.
    object.__setattr__(pipe, "connectors", ShotConnectors(connectors, len(ends)))
    handle = transformer.register_forward_pre_hook(_mask_hook(ends), with_kwargs=True)
    try:
        yield
    finally:
        handle.remove()
        object.__setattr__(pipe, "connectors", connectors)
        for module, original in zip(cross, saved, strict=True):
            module.set_processor(original)


def encode_shots(
    pipe, prompts: Sequence[str], negative_prompt: str, guidance: bool, max_sequence_length: int
):
    """Pipeline keyword arguments carrying every shot's prompt (and negative prompt) in one sequence.

    Each prompt is padded to ``max_sequence_length`` so shot k's tokens are the k-th block of the
    sequence; the negative prompt is repeated per shot, so unconditional tokens line up the same way.
    """
    device = pipe._execution_device
    with torch.no_grad():
        embeds, mask, negative, negative_mask = pipe.encode_prompt(
            prompt=list(prompts),
            negative_prompt=[negative_prompt] * len(prompts) if guidance else None,
            do_classifier_free_guidance=guidance,
            max_sequence_length=max_sequence_length,
            device=device,
        )

    def joined(tensor):
        return tensor.reshape(1, -1, *tensor.shape[2:])

    kwargs = {"prompt_embeds": joined(embeds), "prompt_attention_mask": joined(mask)}
    if guidance:
        kwargs["negative_prompt_embeds"] = joined(negative)
        kwargs["negative_prompt_attention_mask"] = joined(negative_mask)
    return kwargs


def frame_cuts(
    transformer, num_frames: int, fps: float, ends: Sequence[float], temporal_ratio: int = 8
) -> list[int]:
    """First output frame of each shot after the first, as the mask assigns latent frames to shots.

    A latent frame spans several output frames, so a cut lands on the first latent frame whose
    middle falls in the next shot: at most a few frames from the exact shot boundary.
    """
    latent_frames = (num_frames - 1) // temporal_ratio + 1
    coords = transformer.rope.prepare_video_coords(1, latent_frames, 1, 1, torch.device("cpu"), fps=fps)
    shots = shot_of_times(token_times(coords), ends)[0].tolist()
    starts = (coords[0, 0, :, 0] * fps).round().long().tolist()
    return [starts[shots.index(k)] for k in range(1, len(ends)) if k in shots]
