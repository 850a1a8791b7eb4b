"""From a pass's tensors to what a request returns: frames at output size, sound cut to length and
joined at cuts, and the preview JPEGs shown while denoising.

numpy and Pillow at import; torch only inside the functions that take tensors.
"""

from __future__ import annotations

import io
import time

import numpy as np
from PIL import Image, ImageOps

PREVIEW_MAX_SIDE = 256
# Fade applied on both sides of a storyboard cut. Each shot's audio is padded to its exact frame
# duration; without a fade the jump to that padding would click.
CUT_FADE_SECONDS = 0.005


def fit_image(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Centre-crop and scale ``image`` to exactly ``size`` (width, height) without distorting it."""
    return ImageOps.fit(ImageOps.exif_transpose(image).convert("RGB"), size, Image.Resampling.LANCZOS)


def jpeg(rgb: np.ndarray, max_side: int = PREVIEW_MAX_SIDE, quality: int = 70) -> bytes:
    image = Image.fromarray(rgb)
    image.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def fit_length(audio: np.ndarray, samples: int) -> np.ndarray:
    """Zero-pad or trim (channels, n) audio to exactly ``samples``."""
    if audio.shape[1] >= samples:
        return audio[:, :samples]
    return np.pad(audio, ((0, 0), (0, samples - audio.shape[1])))


def resample(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    """(channels, n) audio at ``rate`` -> at ``target`` by linear interpolation (same rate: as is).

    Only for a source file written at another rate than the model's; ours are written at its rate.
    """
    if rate == target:
        return audio.astype(np.float32, copy=False)
    count = round(audio.shape[1] * target / rate)
    positions = np.arange(count) * rate / target
    return np.stack([np.interp(positions, np.arange(audio.shape[1]), channel) for channel in audio]).astype(
        np.float32
    )


def join_with_fades(parts: list[np.ndarray], fade: int) -> np.ndarray:
    """Concatenate (channels, n) tracks, fading each side of every internal cut over ``fade`` samples."""
    if len(parts) == 1:
        return np.ascontiguousarray(parts[0], dtype=np.float32)
    parts = [part.astype(np.float32, copy=True) for part in parts]
    for number, part in enumerate(parts):
        length = min(fade, part.shape[1])
        if length == 0:
            continue
        ramp = np.linspace(0.0, 1.0, length, endpoint=False, dtype=np.float32)
        if number > 0:
            part[:, :length] *= ramp
        if number < len(parts) - 1:
            part[:, part.shape[1] - length :] *= ramp[::-1]
    return np.concatenate(parts, axis=1)


def finish_timings(timings: dict[str, float], started: float) -> None:
    """Add the totals every output reports: ``pipeline_s`` (denoise + decode) and ``total_s``."""
    timings["pipeline_s"] = timings.get("denoise_s", 0.0) + timings.get("decode_s", 0.0)
    timings["total_s"] = time.perf_counter() - started


def to_output_frames(video, out_width: int, out_height: int, chunk: int = 16) -> np.ndarray:
    """(T, 3, H, W) float [0, 1] on device -> uint8 (T, out_h, out_w, 3) numpy, scaling if needed.

    Scales on the device in chunks (bicubic, antialiased) so a 12 s 720p clip never needs the
    whole float video at output size at once.
    """
    import torch
    import torch.nn.functional as F

    total, _, height, width = video.shape
    result = np.empty((total, out_height, out_width, 3), dtype=np.uint8)
    for begin in range(0, total, chunk):
        part = video[begin : begin + chunk].float()
        if (height, width) != (out_height, out_width):
            part = F.interpolate(part, size=(out_height, out_width), mode="bicubic", antialias=True)
        part = part.mul(255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
        result[begin : begin + chunk] = part.cpu().numpy()
    return result


def last_frame_image(video) -> Image.Image:
    """The last frame of a (T, 3, H, W) float [0, 1] video on device, at its own size."""
    import torch

    last = video[-1].permute(1, 2, 0).mul(255).round().clamp(0, 255).to(torch.uint8).cpu().numpy()
    return Image.fromarray(last)


def preview_jpeg(pipe, latents, previous, i, latent_shape) -> bytes | None:
    """A ≤256 px JPEG of the current estimate of the clip's middle frame.

    The estimate is the model's clean-sample prediction, recovered from two consecutive
    flow-matching states (x0 = x_t - sigma_t * v with v = dx / dsigma), so it shows the scene
    early instead of noise. That one latent frame is decoded with the real VAE (a single
    latent frame decodes to a single image) and scaled down; on a GPU that costs a small
    fraction of one denoising step. Returns None on the first step of a multi-step run, where
    no earlier state exists yet. Runs inside the pipeline's ``no_grad`` context.
    """
    sigmas = pipe.scheduler.sigmas
    sigma_next = float(sigmas[i + 1])
    if sigma_next == 0.0:
        estimate = latents
    elif previous is None:
        return None
    else:
        velocity = (latents - previous) / (sigma_next - float(sigmas[i]))
        estimate = latents - sigma_next * velocity
    image = _decode_middle_frame(pipe, estimate, latent_shape)  # (3, H, W) in [-1, 1]
    rgb = ((image.float() + 1) * 127.5).round().clamp(0, 255).byte().permute(1, 2, 0).cpu().numpy()
    return jpeg(rgb)


def _decode_middle_frame(pipe, estimate, latent_shape):
    frames, height, width = latent_shape
    unpacked = pipe._unpack_latents(
        # Keyframe conditions (a retake's frames after its range) are extra tokens after the video's.
        estimate[:, : frames * height * width],
        frames,
        height,
        width,
        pipe.transformer_spatial_patch_size,
        pipe.transformer_temporal_patch_size,
    )
    middle = unpacked[:1, :, frames // 2 : frames // 2 + 1]
    middle = pipe._denormalize_latents(
        middle, pipe.vae.latents_mean, pipe.vae.latents_std, pipe.vae.config.scaling_factor
    ).to(pipe.vae.dtype)
    timestep = None
    if pipe.vae.config.timestep_conditioning:
        import torch

        timestep = torch.zeros(1, device=middle.device, dtype=middle.dtype)
    return pipe.vae.decode(middle, timestep, return_dict=False)[0][0, :, 0]
