"""Operations the API adds on top of generation.actions: extensions, what a download delivers,
deletion including the API's own files, and the retention of unposted videos."""

import logging
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.core.files import File
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from accounts.models import User
from api.errors import ApiError
from api.models import Extension
from api.stitching import StitchError, stitch
from generation.actions import delete_generation, start_generation
from generation.models import FINAL_STATUSES, Generation
from provenance.actions import ExportFailed, ensure_export

log = logging.getLogger(__name__)

VARIANT_FIELDS = {"thumbnail": "poster", "spritesheet": "sprite"}


def delivered_seconds(generation: Generation) -> int:
    """The length the API reports: for an extension, the source and the new segment together.

    Reads `generation.api_extension`: select_related it when calling this for many rows.
    """
    extension = getattr(generation, "api_extension", None)
    return extension.total_seconds if extension is not None else generation.seconds


def extend_video(owner: User, source: Generation, *, prompt: str, seconds: int) -> Generation:
    """Start a `seconds`-long continuation of `source` (which must have its video), recorded as an
    Extension so the API reports and delivers the stitched whole.

    Every rule of start_generation applies; its exceptions propagate and nothing is stored then.
    The worker conditions the new segment on the source's last frame.
    """
    source_seconds = delivered_seconds(source)
    generation = start_generation(
        owner, prompt=prompt, seconds=seconds, orientation=source.orientation, source=source
    )
    # Not in start_generation's transaction: its enqueue-on-commit must stay its own to undo the row
    # when Redis is down. Until this insert lands the API reports the segment's length alone.
    generation.api_extension = Extension.objects.create(generation=generation, source_seconds=source_seconds)
    return generation


def content_file(generation: Generation, variant: str) -> FieldFile | None:
    """The file `GET /v1/videos/{id}/content?variant=` delivers, or None when there is none.

    The one place that decides it: thumbnails and sprite sheets are the draft's own; the video is
    the stitched whole for an extension, else the post's rendition (`Post.video_file()`, which the
    provenance work turns into the watermarked, signed export) when the video was posted, else the
    draft's file. May write the stitched file (see `stitched_video`).
    """
    if variant in VARIANT_FIELDS:
        return getattr(generation, VARIANT_FIELDS[variant]) or None
    # Every video that leaves the site is the watermarked, signed export rendition.
    extension = getattr(generation, "api_extension", None)
    source = stitched_video(extension) if extension is not None else None
    try:
        return ensure_export(generation, source=source).file
    except ExportFailed as exc:
        raise ApiError(
            409 if not generation.is_shareable else 503, str(exc), code="export_unavailable"
        ) from exc


def stitched_video(extension: Extension) -> FieldFile | None:
    """The source's delivered video followed by the new segment, made on first use then reused.

    Stream copy, so it costs about a file copy. When the source is gone or can't be joined (a
    rendition encoded differently), the segment alone is delivered and that is logged. Two requests
    racing both stitch; the first to record its file wins and the other deletes its copy.
    """
    if extension.video:
        return extension.video
    generation = extension.generation
    if not generation.video:
        return None
    source = generation.source
    # The source's unmarked draft: the stitched whole is exported (watermarked, signed) after.
    source_file = None
    if source is not None:
        source_extension = getattr(source, "api_extension", None)
        source_file = stitched_video(source_extension) if source_extension else (source.video or None)
    if source_file is None:
        log.warning("extension %s: source gone, delivering the segment alone", generation.code)
        return generation.video
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "video.mp4"
        try:
            with source_file.open("rb") as first, generation.video.open("rb") as second:
                stitch([first, second], str(path))
        except StitchError:
            log.exception("extension %s: can't stitch, delivering the segment alone", generation.code)
            return generation.video
        with open(path, "rb") as fh:
            extension.video.save("stitched.mp4", File(fh), save=False)
    won = Extension.objects.filter(pk=extension.pk, video="").update(video=extension.video.name)
    if not won:
        extension.video.delete(save=False)
        extension.refresh_from_db(fields=["video"])
    return extension.video


def delete_video(generation: Generation) -> None:
    """Delete a video as `DELETE /v1/videos/{id}` does: the draft, its files and the stitched file."""
    extension = getattr(generation, "api_extension", None)
    if extension is not None and extension.video:
        extension.video.delete(save=False)
    delete_generation(generation)


def expires_at(generation: Generation) -> datetime | None:
    """When an unposted finished video is deleted under VIDEO_RETENTION_DAYS (None: kept).

    Reads `generation.post`: select_related it when calling this for many rows.
    """
    days = settings.VIDEO_RETENTION_DAYS
    if not days or not generation.is_final or generation.finished is None:
        return None
    try:
        generation.post  # noqa: B018 - a posted video is the post's and stays
        return None
    except ObjectDoesNotExist:
        return generation.finished + timedelta(days=days)


def delete_expired_videos(batch: int = 200) -> int:
    """Delete finished drafts that were never posted once VIDEO_RETENTION_DAYS have passed.

    Run by the sweeper; does nothing when the setting is 0. Returns how many were deleted.
    """
    days = settings.VIDEO_RETENTION_DAYS
    if not days:
        return 0
    cutoff = timezone.now() - timedelta(days=days)
    expired = Generation.objects.filter(
        status__in=FINAL_STATUSES, finished__lt=cutoff, post__isnull=True
    ).select_related("api_extension")[:batch]
    count = 0
    for generation in expired:
        delete_video(generation)
        count += 1
    return count
