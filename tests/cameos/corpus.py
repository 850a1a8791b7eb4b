"""A liveness corpus: honest recordings of many kinds and the attacks the check must refuse.

Each ``Case`` describes one recording and the challenge it is checked against; ``make_case``
writes it as a real WebM (VP8 + Opus, no duration header, like Chrome's MediaRecorder) or MP4
(H.264 + AAC, like Safari). ``honest_cases`` and ``attack_cases`` build the corpus from a seed,
so the bench (``bench/liveness_corpus.py``) and the test slice (``tests/cameos/test_corpus.py``)
see the same recordings.

Honest recordings vary what the check must not depend on: the face (tone, light, contrast, a
mirrored portrait whose asymmetries point the other way), its size in the frame (a head ~160 px
or ~240 px wide), a resting pose a little off-camera, turn amplitudes from 15° to 40° on each
side independently, turns during or after the speech, flite and espeak-ng voices at several
speaking rates, room noise with mains hum, 24-30 fps, WebM and MP4.

Attacks, each with the check meant to catch it (``Case.expected``):
- ``still_photo``, ``photo_slid``, ``photo_tilted``, ``photo_turned``: a printed portrait held in
  front of the camera (still, slid sideways, tilted, or turned about its vertical axis with
  enough perspective that the nose moves between the eyes like a real turn): ``flat``.
- ``wrong_digits``: a live head saying other numbers: ``digits``.
- ``silence``: a live head that says nothing: ``speech``.
- ``no_face``: an empty room with the numbers said off-camera: ``face``.
- ``replay``: an accepted honest recording sent again for a new challenge: ``digits`` (the
  challenge's numbers are what bind a recording to one attempt; challenges are single-use).
- ``other_challenge``: a recording made for another challenge: ``digits``.

The head turn is a depth-map warp of the portrait (``media_factory.HeadWarp``): the nose moves
further than the eyes and the outline stays put, as with a real head; photos are homographies of
the flat picture. Cost: ~5-8 s of CPU per recording (most of it encoding 24-30 fps video).
"""

from __future__ import annotations

import functools
import math
import random
import subprocess
import tempfile
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

from cameos.liveness import Challenge
from tests import media_factory

WIDTH, HEIGHT, SAMPLE_RATE = 640, 480, 48_000
FLITE = ("rms", "slt", "awb", "kal16")
ESPEAK = ("en-us", "en-gb", "en-gb-scotland", "en-us+f3")
FACES = ("plain", "mirrored", "warm", "side_lit", "grey", "low_contrast")
ATTACKS = {
    "still_photo": "flat",
    "photo_slid": "flat",
    "photo_tilted": "flat",
    "photo_turned": "flat",
    "wrong_digits": "digits",
    "silence": "speech",
    "no_face": "face",
    "replay": "digits",
    "other_challenge": "digits",
}


@dataclass(frozen=True)
class Case:
    """One recording of the corpus and the challenge it is judged against."""

    name: str
    kind: str  # "honest" or one of ATTACKS
    challenge: Challenge  # what the site asked for
    said: str  # digits actually spoken ("" for silence)
    turned: tuple[str, ...]  # turns actually made (by the head or the photo)
    face: str = "plain"
    head_px: int = 240  # head width in the 640×480 frame
    yaw_deg: tuple[float, float] = (30.0, 30.0)  # peak turn to the person's left, to their right
    rest_deg: float = 0.0  # resting pose, a little off-camera
    voice: str = "flite:rms"
    rate: float = 1.0  # speaking speed, 1 = the voice's default
    container: str = "webm"
    fps: int = 30
    noise_db: float = -45.0  # room noise level, dBFS
    overlap: bool = True  # turning while speaking (else after)
    seed: int = 0
    source: str | None = None  # replay: the honest case whose file is sent again

    @property
    def expected(self) -> str | None:
        """The check meant to refuse this attack (None for honest recordings)."""
        return ATTACKS.get(self.kind)

    @property
    def suffix(self) -> str:
        return "mp4" if self.container == "mp4" else "webm"


# Speech ----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def speech(digits: str, voice: str, rate: float) -> np.ndarray:
    """``digits`` read by ``voice`` ("flite:rms", "espeak:en-gb") at ``rate``; mono float32, 48 kHz."""
    engine, name = voice.split(":", 1)
    text = media_factory.digits_text(digits)
    with tempfile.TemporaryDirectory() as tmp:
        raw, out = Path(tmp) / "raw.wav", Path(tmp) / "out.wav"
        if engine == "flite":
            cmd = [
                "flite",
                "-voice",
                name,
                "--setf",
                f"duration_stretch={1 / rate:.2f}",
                "-t",
                text,
                "-o",
                str(raw),
            ]
        else:
            cmd = ["espeak-ng", "-v", name, "-s", str(round(150 * rate)), "-w", str(raw), text]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)
        subprocess.run(
            ["sox", str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(out), "norm", "-3"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return media_factory.read_wav(out)[0]


def room_noise(n: int, level_db: float, rng: np.random.Generator) -> np.ndarray:
    """Brownish room noise plus a faint 50 Hz hum with harmonics, at ``level_db`` dBFS (RMS)."""
    from scipy.fft import irfft, next_fast_len, rfft, rfftfreq

    size = next_fast_len(n)
    spectrum = rfft(rng.normal(0, 1, size))
    spectrum /= np.sqrt(np.maximum(rfftfreq(size, 1 / SAMPLE_RATE), 50.0) / 50.0)  # 1/f: rooms rumble
    noise = irfft(spectrum, size)[:n]
    t = np.arange(n) / SAMPLE_RATE
    noise = noise / (np.std(noise) or 1.0)
    hum = 0.3 * (np.sin(2 * math.pi * 50 * t) + 0.5 * np.sin(2 * math.pi * 150 * t))
    return ((noise + hum) * 10 ** (level_db / 20)).astype(np.float32)


# Faces -----------------------------------------------------------------------------------------


@functools.cache
def _portrait(face: str) -> tuple[np.ndarray, tuple, np.ndarray]:
    """The sample portrait in one of FACES: (RGB, dlib face box, 5 landmarks) at full size."""
    rgb = np.asarray(media_factory.portrait_image()).astype(np.float32)
    geometry = media_factory._portrait_geometry()
    box, points = geometry["box"], geometry["points"].copy()
    h, w = rgb.shape[:2]
    if face == "mirrored":
        rgb = rgb[:, ::-1]
        left, top, right, bottom = box
        box = (w - 1 - right, top, w - 1 - left, bottom)
        points[:, 0] = w - 1 - points[:, 0]
        points = points[[2, 3, 0, 1, 4]]  # keep dlib's order: the picture's right eye first
    elif face == "warm":
        rgb = rgb * np.array([1.12, 0.92, 0.72], np.float32) * 0.8
    elif face == "side_lit":
        rgb = rgb * np.linspace(1.25, 0.45, w, dtype=np.float32)[None, :, None]
    elif face == "grey":
        rgb = np.repeat(rgb.mean(axis=2, keepdims=True), 3, axis=2)
    elif face == "low_contrast":
        rgb = 110 + (rgb - 110) * 0.55
    return np.clip(rgb, 0, 255).astype(np.uint8), box, points


@functools.lru_cache(maxsize=16)
def _head(face: str, head_px: int) -> tuple[media_factory.HeadWarp, tuple[float, float]]:
    """The portrait scaled to ``head_px``, ready to turn, and its face box centre."""
    rgb, box, points = _portrait(face)
    # The depth model's head is 1.24 face boxes wide: scale so it spans head_px.
    scale = head_px / (1.24 * (box[2] - box[0]))
    size = (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))
    image = np.asarray(Image.fromarray(rgb).resize(size, Image.LANCZOS))
    centre = ((box[0] + box[2]) / 2 * scale, (box[1] + box[3]) / 2 * scale)
    return media_factory.HeadWarp(image, [v * scale for v in box], points * scale), centre


def _wall(rng: np.random.Generator) -> np.ndarray:
    ramp = np.linspace(0.0, 1.0, HEIGHT, dtype=np.float32)[:, None, None]
    top = rng.uniform(150, 215, 3).astype(np.float32)
    bottom = top * rng.uniform(0.55, 0.8)
    wall = top + (bottom - top) * ramp
    # A door frame and a shelf: texture that moves with the camera, not with the head.
    wall[:, 40:52] *= 0.7
    wall[300:310, 440:620] *= 0.6
    return np.broadcast_to(wall, (HEIGHT, WIDTH, 3)).astype(np.uint8).copy()


def _card(image: np.ndarray, yaw: float, roll: float, shift: tuple[float, float], scale: float) -> np.ndarray:
    """3×3 homography: a flat picture turned by ``yaw`` about its vertical axis and ``roll`` in its
    plane, seen by a close camera (strong perspective, an attacker's best case), then moved."""
    h, w = image.shape[:2]
    distance = 1.6 * w  # the picture held close: its near edge looms (focal length = distance)
    f = distance
    cos_r, sin_r = math.cos(roll), math.sin(roll)
    corners = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]], np.float32)
    projected = []
    for x, y in corners:
        x, y = x * cos_r - y * sin_r, x * sin_r + y * cos_r
        xr, zr = x * math.cos(yaw), x * math.sin(yaw) + distance
        projected.append([scale * f * xr / zr + shift[0], scale * f * y / zr + shift[1]])
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    return cv2.getPerspectiveTransform(src, np.array(projected, np.float32))


# Timeline --------------------------------------------------------------------------------------


@dataclass
class _Plan:
    case: Case
    rng: np.random.Generator
    speech_start: float = 0.5
    speech: np.ndarray | None = None
    turns: list = field(default_factory=list)  # (start, ramp, hold, signed peak radians)
    duration: float = 0.0

    @classmethod
    def of(cls, case: Case) -> _Plan:
        rng = np.random.default_rng(case.seed)
        plan = cls(case, rng, speech_start=float(rng.uniform(0.3, 0.8)))
        if case.said:
            plan.speech = speech(case.said, case.voice, case.rate)
        spoken = len(plan.speech) / SAMPLE_RATE if plan.speech is not None else 2.2
        t = plan.speech_start + (float(rng.uniform(0.2, 0.6)) if case.overlap else spoken + 0.3)
        for turn in case.turned:
            ramp, hold = float(rng.uniform(0.3, 0.5)), float(rng.uniform(0.35, 0.7))
            peak = math.radians(case.yaw_deg[0] if turn == "left" else -case.yaw_deg[1])
            plan.turns.append((t, ramp, hold, peak))
            t += 2 * ramp + hold + float(rng.uniform(0.15, 0.4))
        plan.duration = max(t, plan.speech_start + spoken) + float(rng.uniform(0.5, 0.9))
        return plan

    def yaw(self, t: float) -> float:
        """Signed yaw at ``t``: positive is the person's own left."""
        for start, ramp, hold, peak in self.turns:
            if start <= t <= start + 2 * ramp + hold:
                rise = min(t - start, start + 2 * ramp + hold - t) / ramp
                # Smooth in and out, as a neck does.
                return peak * (0.5 - 0.5 * math.cos(math.pi * min(1.0, rise)))
        return 0.0


class _Scene:
    def __init__(self, case: Case):
        self.case = case
        self.plan = _Plan.of(case)
        self.rng = self.plan.rng
        self.wall = _wall(self.rng)
        self.sway = self.rng.uniform(0, 2 * math.pi, 4)
        self.noise = self.rng.normal(0, 2.0, (6, HEIGHT, WIDTH, 3)).round().astype(np.int16)
        self.offset = (float(self.rng.uniform(-40, 40)), float(self.rng.uniform(-15, 15)))
        if case.face:
            self.head, self.centre = _head(case.face, case.head_px)

    def frame(self, t: float) -> np.ndarray:
        case, canvas = self.case, self.wall.copy()
        a, b, c, d = self.sway
        dx = 3 * math.sin(2.1 * t + a) + self.offset[0]
        dy = 2 * math.sin(1.3 * t + b) + self.offset[1]
        if case.kind == "no_face":
            pass
        elif case.kind in ("still_photo", "photo_slid", "photo_tilted", "photo_turned"):
            canvas = self._photo(canvas, t, dx, dy)
        else:
            yaw = math.radians(case.rest_deg) + self.plan.yaw(t)
            head = self.head.render(yaw)
            self._paste(canvas, head, dx, dy)
        # Sensor noise, drawn from a small bank: fresh noise per frame costs more than the scene.
        noise = self.noise[self.rng.integers(len(self.noise))]
        return np.clip(canvas.astype(np.int16) + noise, 0, 255).astype(np.uint8)

    def _paste(self, canvas, head, dx, dy):
        h, w = head.shape[:2]
        # The face sits near the middle of the frame, a little above, as people frame themselves.
        x = round(WIDTH / 2 - self.centre[0] + dx)
        y = round(HEIGHT * 0.45 - self.centre[1] + dy)
        x0, y0, x1, y1 = max(0, x), max(0, y), min(WIDTH, x + w), min(HEIGHT, y + h)
        canvas[y0:y1, x0:x1] = head[y0 - y : y1 - y, x0 - x : x1 - x]

    def _photo(self, canvas, t, dx, dy):
        case, image = self.case, self.head.image
        motion = self.plan.yaw(t) / math.radians(30)  # -1..1 following the asked turns
        yaw = roll = 0.0
        slide = 0.0
        if case.kind == "still_photo":
            roll = math.radians(1.0) * math.sin(0.9 * t + self.sway[2])  # a hand is never quite still
        elif case.kind == "photo_slid":
            slide = 70 * motion
        elif case.kind == "photo_tilted":
            yaw, roll, slide = math.radians(25) * motion, math.radians(8) * motion, 30 * motion
        else:  # photo_turned: perspective strong enough to move the nose like a 30° turn
            yaw, slide = math.radians(66) * motion, 120 * motion
        h, w = image.shape[:2]
        # Picture centre such that the face lands where a live head's would.
        centre = (
            WIDTH / 2 + w / 2 - self.centre[0] + dx + slide,
            HEIGHT * 0.45 + h / 2 - self.centre[1] + dy,
        )
        matrix = _card(image, yaw, roll, centre, 1.0)
        warped = cv2.warpPerspective(
            image, matrix, (WIDTH, HEIGHT), borderMode=cv2.BORDER_TRANSPARENT, dst=canvas
        )
        return warped

    def audio(self) -> np.ndarray:
        n = round(self.plan.duration * SAMPLE_RATE)
        track = room_noise(n, self.case.noise_db, self.rng)
        if self.plan.speech is not None:
            start = round(self.plan.speech_start * SAMPLE_RATE)
            clip = self.plan.speech[: n - start] * float(self.rng.uniform(0.35, 0.8))
            track[start : start + len(clip)] += clip
        return np.clip(track, -1, 1)


def make_case(case: Case, folder) -> Path:
    """Write ``case``'s recording into ``folder`` and return its path (replays: see ``replay_of``)."""
    path = Path(folder) / f"{case.name}.{case.suffix}"
    scene = _Scene(case)
    if case.container == "mp4":
        fmt, vcodec, acodec, options = "mp4", "libx264", "aac", {"movflags": "+faststart"}
    else:
        fmt, vcodec, acodec, options = "webm", "libvpx", "libopus", {"live": "1"}
    with av.open(str(path), "w", format=fmt, options=options) as out:
        video = out.add_stream(vcodec, rate=case.fps)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.bit_rate = 1_200_000
        video.options = (
            {"deadline": "realtime", "cpu-used": "8"} if vcodec == "libvpx" else {"preset": "veryfast"}
        )
        audio = out.add_stream(acodec, rate=SAMPLE_RATE, layout="mono")
        for i in range(math.ceil(scene.plan.duration * case.fps)):
            frame = av.VideoFrame.from_ndarray(scene.frame(i / case.fps), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, case.fps)
            out.mux(video.encode(frame))
        out.mux(video.encode())
        samples = (scene.audio() * 32767).astype("<i2")
        for i in range(0, len(samples), 960):
            frame = av.AudioFrame.from_ndarray(samples[None, i : i + 960], format="s16", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = SAMPLE_RATE, i, Fraction(1, SAMPLE_RATE)
            out.mux(audio.encode(frame))
        out.mux(audio.encode())
    return path


# The corpus ------------------------------------------------------------------------------------


def _challenge(rng: random.Random) -> Challenge:
    from cameos.liveness import new_challenge

    return new_challenge(rng)


def _other_digits(digits: str, rng: random.Random, changes: int) -> str:
    out = list(digits)
    for i in rng.sample(range(len(out)), changes):
        out[i] = rng.choice([d for d in "0123456789" if d != out[i] and (i == 0 or d != out[i - 1])])
    return "".join(out)


def honest_cases(count: int = 40, seed: int = 17) -> list[Case]:
    """``count`` honest recordings covering the variations listed in the module docstring."""
    rng = random.Random(seed)
    amplitudes = [(30, 30), (15, 30), (30, 15), (20, 20), (40, 25), (25, 40), (18, 18), (35, 35)]
    voices = [f"flite:{v}" for v in FLITE] + [f"espeak:{v}" for v in ESPEAK]
    cases = []
    for i in range(count):
        challenge = _challenge(rng)
        cases.append(
            Case(
                name=f"honest_{i:02d}",
                kind="honest",
                challenge=challenge,
                said=challenge.digits,
                turned=challenge.turns,
                face=FACES[i % len(FACES)],
                head_px=(160, 240)[(i // 2) % 2],
                yaw_deg=amplitudes[i % len(amplitudes)],
                rest_deg=rng.uniform(-6, 6),
                voice=voices[i % len(voices)],
                rate=rng.choice((0.8, 1.0, 1.2)),
                container=("webm", "webm", "mp4")[i % 3],
                fps=rng.choice((24, 25, 30)),
                noise_db=rng.uniform(-55, -38),
                overlap=i % 4 != 3,
                seed=seed * 1000 + i,
            )
        )
    return cases


def attack_cases(honest: list[Case], per_kind: int = 3, seed: int = 29) -> list[Case]:
    """``per_kind`` attacks of each kind in ATTACKS, varied like the honest recordings."""
    rng = random.Random(seed)
    cases = []
    for kind in ATTACKS:
        for j in range(per_kind):
            base = honest[(len(cases) * 7 + j) % len(honest)]
            challenge = _challenge(rng)
            case = replace(
                base,
                name=f"{kind}_{j}",
                kind=kind,
                challenge=challenge,
                said=challenge.digits,
                turned=challenge.turns,
                yaw_deg=(30, 30),
                seed=seed * 1000 + len(cases),
            )
            if kind == "wrong_digits":
                case = replace(case, said=_other_digits(challenge.digits, rng, 1 + j % 2))
            elif kind == "silence":
                case = replace(case, said="")
            elif kind == "still_photo":
                case = replace(case, turned=())
            elif kind == "replay":
                # The file of an honest recording, judged against this new challenge.
                source = honest[j]
                case = replace(source, name=case.name, kind=kind, challenge=challenge, source=source.name)
            elif kind == "other_challenge":
                # Made, live, for the challenge someone else (or an earlier page) was shown.
                earlier = _challenge(rng)
                case = replace(case, said=earlier.digits, turned=earlier.turns)
            cases.append(case)
    return cases


def corpus(honest: int = 40, per_attack: int = 3) -> list[Case]:
    cases = honest_cases(honest)
    return cases + attack_cases(cases, per_attack)


def materialise(cases: list[Case], folder, made: dict | None = None) -> dict[str, Path]:
    """Write every case's file into ``folder``; returns name -> path. A replay's file is its
    source's file, byte for byte (the replay case renders the very same scene)."""
    made = {} if made is None else made
    for case in cases:
        if case.name in made:
            continue
        if case.source and case.source in made:
            made[case.name] = made[case.source]
        else:
            made[case.name] = make_case(case, folder)
    return made
