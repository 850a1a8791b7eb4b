"""Faces in frames: dlib HOG detection, 5-point landmarks, head-turn reading, 128-d embeddings.

Models come from the ``face_recognition_models`` package, loaded by path: importing that package
pulls in ``pkg_resources``, which setuptools 81 removed. The 5-point landmark model is free for
commercial use (the 68-point one is not). Models load on first use, once per process, and are
not thread-safe: call from one thread at a time (RQ workers are processes, which is fine).

Cost on one core at 640×480: detection ~20 ms, landmarks 0.2 ms, an embedding ~60 ms.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# A face counts as a second person only if it is at least this share of the main face's area;
# HOG's rare false positives are small and short-lived.
SECOND_FACE_AREA = 0.25
# Nose offset from the eyes' midpoint, in eye distances, that counts as a turn. A head model (nose
# base 2.25 cm before the pupils, 6.3 cm apart) reads 0.36·tan(yaw): 0.10 at 16°, 0.21 at 30°.
# The test media's 30° turns read 0.16-0.23; talking and sway stayed under 0.05.
TURN_THRESHOLD = 0.10
MIN_TURN_SAMPLES = 2  # at 10 analysed frames a second: a turn held for ~0.2 s
# A head turning shows parallax inside the face (the nose moves against the cheeks), so the
# motion of points on the face fits no single homography; a flat photo, slid or tilted, does up
# to tracking error. Flat: the homography leaves under 30% of the face's deformation unexplained,
# or the face hardly deformed at all (see ``flatness`` for measured values).
FLAT_RATIO = 0.3
FLAT_DEFORMATION = 0.005
SAME_PERSON_DISTANCE = 0.6  # dlib's own threshold for "same person" between two embeddings

_load_lock = threading.Lock()


def _models_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("The face_recognition_models package is not installed.")
    return Path(spec.submodule_search_locations[0]) / "models"


@functools.cache
def _detector():
    with _load_lock:
        import dlib

        return dlib.get_frontal_face_detector()


@functools.cache
def _landmarks():
    with _load_lock:
        import dlib

        return dlib.shape_predictor(str(_models_dir() / "shape_predictor_5_face_landmarks.dat"))


@functools.cache
def _encoder():
    with _load_lock:
        import dlib

        return dlib.face_recognition_model_v1(
            str(_models_dir() / "dlib_face_recognition_resnet_model_v1.dat")
        )


@dataclass
class FaceObservation:
    """The faces in one analysed frame; ``box``/``points``/``yaw`` describe the largest face."""

    index: int
    time: float
    faces: int
    box: tuple[int, int, int, int] | None = None
    points: np.ndarray | None = None
    yaw: float | None = None

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0]) if self.box else 0.0


def yaw_from_points(points: np.ndarray) -> float:
    """Sideways nose offset from the eyes' midpoint, in eye distances (along the eye line).

    dlib's 5-point order: 0-1 the eye on the picture's right (outer, inner), 2-3 the other eye,
    4 the base of the nose. Positive means the nose moved to the picture's right: the person
    turned to their own left. Measured along the eye line, so tilting the head sideways (roll)
    does not read as a turn.
    """
    right_eye = points[0:2].mean(axis=0)
    left_eye = points[2:4].mean(axis=0)
    axis = right_eye - left_eye
    distance = float(np.hypot(*axis)) or 1.0
    return float(np.dot(points[4] - (right_eye + left_eye) / 2, axis / distance) / distance)


def _rect_area(rect) -> int:
    return max(0, rect.width()) * max(0, rect.height())


def observe_faces(frames) -> list[FaceObservation]:
    """Detect faces and landmarks in each analysed frame (``media.Frame`` objects, grey used)."""
    import dlib

    detector, predictor = _detector(), _landmarks()
    observations = []
    for index, frame in enumerate(frames):
        rects, _, _ = detector.run(frame.gray, 0, 0)
        if not rects:
            observations.append(FaceObservation(index, frame.time, 0))
            continue
        rects = sorted(rects, key=_rect_area, reverse=True)
        main = rects[0]
        counted = sum(1 for r in rects if _rect_area(r) >= SECOND_FACE_AREA * _rect_area(main))
        shape = predictor(frame.gray, dlib.rectangle(main.left(), main.top(), main.right(), main.bottom()))
        points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
        box = (main.left(), main.top(), main.right(), main.bottom())
        observations.append(FaceObservation(index, frame.time, counted, box, points, yaw_from_points(points)))
    return observations


@dataclass
class TurnEvent:
    direction: str
    start: int  # indices into the observations with a face
    end: int
    peak: int
    peak_offset: float


def find_turns(observations: list[FaceObservation]) -> tuple[list[TurnEvent], float]:
    """Head turns in time order, and the frontal baseline offset they were measured from.

    The baseline is the median offset: the challenge turns both ways, so a frontal pose holds the
    middle even when the person lingers in a turn. Consecutive turns the same way merge (a face
    lost for a frame mid-turn must not count twice).
    """
    seen = [o for o in observations if o.yaw is not None]
    if len(seen) < 3:
        return [], 0.0
    raw = np.array([o.yaw for o in seen])
    # A 3-sample median filter drops single-frame landmark glitches.
    padded = np.concatenate([raw[:1], raw, raw[-1:]])
    smooth = np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)
    baseline = float(np.median(smooth))
    offsets = smooth - baseline
    states = np.where(offsets > TURN_THRESHOLD, 1, np.where(offsets < -TURN_THRESHOLD, -1, 0))
    events: list[TurnEvent] = []
    i = 0
    while i < len(states):
        if states[i] == 0:
            i += 1
            continue
        j = i
        while j + 1 < len(states) and states[j + 1] == states[i]:
            j += 1
        if j - i + 1 >= MIN_TURN_SAMPLES:
            direction = "left" if states[i] > 0 else "right"
            peak = i + int(np.argmax(np.abs(offsets[i : j + 1])))
            if events and events[-1].direction == direction:
                last = events[-1]
                if abs(offsets[peak]) > abs(last.peak_offset):
                    last.peak, last.peak_offset = peak, float(offsets[peak])
                last.end = j
            else:
                events.append(TurnEvent(direction, i, j, peak, float(offsets[peak])))
        i = j + 1
    # Map indices back from "frames with a face" to observation indices.
    for event in events:
        event.start, event.end, event.peak = (
            seen[event.start].index,
            seen[event.end].index,
            seen[event.peak].index,
        )
    return events, baseline


def _frontal_before(observations, event: TurnEvent, baseline: float) -> FaceObservation | None:
    """The most recent near-frontal observation before a turn (or, failing that, after it)."""
    near = [o for o in observations if o.yaw is not None and abs(o.yaw - baseline) < TURN_THRESHOLD / 2]
    before = [o for o in near if o.index < event.start]
    if before:
        return before[-1]
    after = [o for o in near if o.index > event.end]
    return after[0] if after else None


def flatness(frames, observations, event: TurnEvent, baseline: float) -> dict | None:
    """How much of the face's motion, frontal to the turn's peak, one homography explains.

    Tracks corners inside the frontal face through every analysed frame up to the peak
    (pyramidal Lucas-Kanade, forward-backward checked) and fits a homography with RANSAC.
    Returns ``residual`` (median distance of the points from the homography), ``deformation``
    (median spread of the points' motion around their common shift), both in face widths, and
    ``ratio`` = residual / deformation; None when too few points survive tracking. A flat photo
    slid and tilted measured ratio ~0.15 (tracking error only); synthetic turning heads 0.6-2.
    """
    import cv2

    origin = _frontal_before(observations, event, baseline)
    if origin is None or origin.box is None:
        return None
    left, top, right, bottom = origin.box
    width = right - left
    mask = np.zeros_like(frames[origin.index].gray)
    # The inner face: cheeks, eyes, nose, mouth; no hair or background, which move differently.
    mask[top + width // 10 : bottom - width // 20, left + width // 8 : right - width // 8] = 255
    start = cv2.goodFeaturesToTrack(frames[origin.index].gray, 150, 0.01, max(3, width // 25), mask=mask)
    if start is None or len(start) < 12:
        return None
    step = 1 if event.peak >= origin.index else -1
    path = list(range(origin.index, event.peak + step, step))
    lk = {"winSize": (21, 21), "maxLevel": 3}
    points, alive = start.copy(), np.ones(len(start), bool)
    for a, b in zip(path, path[1:], strict=False):
        points, status, _ = cv2.calcOpticalFlowPyrLK(frames[a].gray, frames[b].gray, points, None, **lk)
        alive &= status.reshape(-1) == 1
    back = points.copy()
    for a, b in zip(path[::-1], path[::-1][1:], strict=False):
        back, status, _ = cv2.calcOpticalFlowPyrLK(frames[a].gray, frames[b].gray, back, None, **lk)
        alive &= status.reshape(-1) == 1
    alive &= np.linalg.norm((back - start).reshape(-1, 2), axis=1) < 1.0
    if alive.sum() < 12:
        return None
    src, dst = start[alive].reshape(-1, 2), points[alive].reshape(-1, 2)
    homography, _ = cv2.findHomography(src, dst, cv2.RANSAC, 0.01 * width)
    if homography is None:
        return None
    mapped = cv2.perspectiveTransform(src.reshape(-1, 1, 2), homography).reshape(-1, 2)
    residual = float(np.median(np.linalg.norm(mapped - dst, axis=1)) / width)
    motion = dst - src
    deformation = float(np.median(np.linalg.norm(motion - np.median(motion, axis=0), axis=1)) / width)
    return {
        "residual": round(residual, 4),
        "deformation": round(deformation, 4),
        "ratio": round(residual / deformation, 3) if deformation > 0 else 0.0,
        "points": int(alive.sum()),
    }


def looks_flat(measure: dict | None) -> bool:
    """True when a turn's face motion is that of a flat picture (see ``flatness``)."""
    if measure is None:
        return False  # too little texture to tell: the other checks decide
    return measure["deformation"] < FLAT_DEFORMATION or measure["ratio"] < FLAT_RATIO


def _crop_box(box, shape, factor: float = 1.8) -> tuple[int, int, int, int]:
    left, top, right, bottom = box
    cx, cy = (left + right) / 2, (top + bottom) / 2
    half = factor * max(right - left, bottom - top) / 2
    h, w = shape[:2]
    return (max(0, int(cx - half)), max(0, int(cy - half)), min(w, int(cx + half)), min(h, int(cy + half)))


def _sharpness(gray: np.ndarray) -> float:
    import cv2

    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def best_frontal(frames, observations, baseline: float, count: int) -> list[FaceObservation]:
    """Up to ``count`` near-frontal, sharp observations with colour frames, spread over time."""
    candidates = [
        o
        for o in observations
        if o.yaw is not None
        and frames[o.index].rgb is not None
        and abs(o.yaw - baseline) < TURN_THRESHOLD / 2
    ]
    if not candidates:
        return []
    # Split the candidates into ``count`` runs in time and take the sharpest face of each run.
    chosen = []
    for part in np.array_split(np.arange(len(candidates)), min(count, len(candidates))):
        group = [candidates[i] for i in part]

        def score(o):
            left, top, right, bottom = _crop_box(o.box, frames[o.index].gray.shape, 1.0)
            return _sharpness(frames[o.index].gray[top:bottom, left:right])

        chosen.append(max(group, key=score))
    return chosen


def jpeg_crop(rgb: np.ndarray, box, *, quality: int = 90) -> bytes:
    """The face with some margin, as JPEG bytes."""
    from PIL import Image

    left, top, right, bottom = _crop_box(box, rgb.shape)
    out = io.BytesIO()
    Image.fromarray(rgb[top:bottom, left:right]).save(out, format="JPEG", quality=quality)
    return out.getvalue()


def embedding(rgb: np.ndarray, box) -> np.ndarray:
    """dlib's 128-d face embedding of the face in ``box`` (faces match below distance 0.6)."""
    import dlib

    rect = dlib.rectangle(*[int(v) for v in box])
    shape = _landmarks()(rgb, rect)
    return np.array(_encoder().compute_face_descriptor(rgb, shape))


def face_embeddings_in_frames(frames) -> list[list[float]]:
    """128-d embeddings of every face found in the given RGB frames (H×W×3 uint8 arrays).

    For checking generated videos against a cameo's ``face_embedding`` (Euclidean distance below
    0.6 means the same person to dlib). Faces smaller than ~80 px are not found; frames under
    400 px wide are searched at double size (4× the detector's cost). ~80 ms per face.
    """
    detector = _detector()
    found = []
    for frame in frames:
        rgb = np.ascontiguousarray(np.asarray(frame, dtype=np.uint8)[..., :3])
        upsample = 1 if rgb.shape[1] < 400 else 0
        rects, _, _ = detector.run(rgb, upsample, 0)
        for rect in rects:
            box = (rect.left(), rect.top(), rect.right(), rect.bottom())
            found.append([float(v) for v in embedding(rgb, box)])
    return found


def faces_in_image(rgb: np.ndarray) -> int:
    """How many faces dlib finds in one RGB image (searched at double size when small)."""
    upsample = 1 if rgb.shape[1] < 400 else 0
    rects, _, _ = _detector().run(np.ascontiguousarray(rgb), upsample, 0)
    return len(rects)
