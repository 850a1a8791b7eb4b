"""The moving visible watermark: site mark + creator's @handle, blended into YUV 4:2:0 planes.

The mark is rendered once per export with Pillow (white glyphs with a dark outline, so it reads
on any background) and blended with integer numpy arithmetic straight into the decoded Y, U and V
planes: an RGB round trip per frame would cost more than the blend itself.

It jumps to a new place at keyed, irregular times, MIN_INTERVAL-MAX_INTERVAL seconds apart (so
at least once a second, and before the end of a 1 s clip), between spots along the frame's edge
(corners and edge middles, nudged by a keyed offset). Spots and times come from a random
generator seeded by a per-export key, so a viewer who has watched one export cannot predict where
the mark will be in another, nor where it goes next; a crop of one side or corner leaves it
visible most of the time, and a crop that follows it would have to jump with it.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# Spots as (x, y) fractions of the free room: the four corners and the four edge middles.
SPOTS = ((0, 0), (0.5, 0), (1, 0), (0, 0.5), (1, 0.5), (0, 1), (0.5, 1), (1, 1))
MIN_INTERVAL, MAX_INTERVAL = 0.4, 0.9  # seconds between moves
DEFAULT_OPACITY = 0.6


@dataclass(frozen=True)
class MarkPlanes:
    """A mark in blend-ready form: 8.8 fixed-point alpha and premultiplied luma (full-size, even
    height and width) plus the same for the half-resolution chroma planes, whose target value
    is neutral grey (the mark is achromatic)."""

    alpha_y: np.ndarray  # uint16 (h, w), 0..256
    premul_y: np.ndarray  # uint16 (h, w), alpha * Y
    alpha_c: np.ndarray  # uint16 (h/2, w/2)
    premul_c: np.ndarray  # uint16 (h/2, w/2), alpha * 128

    @property
    def height(self) -> int:
        return self.alpha_y.shape[0]

    @property
    def width(self) -> int:
        return self.alpha_y.shape[1]


def render_mark(site_name: str, handle: str, frame_size: int) -> Image.Image:
    """Render the RGBA mark (a play-button glyph, the site name and `@handle`) sized for a
    frame whose short side is `frame_size` pixels: about 9% of it tall."""
    handle = handle if handle.startswith("@") else f"@{handle}"
    site = _site_part(site_name, frame_size)
    big, small, stroke, gap = _metrics(frame_size)
    font_small = _font(small)
    text_width = max(site.text_width, font_small.getbbox(handle, stroke_width=stroke)[2])
    image = Image.new(
        "RGBA", (site.image.width - site.text_width + text_width, site.image.height), (0, 0, 0, 0)
    )
    image.paste(site.image, (0, 0))
    ImageDraw.Draw(image).text(
        (site.text_x, stroke + big + gap // 2),
        handle,
        font=font_small,
        fill="white",
        stroke_width=stroke,
        stroke_fill="black",
    )
    return image


def _metrics(frame_size: int) -> tuple[int, int, int, int]:
    """(site name font size, handle font size, outline width, gap) for this short side."""
    big = max(10, round(frame_size * 0.038))
    return big, max(8, round(frame_size * 0.028)), max(1, round(frame_size / 360)), max(2, big // 3)


@functools.lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


@dataclass(frozen=True)
class _SitePart:
    image: Image.Image  # the glyph and the site name, as wide as they are
    text_x: int  # where the text column starts
    text_width: int  # the site name's width


@functools.lru_cache(maxsize=16)
def _site_part(site_name: str, frame_size: int) -> _SitePart:
    """The part of the mark that is the same in every export of this size (~1 ms to draw, about
    half the mark): only the handle is drawn per export, over a copy of it."""
    big, small, stroke, gap = _metrics(frame_size)
    glyph = round(big * 1.7)
    text_w = _font(big).getbbox(site_name, stroke_width=stroke)[2]
    x = stroke + glyph + gap
    height = max(glyph, big + small + gap) + 2 * stroke
    image = Image.new("RGBA", (x + text_w + stroke, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    top = (height - glyph) // 2
    draw.rounded_rectangle(
        (stroke, top, stroke + glyph, top + glyph),
        radius=glyph // 4,
        fill=(255, 255, 255, 255),
        outline=(0, 0, 0, 255),
        width=stroke,
    )
    inset = glyph // 4
    draw.polygon(
        [
            (stroke + inset * 1.3, top + inset),
            (stroke + inset * 1.3, top + glyph - inset),
            (stroke + glyph - inset, top + glyph / 2),
        ],
        fill=(0, 0, 0, 255),
    )
    draw.text((x, stroke), site_name, font=_font(big), fill="white", stroke_width=stroke, stroke_fill="black")
    return _SitePart(image, x, text_w)


def mark_planes(mark: Image.Image, opacity: float = DEFAULT_OPACITY) -> MarkPlanes:
    """Convert an RGBA mark to `MarkPlanes` (video-range BT.709 luma, neutral chroma)."""
    rgba = np.asarray(mark.convert("RGBA"), dtype=np.float32)
    h, w = rgba.shape[0] // 2 * 2, rgba.shape[1] // 2 * 2
    rgba = rgba[:h, :w]
    alpha = rgba[..., 3] / 255.0 * opacity
    luma = rgba[..., :3] @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    y = 16 + luma * (219 / 255)
    alpha_y = np.rint(alpha * 256).astype(np.uint16)
    alpha_c = np.rint(alpha.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3)) * 256).astype(np.uint16)
    return MarkPlanes(
        alpha_y=alpha_y,
        premul_y=np.rint(alpha * 256 * y).astype(np.uint16),
        alpha_c=alpha_c,
        premul_c=alpha_c * 128,
    )


def watermark_key(secret: bytes, tracking_id: int) -> bytes:
    """The per-export key of the mark's path: secret, so paths can't be predicted from ids."""
    return hashlib.blake2b(tracking_id.to_bytes(8, "big"), key=secret[:64], person=b"wm-path").digest()


class MovingWatermark:
    """Blends a mark into yuv420p frames of a fixed size, at a keyed spot chosen by time.

    Not thread-safe (keeps scratch buffers). Cost: ~0.2 ms per 720p frame.
    """

    def __init__(
        self,
        site_name: str,
        handle: str,
        width: int,
        height: int,
        *,
        key: bytes = b"",
        opacity: float = DEFAULT_OPACITY,
    ):
        self.width, self.height = width, height
        # Sized by the short side, so vertical video gets the same mark as landscape video of
        # that resolution rather than one spanning its whole width.
        mark = render_mark(site_name, handle, min(width, height))
        if mark.width > width * 0.9:
            # Long handles on narrow (portrait) videos: shrink rather than overflow the frame.
            scale = width * 0.9 / mark.width
            mark = mark.resize((max(2, int(mark.width * scale)), max(2, int(mark.height * scale))))
        self.planes = mark_planes(mark, opacity)
        p = self.planes
        # The blend's constant terms, once: (256 - alpha) and alpha * mark + 128 (rounding).
        self._luma = (256 - p.alpha_y, p.premul_y + 128)
        self._chroma = (256 - p.alpha_c, p.premul_c + 128)
        margin = max(2, round(min(width, height) * 0.03)) // 2 * 2
        self._room = (
            max(0, width - self.planes.width - 2 * margin),
            max(0, height - self.planes.height - 2 * margin),
        )
        self._margin = margin
        self._rng = np.random.default_rng(
            int.from_bytes(hashlib.blake2b(key, person=b"wm-rng").digest()[:16], "big")
        )
        # (start time, spot index, x, y) of every placement so far, extended on demand.
        self._moves: list[tuple[float, int, int, int]] = []
        self._place(0.0)

    def _place(self, start: float) -> None:
        previous = self._moves[-1][1] if self._moves else -1
        spot = int(self._rng.integers(len(SPOTS) - (previous >= 0)))
        spot += previous >= 0 and spot >= previous  # never the spot it is leaving
        # Up to a fifth of the free room of keyed nudge, kept inside the frame.
        nudge = self._rng.uniform(-0.1, 0.1, 2)
        fx, fy = np.clip(np.array(SPOTS[spot]) + nudge, 0.0, 1.0)
        x = (self._margin + round(fx * self._room[0])) // 2 * 2
        y = (self._margin + round(fy * self._room[1])) // 2 * 2
        self._moves.append((start, spot, x, y))

    def moves_until(self, seconds: float) -> list[float]:
        """Times (after 0) at which the mark jumps, up to `seconds`."""
        self._extend(seconds)
        return [start for start, *_ in self._moves[1:] if start <= seconds]

    def _extend(self, seconds: float) -> None:
        while self._moves[-1][0] <= seconds:
            self._place(self._moves[-1][0] + float(self._rng.uniform(MIN_INTERVAL, MAX_INTERVAL)))

    def box_at(self, seconds: float) -> tuple[int, int, int, int]:
        """(x, y, width, height) of the mark in luma pixels at time `seconds`."""
        seconds = max(seconds, 0.0)
        self._extend(seconds)
        for start, _, x, y in reversed(self._moves):
            if start <= seconds:
                return x, y, self.planes.width, self.planes.height
        raise AssertionError("the first placement starts at 0")

    def apply(self, yuv: np.ndarray, seconds: float) -> None:
        """Blend the mark in place into `yuv`, a (H*3/2, W) uint8 yuv420p array as produced by
        `av.VideoFrame.to_ndarray()`."""
        h, w = self.height, self.width
        if yuv.shape != (h * 3 // 2, w) or not yuv.flags.c_contiguous:
            raise ValueError(f"expected a contiguous ({h * 3 // 2}, {w}) yuv420p array, got {yuv.shape}")
        x, y, mw, mh = self.box_at(seconds)
        _blend(yuv[y : y + mh, x : x + mw], *self._luma)
        # U and V at once: the same box of both chroma planes.
        chroma = yuv[h:].reshape(2, h // 2, w // 2)
        _blend(chroma[:, y // 2 : (y + mh) // 2, x // 2 : (x + mw) // 2], *self._chroma)


def _blend(region: np.ndarray, inverse_alpha: np.ndarray, premul_rounded: np.ndarray) -> None:
    # out = (src * (256 - a) + a * mark + 128) / 256, rounded down. A convex combination scaled
    # by 256 stays below 255 * 256 + 128, so uint16 cannot overflow.
    mixed = region * inverse_alpha
    mixed += premul_rounded
    mixed >>= 8
    region[...] = mixed
