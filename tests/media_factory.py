"""Real test media, made on the spot: portraits, spoken digits, liveness clips, fake camera files.

Every generator here writes genuine files (VP8/VP9 + Opus WebM, H.264 + AAC MP4, Y4M, WAV) from
material that ships with installed packages, so tests exercise the real decoders and models
instead of mocks. Nothing is downloaded.

- The face is matplotlib's ``grace_hopper.jpg`` sample (matplotlib is a test dependency), or any
  other portrait passed as ``portrait=`` (tests/data/astronaut_face.jpg is a second, different
  person: see ``ASTRONAUT_FACE``).
- Speech comes from Debian's ``flite`` (default; pocketsphinx decodes its digits far more reliably
  than espeak's) or ``espeak-ng``, resampled by ``sox``.
- A head turn is simulated by a depth-map warp of the portrait: the face is given a rounded depth
  with a raised nose ridge, and each pixel moves sideways in proportion to its depth. The nose
  therefore moves further than the eyes and the outline stays put, as with a real head; a flat
  photo (one homography for the whole picture) can be simulated with ``photo_attack=True``.

Cost: a 4-5 s 640×480 clip takes ~1-2 s to make on one core.
"""

from __future__ import annotations

import functools
import math
import random
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
FLITE_VOICES = ("rms", "slt", "awb", "kal", "kal16")

WIDTH, HEIGHT, FPS = 640, 480, 15
SAMPLE_RATE = 48_000

# Timeline of one turn: ramp out, hold, ramp back (seconds). Peak yaw 30 degrees: well past the
# detector's threshold and still inside what dlib's HOG detector finds.
TURN_RAMP, TURN_HOLD, TURN_GAP, TURN_YAW = 0.35, 0.5, 0.25, math.radians(30)


# A second real person for "two different faces" tests: a 256×256 crop around the face of NASA's
# public-domain portrait of astronaut Eileen Collins (STS-93, 1999), as shipped by scikit-image as
# ``skimage.data.astronaut()``; dlib finds one face in it.
ASTRONAUT_FACE = Path(__file__).parent / "data" / "astronaut_face.jpg"


def portrait_image(path=None) -> Image.Image:
    """A frontal RGB portrait of one real person: the image at ``path``, or by default Grace
    Hopper (512×600), shipped by matplotlib."""
    if path is not None:
        return Image.open(path).convert("RGB")
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "The test media need matplotlib for its sample portrait (grace_hopper.jpg); "
            "no other installed package ships a photo of a face."
        ) from exc
    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    return Image.open(path).convert("RGB")


def digits_text(digits: str) -> str:
    """'4719' -> 'four, seven, one, nine' (commas give the synthesiser short pauses)."""
    return ", ".join(DIGIT_WORDS[int(d)] for d in digits)


def speech_wav(text: str, path, voice: str = "rms", *, sample_rate: int = 16_000) -> Path:
    """Speak ``text`` into a mono 16-bit WAV at ``path``.

    ``voice`` is a flite voice (``rms``, ``slt``, ``awb``, ``kal``) or ``espeak:<voice>`` for
    espeak-ng (e.g. ``espeak:en-us``). Returns the path.
    """
    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        if voice.startswith("espeak:"):
            cmd = ["espeak-ng", "-v", voice.removeprefix("espeak:"), "-s", "140", "-w", str(raw), text]
        elif voice in FLITE_VOICES:
            cmd = ["flite", "-voice", voice, "-t", text, "-o", str(raw)]
        else:
            raise ValueError(f"unknown voice {voice!r}")
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)
        subprocess.run(
            ["sox", str(raw), "-r", str(sample_rate), "-c", "1", "-b", "16", str(path)],
            check=True,
            capture_output=True,
            timeout=60,
        )
    return path


def read_wav(path) -> tuple[np.ndarray, int]:
    """A 16-bit mono WAV as float32 samples in [-1, 1] and its sample rate."""
    with wave.open(str(path)) as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return data.astype(np.float32) / 32768.0, w.getframerate()


def speech_samples(text: str, voice: str = "rms", sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``text`` spoken as float32 mono samples at ``sample_rate``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = speech_wav(text, Path(tmp) / "speech.wav", voice, sample_rate=sample_rate)
        return read_wav(path)[0]


@functools.cache
def _portrait_geometry(path=None) -> dict:
    """Face box and 5-point landmarks of a portrait (default: the sample one), found once with dlib."""
    import importlib.util

    import dlib

    # Found by path: importing face_recognition_models drags in the deprecated pkg_resources.
    spec = importlib.util.find_spec("face_recognition_models")
    models = Path(spec.submodule_search_locations[0]) / "models"
    rgb = np.asarray(portrait_image(path))
    rect = dlib.get_frontal_face_detector()(rgb, 0)[0]
    shape = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))(rgb, rect)
    points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
    return {"box": (rect.left(), rect.top(), rect.right(), rect.bottom()), "points": points}


def _face_width(geometry: dict) -> int:
    left, _, right, _ = geometry["box"]
    return right - left


class HeadWarp:
    """Turns the portrait's head by a yaw angle with a depth-map warp (not a homography).

    Depth is a paraboloid over the head ellipse plus a Gaussian ridge along the nose; a pixel at
    depth z moves sideways by z·sin(yaw). Positive yaw is the person's own left, which is the
    camera's right in an unmirrored picture.
    """

    def __init__(self, image: np.ndarray, box, points: np.ndarray):
        self.image = image
        h, w = image.shape[:2]
        left, top, right, bottom = box
        face_w = right - left
        cx = (left + right) / 2
        cy = (top + bottom) / 2 - 0.08 * face_w
        rx, ry = 0.62 * face_w, 0.9 * face_w
        eye_y = float(points[:4, 1].mean())
        nose_x, nose_y = float(points[4, 0]), float(points[4, 1])
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        rho2 = ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2
        head = np.clip(1.0 - rho2, 0.0, None) * (0.6 * rx)
        ridge_y = (eye_y + nose_y) / 2
        ridge = (0.35 * rx) * np.exp(
            -((xs - nose_x) ** 2) / (2 * (0.12 * face_w) ** 2)
            - (ys - ridge_y) ** 2 / (2 * (0.28 * face_w) ** 2)
        )
        self.depth = (head + ridge * (rho2 < 1.0)).astype(np.float32)
        self.xs, self.ys = xs, ys

    def render(self, yaw: float) -> np.ndarray:
        if abs(yaw) < 1e-4:
            return self.image
        shift = self.depth * math.sin(yaw)
        # Inverse map by fixed-point iteration: the source x is where a pixel came from.
        src = self.xs.copy()
        for _ in range(4):
            sampled = cv2.remap(shift, src, self.ys, cv2.INTER_LINEAR)
            src = self.xs - sampled
        return cv2.remap(self.image, src, self.ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _photo_tilt(image: np.ndarray, yaw: float, slide: float) -> np.ndarray:
    """The whole picture as a flat card turned by ``yaw`` about its vertical axis, seen close up."""
    h, w = image.shape[:2]
    f = 1.1 * w  # a close camera: strong perspective, the best case for an attacker
    corners = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]], np.float32)
    projected = []
    for x, y in corners:
        xr, zr = x * math.cos(yaw), x * math.sin(yaw) + 1.6 * w
        projected.append([f * xr / zr + w / 2 + slide, f * y / zr + h / 2])
    scale = f / (1.6 * w)
    src = np.array([[(x * scale) + w / 2, (y * scale) + h / 2] for x, y in corners], np.float32)
    matrix = cv2.getPerspectiveTransform(src, np.array(projected, np.float32))
    return cv2.warpPerspective(image, matrix, (w, h), borderValue=(150, 150, 150))


def _turn_schedule(turns, start: float) -> list[tuple[float, float, float]]:
    """(start, end, signed peak yaw) per turn."""
    schedule, t = [], start
    for turn in turns:
        sign = 1.0 if turn == "left" else -1.0
        length = 2 * TURN_RAMP + TURN_HOLD
        schedule.append((t, t + length, sign * TURN_YAW))
        t += length + TURN_GAP
    return schedule


def _yaw_at(t: float, schedule) -> float:
    for start, end, peak in schedule:
        if start <= t <= end:
            rise = min(t - start, end - t) / TURN_RAMP
            return peak * min(1.0, rise)
    return 0.0


def _background(rng: np.random.Generator) -> np.ndarray:
    """A plain wall: a soft vertical gradient, like a room behind a webcam user."""
    ramp = np.linspace(0.0, 1.0, HEIGHT, dtype=np.float32)[:, None, None]
    top, bottom = np.array([188, 192, 200], np.float32), np.array([120, 118, 112], np.float32)
    wall = top + (bottom - top) * ramp
    return np.broadcast_to(wall, (HEIGHT, WIDTH, 3)).astype(np.uint8).copy()


@dataclass
class _Scene:
    """What a clip shows and says; renders frames and the audio track."""

    digits: str
    turns: tuple
    face: bool = True
    faces: int = 1
    speech: bool = True
    photo_attack: bool = False
    voice: str = "rms"
    seed: int = 0
    tail: float = 0.6  # still, silent seconds at the end
    portrait: Path | None = None  # None: the default sample portrait

    def __post_init__(self):
        self.rng = np.random.default_rng(self.seed)
        self.speech_audio = speech_samples(digits_text(self.digits), self.voice) if self.speech else None
        self.speech_start = 0.4
        self.schedule = _turn_schedule(self.turns, start=0.7)
        turns_end = self.schedule[-1][1] if self.schedule else 2.5
        speech_end = self.speech_start + (len(self.speech_audio) / SAMPLE_RATE if self.speech else 2.0)
        self.duration = max(turns_end, speech_end) + self.tail
        self.wall = _background(self.rng)
        portrait = portrait_image(self.portrait)
        geometry = _portrait_geometry(self.portrait)
        # Scale the portrait so dlib's face box is ~140 px wide in a 480-px-high picture (a webcam
        # at arm's length); with two faces, each is smaller and they stand side by side.
        scale = (0.8 if self.faces == 1 else 0.6) * HEIGHT / portrait.height
        if self.portrait is not None:
            # Another portrait is framed differently: give its face the default one's width.
            default_width = _face_width(_portrait_geometry()) / portrait_image().height
            scale *= default_width * portrait.height / _face_width(geometry)
        size = (round(portrait.width * scale), round(portrait.height * scale))
        image = np.asarray(portrait.resize(size, Image.LANCZOS))
        self.warp = HeadWarp(image, [v * scale for v in geometry["box"]], geometry["points"] * scale)

    def frame(self, t: float) -> np.ndarray:
        canvas = self.wall.copy()
        if self.face:
            yaw = _yaw_at(t, self.schedule)
            if self.photo_attack:
                # Tilted 66° at the peak: only that much perspective moves the nose between the
                # eyes as far as a real 30° turn does, i.e. the strongest flat-photo attempt.
                head = _photo_tilt(self.warp.image, 2.2 * yaw, slide=120 * yaw)
            else:
                head = self.warp.render(yaw)
            h, w = head.shape[:2]
            # A hand-held camera never stands still: a little sway keeps the test honest.
            dx, dy = round(3 * math.sin(2.1 * t)), round(2 * math.sin(1.3 * t + 1))
            slots = [(WIDTH - w) // 2] if self.faces == 1 else [WIDTH // 4 - w // 2, 3 * WIDTH // 4 - w // 2]
            for x in slots:
                y = HEIGHT - h
                x0, y0 = max(0, x + dx), max(0, y + dy)
                patch = head[: HEIGHT - y0, : WIDTH - x0]
                canvas[y0 : y0 + patch.shape[0], x0 : x0 + patch.shape[1]] = patch
        noise = self.rng.normal(0, 2.0, canvas.shape).astype(np.float32)
        return np.clip(canvas.astype(np.float32) + noise, 0, 255).astype(np.uint8)

    def frames(self):
        for i in range(math.ceil(self.duration * FPS)):
            yield self.frame(i / FPS)

    def audio(self) -> np.ndarray:
        """Mono float32 at 48 kHz: room noise, plus the digits when speaking."""
        n = round(self.duration * SAMPLE_RATE)
        track = self.rng.normal(0, 0.002, n).astype(np.float32)
        if self.speech_audio is not None:
            start = round(self.speech_start * SAMPLE_RATE)
            clip = self.speech_audio[: n - start]
            track[start : start + len(clip)] += 0.8 * clip
        return np.clip(track, -1, 1)


def make_liveness_recording(
    path,
    digits: str,
    turns=("left", "right"),
    *,
    face: bool = True,
    speech: bool = True,
    container: str = "webm",
    faces: int = 1,
    photo_attack: bool = False,
    voice: str = "rms",
    codec: str | None = None,
    live: bool = True,
    seed: int = 0,
    portrait=None,
) -> Path:
    """Write a browser-like liveness clip to ``path`` and return the path.

    The clip (640×480, 15 fps, ~4-5 s) shows the portrait turning its head as ``turns`` asks
    (``"left"`` is the person's own left) while a synthetic voice reads ``digits``.
    ``container`` is ``"webm"`` (VP8 or ``codec="vp9"``, Opus; ``live=True`` omits the duration
    header as Chrome's MediaRecorder does) or ``"mp4"`` (H.264 + AAC, as Safari records).
    ``face=False`` shows an empty room, ``speech=False`` records only room noise, ``faces=2``
    shows two people, ``turns=()`` keeps the head still, ``photo_attack=True`` shows the portrait
    as a flat photo tilted and slid sideways instead of a turning head. ``portrait`` is the path
    of another person's frontal photo (default: the sample portrait), e.g. ``ASTRONAUT_FACE``.
    """
    path = Path(path)
    scene = _Scene(digits, tuple(turns), face, faces, speech, photo_attack, voice, seed, portrait=portrait)
    if container == "webm":
        vcodec, acodec, options = (
            {"vp9": "libvpx-vp9"}.get(codec, "libvpx"),
            "libopus",
            {"live": "1"} if live else {},
        )
        fmt = "webm"
    elif container == "mp4":
        vcodec, acodec, options, fmt = "libx264", "aac", {"movflags": "+faststart"}, "mp4"
    else:
        raise ValueError(f"unknown container {container!r}")
    with av.open(str(path), "w", format=fmt, options=options) as out:
        video = out.add_stream(vcodec, rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.bit_rate = 1_000_000
        if vcodec.startswith("libvpx"):
            video.options = {"deadline": "realtime", "cpu-used": "8"}
        else:
            video.options = {"preset": "veryfast"}
        audio = out.add_stream(acodec, rate=SAMPLE_RATE, layout="mono")
        for i, rgb in enumerate(scene.frames()):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            out.mux(video.encode(frame))
        out.mux(video.encode())
        samples = (scene.audio() * 32767).astype("<i2")
        chunk = 960
        for i in range(0, len(samples), chunk):
            piece = samples[i : i + chunk]
            frame = av.AudioFrame.from_ndarray(piece[None, :], format="s16", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = SAMPLE_RATE, i, Fraction(1, SAMPLE_RATE)
            out.mux(audio.encode(frame))
        out.mux(audio.encode())
    return path


def make_fake_capture_files(
    directory, digits: str, turns=("left", "right"), *, tail: float = 2.0, seed: int = 0
) -> tuple[Path, Path]:
    """Files for Chromium's fake camera and microphone; returns ``(y4m_path, wav_path)``.

    Use with ``--use-fake-device-for-media-stream --use-file-for-fake-video-capture=<y4m>
    --use-file-for-fake-audio-capture=<wav>``. Chromium loops both files from the moment the
    stream opens, so a recording should start at once and stop before the files end (the WAV's
    length): ``tail`` seconds of still, silent face at the end leave slack for that. The Y4M is
    640×480 4:2:0 at 15 fps (0.46 MB a frame, ~30 MB in all); the WAV is 16-bit mono 48 kHz.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    scene = _Scene(digits, tuple(turns), seed=seed, tail=tail)
    y4m, wav = directory / "camera.y4m", directory / "microphone.wav"
    with open(y4m, "wb") as f:
        f.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{FPS}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in scene.frames():
            planes = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p").to_ndarray()
            f.write(b"FRAME\n")
            f.write(np.ascontiguousarray(planes).tobytes())
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((scene.audio() * 32767).astype("<i2").tobytes())
    return y4m, wav


def junk_files(directory) -> dict[str, Path]:
    """Uploads that are not usable recordings, keyed by what they are."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    files = {}
    files["empty"] = directory / "empty.webm"
    files["empty"].write_bytes(b"")
    files["text"] = directory / "notes.webm"
    files["text"].write_text("Dear diary, this is not a video.\n" * 50)
    files["png"] = directory / "picture.webm"
    portrait_image().resize((128, 150)).save(files["png"], format="PNG")
    files["random"] = directory / "noise.webm"
    files["random"].write_bytes(random.Random(7).randbytes(200_000))
    return files
