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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# A face counts as a second person only if it is at least this share of the main face's area;
# HOG's rare false positives are small and short-lived.
SECOND_FACE_AREA = 0.25
# Head turns are read from the nose's offset from the eyes' midpoint, in eye distances. A head
# model (nose base 2.25 cm before the pupils, 6.3 cm apart) reads 0.36·tan(yaw): 0.10 at 16°, 0.21
# at 30°, but real faces and landmarks differ: the same 30° turn read +0.20 on one face and +0.08
# on a smaller one, and one face's two sides can differ by half. So a turn is judged against the
# face's own yaw range: an excursion from the resting pose counts when it reaches TURN_SHARE of the
# larger excursion either way, and at least TURN_FLOOR (and TURN_NOISE times the landmark jitter)
# so that a still face's tremble never counts.
TURN_SHARE = 0.2
TURN_FLOOR = 0.035
TURN_NOISE = 3.0
MIN_TURN_SAMPLES = 2  # at 10 analysed frames a second: a turn held for ~0.2 s
# A head turning shows parallax inside the face (the nose moves against the cheeks), so the
# motion of points on the face fits no single homography; a flat picture, slid, tilted or turned,
# does up to tracking error. A measurement shows depth when the homography leaves at least
# FLAT_RATIO of the face's deformation unexplained and the face deformed at least
# FLAT_DEFORMATION (face widths); a recording is flat when no measurement shows depth, or when
# one that deformed a lot (FLAT_CLEAR_DEFORMATION) still fits a homography.
FLAT_RATIO = 0.3
FLAT_DEFORMATION = 0.005
FLAT_CLEAR_DEFORMATION = 0.012
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


@dataclass
class TurnReading:
    """The head turns of one recording and what they were measured against.

    ``baseline`` is the resting (frontal) yaw, ``threshold`` the offset from it that counted as a
    turn, ``noise`` the landmark jitter, ``extremes`` the largest offsets to the person's left and
    right (as observation indices and offsets), turn or not.
    """

    events: list[TurnEvent]
    baseline: float = 0.0
    threshold: float = TURN_FLOOR
    noise: float = 0.0
    extremes: dict = field(default_factory=dict)

    def near_frontal(self, yaw: float) -> bool:
        return abs(yaw - self.baseline) < max(TURN_FLOOR, self.threshold / 2)

    def as_dict(self) -> dict:
        return {
            "baseline": round(self.baseline, 3),
            "threshold": round(self.threshold, 3),
            "noise": round(self.noise, 4),
            "extremes": {side: round(offset, 3) for side, (_, offset) in self.extremes.items()},
        }


def _resting_yaw(smooth: np.ndarray, noise: float) -> float:
    """The pose the person holds most: the median of the densest cluster of yaw readings.

    Not the plain median: someone who lingers in one turn, or turns one way further than the
    other, would drag it off the frontal pose and make one turn look small and the other large.
    """
    width = max(0.02, 3 * noise)
    counts = [(np.abs(smooth - v) < width).sum() for v in smooth]
    centre = smooth[int(np.argmax(counts))]
    return float(np.median(smooth[np.abs(smooth - centre) < width]))


def find_turns(observations: list[FaceObservation]) -> TurnReading:
    """Head turns in time order, judged against the face's own yaw range (see TURN_SHARE).

    Consecutive turns the same way merge (a face lost for a frame mid-turn must not count twice).
    A turn starts where the offset passes the threshold and lasts while it stays past half of it.
    """
    seen = [o for o in observations if o.yaw is not None]
    if len(seen) < 3:
        return TurnReading([])
    raw = np.array([o.yaw for o in seen])
    # A 3-sample median filter drops single-frame landmark glitches.
    padded = np.concatenate([raw[:1], raw, raw[-1:]])
    smooth = np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)
    # Landmark jitter: the typical frame-to-frame change of the raw reading (robust to turns).
    noise = float(1.4826 * np.median(np.abs(np.diff(raw))) / np.sqrt(2)) if len(raw) > 2 else 0.0
    baseline = _resting_yaw(smooth, noise)
    offsets = smooth - baseline
    left, right = float(offsets.max()), float(-offsets.min())
    threshold = max(TURN_FLOOR, TURN_NOISE * noise, TURN_SHARE * max(left, right))
    reading = TurnReading([], baseline, threshold, noise)
    reading.extremes = {
        "left": (seen[int(np.argmax(offsets))].index, left),
        "right": (seen[int(np.argmin(offsets))].index, -right),
    }
    events = reading.events
    i = 0
    while i < len(offsets):
        if abs(offsets[i]) < threshold:
            i += 1
            continue
        sign = 1 if offsets[i] > 0 else -1
        j = i
        while j + 1 < len(offsets) and sign * offsets[j + 1] >= threshold / 2:
            j += 1
        strong = int((sign * offsets[i : j + 1] >= threshold).sum())
        if strong >= MIN_TURN_SAMPLES:
            direction = "left" if sign > 0 else "right"
            peak = i + int(np.argmax(sign * offsets[i : j + 1]))
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
    return reading


def _frontal_near(observations, index: int, reading: TurnReading) -> FaceObservation | None:
    """The nearest near-frontal observation before ``index`` (or, failing that, after it)."""
    near = [o for o in observations if o.yaw is not None and reading.near_frontal(o.yaw)]
    before = [o for o in near if o.index < index]
    if before:
        return before[-1]
    after = [o for o in near if o.index > index]
    return after[0] if after else None


def flatness(frames, observations, target: int, reading: TurnReading) -> dict | None:
    """How much of the face's motion, from the frontal pose to frame ``target``, one homography
    explains.

    Tracks corners inside the frontal face through every analysed frame up to the target
    (pyramidal Lucas-Kanade, forward-backward checked) and fits a homography with RANSAC.
    Returns ``residual`` (median distance of the points from the homography), ``deformation``
    (median spread of the points' motion around their common shift), both in face widths, and
    ``ratio`` = residual / deformation; None when too few points survive tracking. Flat pictures
    slid, tilted or turned 66° measured ratio ~0.1-0.2 (tracking error only); synthetic turning
    heads 0.6-2.
    """
    import cv2

    origin = _frontal_near(observations, target, reading)
    if origin is None or origin.box is None or origin.index == target:
        return None
    left, top, right, bottom = origin.box
    width = right - left
    mask = np.zeros_like(frames[origin.index].gray)
    # The inner face: cheeks, eyes, nose, mouth; no hair or background, which move differently.
    mask[max(0, top + width // 10) : bottom - width // 20, max(0, left + width // 8) : right - width // 8] = (
        255
    )
    start = cv2.goodFeaturesToTrack(frames[origin.index].gray, 150, 0.01, max(3, width // 25), mask=mask)
    if start is None or len(start) < 12:
        return None
    step = 1 if target >= origin.index else -1
    path = list(range(origin.index, target + step, step))
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
        "from": origin.index,
        "to": target,
        "residual": round(residual, 4),
        "deformation": round(deformation, 4),
        "ratio": round(residual / deformation, 3) if deformation > 0 else 0.0,
        "points": int(alive.sum()),
    }


def shows_depth(measure: dict | None) -> bool:
    return (
        measure is not None and measure["deformation"] >= FLAT_DEFORMATION and measure["ratio"] >= FLAT_RATIO
    )


def judge_flatness(frames, observations, reading: TurnReading) -> dict:
    """Does the face move like a head or like a flat picture? Decided on its own, turn or not.

    Measures the motion from the frontal pose to the turns' peaks and to the largest yaw
    excursions each way (which a still or slid picture has too, however small), and to the frame
    where the face box moved furthest. ``verdict``: "depth" when a measurement shows parallax and
    none that deformed clearly fits a homography, "flat" when otherwise measured, "unknown" when
    nothing could be tracked (too little texture: the other checks decide).
    """
    targets = [e.peak for e in reading.events] + [index for index, _ in reading.extremes.values()]
    with_box = [o for o in observations if o.box is not None]
    if with_box:
        first = with_box[0]
        centre = np.array([(first.box[0] + first.box[2]) / 2, (first.box[1] + first.box[3]) / 2])
        furthest = max(
            with_box,
            key=lambda o: np.hypot(
                *(np.array([(o.box[0] + o.box[2]) / 2, (o.box[1] + o.box[3]) / 2]) - centre)
            ),
        )
        targets.append(furthest.index)
    measures = []
    for target in dict.fromkeys(targets):
        measure = flatness(frames, observations, target, reading)
        if measure is not None:
            measures.append(measure)
    if not measures:
        verdict = "unknown"
    elif any(shows_depth(m) for m in measures) and not any(
        m["deformation"] >= FLAT_CLEAR_DEFORMATION and m["ratio"] < FLAT_RATIO for m in measures
    ):
        verdict = "depth"
    else:
        verdict = "flat"
    return {"verdict": verdict, "measures": measures}


def _crop_box(box, shape, factor: float = 1.8) -> tuple[int, int, int, int]:
    left, top, right, bottom = box
    cx, cy = (left + right) / 2, (top + bottom) / 2
    half = factor * max(right - left, bottom - top) / 2
    h, w = shape[:2]
    return (max(0, int(cx - half)), max(0, int(cy - half)), min(w, int(cx + half)), min(h, int(cy + half)))


def _sharpness(gray: np.ndarray) -> float:
    import cv2

    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def best_frontal(frames, observations, reading: TurnReading, count: int) -> list[FaceObservation]:
    """Up to ``count`` near-frontal, sharp observations with colour frames, spread over time."""
    candidates = [
        o
        for o in observations
        if o.yaw is not None and frames[o.index].rgb is not None and reading.near_frontal(o.yaw)
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
