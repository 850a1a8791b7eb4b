"""Check an uploaded video: Content Credentials, our tracking mark, and fingerprint matches.

`verify_file` is what a public "was this made here?" page calls; `identify` is the content-only
decision (tracking mark first, fingerprint second) that also works on re-encoded copies whose
C2PA manifest is gone.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import tracking
from .c2pa_manifest import read_manifest
from .fingerprint import Fingerprint, FingerprintLookup, compute_fingerprint

DEFAULT_MAX_BYTES = 512 * 1024 * 1024
DEFAULT_MAX_SECONDS = 600.0
# Containers a phone or browser uploads; everything else (images, audio, text) is refused.
VIDEO_FORMATS = ("mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm")
MATCH_CONFIDENCE = 0.5
# Fingerprint candidates whose mark pattern identify() tests when the mark can't be decoded.
CONFIRM_CANDIDATES = 5

TrackingIds = Callable[[list[Any]], dict[Any, int]]


class UnsupportedMediaError(ValueError):
    """The file cannot be verified; the message is safe to show to the uploader."""


class NotAVideoError(UnsupportedMediaError):
    """The file is not a readable video (wrong format, corrupt, or no video stream)."""


class MediaTooLargeError(UnsupportedMediaError):
    """The file is larger or longer than the limits passed to `verify_file`."""


@dataclass(frozen=True)
class VideoProbe:
    format: str
    width: int
    height: int
    duration: float
    video_codec: str
    has_audio: bool
    size: int


def probe_video(
    path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES, max_seconds: float = DEFAULT_MAX_SECONDS
) -> VideoProbe:
    """Open `path` far enough to know it is a video within the limits (demuxing only).

    Raises NotAVideoError or MediaTooLargeError."""
    import av

    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise MediaTooLargeError(
            f"This file is {size / 2**20:.0f} MB; files up to {max_bytes / 2**20:.0f} MB can be checked. "
            "Upload a shorter or smaller copy."
        )
    if size == 0:
        raise NotAVideoError("The file is empty. Choose the video file itself and try again.")
    try:
        with av.open(str(path)) as container:
            names = set(container.format.name.split(","))
            if not names & set(VIDEO_FORMATS) or not container.streams.video:
                raise NotAVideoError(
                    "This file isn't a video (it may be a picture or a sound file). "
                    "Upload an MP4, MOV or WebM video."
                )
            stream = container.streams.video[0]
            duration = _duration(container, stream)
            width, height = stream.codec_context.width, stream.codec_context.height
            codec = stream.codec_context.name
            has_audio = bool(container.streams.audio)
    except av.error.FFmpegError as exc:
        # The decoder's own error class means nothing to a person; say what to do instead.
        raise NotAVideoError(
            "We couldn't read this file as a video: it may be damaged, cut short or not a video at all. "
            "Try the original file."
        ) from exc
    if not width or not height:
        raise NotAVideoError("This video has no picture we can read. Try the original file.")
    if duration > max_seconds:
        raise MediaTooLargeError(
            f"This video is {duration:.0f} seconds long; videos up to {max_seconds:.0f} seconds can be checked. "
            "Upload a shorter clip."
        )
    return VideoProbe(",".join(sorted(names)), width, height, duration, codec, has_audio, size)


def _duration(container, stream) -> float:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000
    # Browser recordings (MediaRecorder WebM) carry no duration: read packet timestamps.
    last = 0.0
    for packet in container.demux(stream):
        if packet.pts is not None and packet.time_base:
            last = max(last, float(packet.pts * packet.time_base))
    return last


@dataclass
class Identification:
    """Who made this content, judged from the pixels (and sound) alone.

    `source` is ("tracking", tracking_id) when our mark decoded with a valid checksum, else
    ("fingerprint", key) for the best fingerprint match with confidence ≥ MATCH_CONFIDENCE,
    else None. `matches` are all (key, confidence) pairs the lookup returned."""

    tracking: tracking.TrackingReading | None
    matches: list[tuple[Any, float]] = field(default_factory=list)
    fingerprint: Fingerprint | None = None

    @property
    def source(self) -> tuple[str, Any] | None:
        if self.tracking is not None and self.tracking.tracking_id is not None:
            return ("tracking", self.tracking.tracking_id)
        if self.matches and self.matches[0][1] >= MATCH_CONFIDENCE:
            return ("fingerprint", self.matches[0][0])
        return None

    @property
    def confidence(self) -> float:
        source = self.source
        if source is None:
            return 0.0
        if source[0] == "tracking":
            return self.tracking.confidence
        return float(self.matches[0][1])


def identify(
    path: str | Path,
    *,
    tracking_key: bytes = tracking.DEFAULT_KEY,
    fingerprint_lookup: FingerprintLookup | None = None,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    tracking_ids: TrackingIds | None = None,
) -> Identification:
    """Read the tracking mark and (with a lookup) fingerprint the video at `path`.

    When the mark can't be decoded blindly, the fingerprint's best CONFIRM_CANDIDATES
    candidates (whatever their confidence) are tested for their own mark pattern
    (`tracking.confirm_tracking_from_luma`): the two clues together name copies that neither
    names alone. `tracking_ids` maps lookup keys to tracking ids (default: the keys are the
    tracking ids). Cost: about two decodes of the video plus ~0.5 s (plus ~0.1 s per candidate
    tested); call `probe_video` first for untrusted uploads. The fingerprint is only computed
    when `fingerprint_lookup` is given."""
    mean = tracking.mean_luma(path)
    reading = tracking.read_tracking_from_luma(mean, key=tracking_key)
    result = Identification(tracking=reading)
    if fingerprint_lookup is not None:
        result.fingerprint = compute_fingerprint(path, with_flipped=True, max_seconds=max_seconds)
        matches = sorted(fingerprint_lookup(result.fingerprint), key=lambda item: -item[1])
        result.matches = [(key, float(score)) for key, score in matches]
        if reading.tracking_id is None and result.matches:
            keys = [key for key, _ in result.matches[:CONFIRM_CANDIDATES]]
            ids = tracking_ids(keys) if tracking_ids is not None else {key: key for key in keys}
            confirmed = tracking.confirm_tracking_from_luma(
                mean, [ids[key] for key in keys if key in ids], key=tracking_key
            )
            if confirmed is not None:
                result.tracking = confirmed
    return result


def verify_file(
    path: str | Path,
    *,
    trust_anchors_pem: str | bytes | None,
    fingerprint_lookup: FingerprintLookup | None = None,
    tracking_key: bytes = tracking.DEFAULT_KEY,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    tracking_ids: TrackingIds | None = None,
) -> dict[str, Any]:
    """Full report on the video at `path`, JSON-serialisable (ids are decimal strings, since
    64-bit integers lose precision in JavaScript).

    Keys: `summary` (plain words), `file`, `c2pa` (see `read_manifest`), `tracking`,
    `fingerprint`, `identified`. Raises NotAVideoError / MediaTooLargeError (ValueError
    subclasses) before doing any expensive work. Cost: two decodes plus C2PA hashing."""
    probe = probe_video(path, max_bytes=max_bytes, max_seconds=max_seconds)
    # C2PA defines embedding for ISO BMFF (MP4/MOV) but not for Matroska/WebM.
    bmff = bool(set(probe.format.split(",")) & {"mov", "mp4", "m4a", "3gp", "3g2", "mj2"})
    if bmff:
        manifest = read_manifest(path, trust_anchors_pem=trust_anchors_pem)
    else:
        manifest = {"present": False, "supported": False}
    found = identify(
        path,
        tracking_key=tracking_key,
        fingerprint_lookup=fingerprint_lookup,
        max_seconds=max_seconds,
        tracking_ids=tracking_ids,
    )
    reading = found.tracking
    tracking_id = reading.tracking_id if reading else None
    bound_id = (manifest.get("soft_binding") or {}).get("tracking_id")
    source = found.source
    report = {
        "file": _file_report(path, probe),
        "c2pa": _jsonable(manifest),
        "tracking": {
            "found": tracking_id is not None,
            "tracking_id": None if tracking_id is None else str(tracking_id),
            "confidence": round(reading.confidence, 6) if reading else 0.0,
            "sync_score": round(reading.sync, 2) if reading else None,
            "matches_manifest": None if tracking_id is None or bound_id is None else tracking_id == bound_id,
        },
        "fingerprint": {
            "checked": fingerprint_lookup is not None,
            "matches": [
                {"key": _key(key), "confidence": round(score, 4)} for key, score in found.matches[:10]
            ],
        },
        "identified": None
        if source is None
        else {"method": source[0], "key": _key(source[1]), "confidence": round(found.confidence, 6)},
    }
    report["summary"] = _summary(report)
    return report


def _file_report(path: str | Path, probe) -> dict[str, Any]:
    return {
        "name": Path(path).name,
        "size": probe.size,
        "format": probe.format,
        "duration": round(probe.duration, 3),
        "width": probe.width,
        "height": probe.height,
        "video_codec": probe.video_codec,
        "has_audio": probe.has_audio,
    }


def _key(key: Any) -> Any:
    if isinstance(key, bool) or key is None:
        return key
    if isinstance(key, int):
        return str(key)
    return key if isinstance(key, str | float) else str(key)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**53:
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _summary(report: dict[str, Any]) -> str:
    c2pa, mark, prints = report["c2pa"], report["tracking"], report["fingerprint"]
    parts = []
    if not c2pa.get("present"):
        if c2pa.get("supported") is False:
            parts.append("This kind of file (WebM) cannot carry Content Credentials (C2PA).")
        elif c2pa.get("error"):
            parts.append("Content Credentials could not be read: the file's structure is damaged.")
        else:
            parts.append(
                "This video has no Content Credentials (C2PA). They are lost whenever a video is "
                "re-encoded, edited or re-uploaded, so their absence proves nothing either way."
            )
    elif c2pa.get("tampered") or c2pa.get("validation_state") == "Invalid":
        parts.append(
            "This video has Content Credentials, but the file was changed after they were signed, "
            "so they cannot be relied on."
        )
    else:
        signer = (c2pa.get("signer") or {}).get("common_name") or "an unknown signer"
        trust = (
            "a certificate this site trusts"
            if c2pa.get("trusted")
            else "a certificate this site does not recognise, so the claims are unconfirmed"
        )
        parts.append(f"This video has valid Content Credentials signed by “{signer}” with {trust}.")
        if c2pa.get("digital_source_type", "").endswith("trainedAlgorithmicMedia"):
            generator = ", ".join(c2pa.get("claim_generator") or []) or "its signer"
            parts.append(f"They state that it was generated by AI and published through {generator}.")
        post = c2pa.get("post") or {}
        if post.get("url"):
            parts.append(f"It was posted at {post['url']}.")
    if mark["found"]:
        text = f"Our invisible tracking mark is present and identifies video {mark['tracking_id']}."
        if mark["matches_manifest"] is False:
            text += " That does not match the id in its Content Credentials."
        parts.append(text)
    else:
        parts.append("No tracking mark from this site was found.")
    if prints["checked"]:
        strong = [m for m in prints["matches"] if m["confidence"] >= MATCH_CONFIDENCE]
        if strong:
            best = strong[0]
            many = "a video" if len(strong) == 1 else f"{len(strong)} videos"
            parts.append(
                f"It looks like a copy of {many} from this site "
                f"(the closest is a {best['confidence']:.0%} match)."
            )
        else:
            parts.append("It does not look like a copy of any video from this site.")
    return " ".join(parts)
