"""What the video endpoints read: the `video` object of one generation, and the caller's own videos
by id (others' are 404, never 403)."""

import re
from datetime import datetime

from django.conf import settings
from django.http import HttpRequest

from api.actions import delivered_seconds, expires_at
from api.errors import bad_request, not_found
from generation.actions import capabilities
from generation.models import Generation

ID_PREFIX = "video_"
ID_RE = re.compile(r"video_([A-Za-z0-9]{1,32})")
STATUSES = {
    Generation.Status.QUEUED: "queued",
    Generation.Status.RUNNING: "in_progress",
    Generation.Status.SUCCEEDED: "completed",
    Generation.Status.FAILED: "failed",
    Generation.Status.CANCELLED: "failed",
}
ERRORS = {
    Generation.Status.FAILED: ("generation_failed", "The video could not be made."),
    Generation.Status.CANCELLED: ("cancelled", "The video was cancelled before it finished."),
}


def video_id(generation: Generation) -> str:
    return ID_PREFIX + generation.code


def timestamp(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment else None


def model_name(model_id: str) -> str:
    """The public name of the model a row was made with: a hub id as is, a local folder by its name
    (never the server's path)."""
    if model_id.startswith("/") or "\\" in model_id:
        return re.split(r"[/\\]", model_id.rstrip("/\\"))[-1] or settings.SORA_VIDEO_PROFILE
    return model_id or settings.SORA_VIDEO_PROFILE


def delivered_size(generation: Generation) -> str:
    if generation.width and generation.height:
        return f"{generation.width}x{generation.height}"
    width, height = capabilities().output_sizes[generation.orientation]
    return f"{width}x{height}"


def video_object(generation: Generation) -> dict:
    """The `video` object. Reads `source`, `api_extension` and `post`: select_related them for lists."""
    error = None
    if generation.status in ERRORS:
        code, message = ERRORS[generation.status]
        error = {"code": code, "message": generation.error or message}
    return {
        "id": video_id(generation),
        "object": "video",
        "created_at": timestamp(generation.created),
        "completed_at": timestamp(generation.finished) if generation.is_final else None,
        "expires_at": timestamp(expires_at(generation)),
        "model": model_name(generation.model_id),
        "status": STATUSES[generation.status],
        "progress": generation.percent,
        "prompt": generation.prompt,
        "seconds": str(delivered_seconds(generation)),
        "size": delivered_size(generation),
        "remixed_from_video_id": video_id(generation.source) if generation.source_id else None,
        "storyboard_mode": generation.storyboard_mode or None,
        "error": error,
    }


def my_videos(request: HttpRequest):
    # visible_to is the site's rule; the API narrows it to the caller's own (staff included).
    user = request.auth
    return (
        Generation.objects.visible_to(user)
        .filter(owner=user)
        .select_related("source", "api_extension", "post")
    )


def get_video(request: HttpRequest, value: str, *, param: str | None = None) -> Generation:
    """One of the caller's videos by id, or a 404 in the error shape (also for others' videos)."""
    match = ID_RE.fullmatch(value or "")
    generation = my_videos(request).filter(code=match[1]).first() if match else None
    if generation is None:
        raise not_found(f"No video found with id '{value[:80]}'.", param=param)
    return generation


def get_source(request: HttpRequest, value: str | None, *, param: str | None = None) -> Generation:
    """A completed video of the caller's to remix, edit or extend."""
    if not value:
        raise bad_request(
            f"Missing required parameter: '{param}[id]'.",
            param=f"{param}[id]",
            code="missing_required_parameter",
        )
    source = get_video(request, value, param=param)
    if source.status != Generation.Status.SUCCEEDED or not source.video:
        raise bad_request(
            f"Video '{value}' is {STATUSES[source.status]}; only completed videos can be used.",
            param=param,
            code="video_not_ready",
        )
    return source
