"""Reading videos: the list, one video, its files (`content`), and deleting one."""

import io
from typing import Literal

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from ninja import Query
from PIL import Image

from api.actions import content_file, delete_video
from api.errors import ApiError, bad_request, not_found
from api.videos.objects import ID_RE, STATUSES, get_video, my_videos, video_object
from cameos.models import Withdrawal
from generation.models import Generation
from generation.serving import serve_file

POLL_AFTER_MS = "1000"


def list_videos(
    request: HttpRequest,
    after: Query[str] = None,
    limit: int = Query(20, ge=1, le=100),
    order: Query[Literal["asc", "desc"]] = "desc",
):
    """Your videos, newest first (or oldest with `order=asc`), `limit` at a time after `after`."""
    videos = my_videos(request)
    if order == "asc":
        videos = videos.order_by("created", "pk")
    else:
        videos = videos.order_by("-created", "-pk")
    if after is not None:
        match = ID_RE.fullmatch(after)
        cursor = (
            Generation.objects.filter(owner=request.auth, code=match[1]).values("created", "pk").first()
            if match
            else None
        )
        if cursor is None:
            raise bad_request(f"No video found with id '{after[:80]}' to list after.", param="after")
        if order == "asc":
            later = Q(created__gt=cursor["created"]) | Q(created=cursor["created"], pk__gt=cursor["pk"])
        else:
            later = Q(created__lt=cursor["created"]) | Q(created=cursor["created"], pk__lt=cursor["pk"])
        videos = videos.filter(later)
    page = list(videos[: limit + 1])
    data = [video_object(g) for g in page[:limit]]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": len(page) > limit,
    }


def retrieve(request: HttpRequest, video_id: str, response: HttpResponse):
    generation = get_video(request, video_id)
    if generation.is_active:
        # The package's poll() waits this long between requests.
        response["openai-poll-after-ms"] = POLL_AFTER_MS
    return video_object(generation)


def delete(request: HttpRequest, video_id: str):
    """Delete a video and its files; an unfinished one is stopped."""
    generation = get_video(request, video_id)
    delete_video(generation)
    return {"id": video_id, "object": "video.deleted", "deleted": True}


def download_content(
    request: HttpRequest,
    video_id: str,
    variant: Query[Literal["video", "thumbnail", "spritesheet"]] = "video",
):
    """The MP4 (`video`), the poster as WebP (`thumbnail`, as OpenAI's) or the sprite sheet JPEG
    (`spritesheet`)."""
    generation = get_video(request, video_id)
    if (withdrawal := Withdrawal.objects.of_draft(generation.code, request.auth)) is not None:
        raise ApiError(410, withdrawal.text, code="consent_withdrawn")
    if generation.status != Generation.Status.SUCCEEDED:
        raise bad_request(
            f"Video '{video_id}' is {STATUSES[generation.status]}; its content exists once it is completed.",
            code="video_not_ready",
        )
    field = content_file(generation, variant)
    if field is None:
        raise not_found(f"Video '{video_id}' has no {variant}.", param="variant")
    if variant == "thumbnail":
        return webp_response(field, f"{video_id}-thumbnail.webp")
    extension = "mp4" if variant == "video" else "jpg"
    return serve_file(request, field, download_name=f"{video_id}-{variant}.{extension}")


def webp_response(field, download_name: str) -> HttpResponse:
    """The poster JPEG re-encoded as WebP (a few milliseconds for a poster-sized image)."""
    buffer = io.BytesIO()
    try:
        with field.open("rb") as fh, Image.open(fh) as image:
            image.convert("RGB").save(buffer, format="WEBP", quality=85)
    except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise not_found("This video's thumbnail is missing.", param="variant") from exc
    response = HttpResponse(buffer.getvalue(), content_type="image/webp")
    response["Content-Disposition"] = f'inline; filename="{download_name}"'
    response["Cache-Control"] = "private, max-age=3600"
    return response
