"""`/v1/videos`: the video endpoints of the OpenAI API, on this site's generations.

A video is one of the caller's own generations, addressed as `video_<code>`. Creating one goes
through `generation.actions.start_generation` like the web form, so quotas, moderation and cameo
consent apply unchanged. Others' videos are 404, never 403. POST bodies are multipart/form-data
(what the `openai` package sends), except remix, which is JSON.
"""

import io
import json
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Literal

from django.conf import settings
from django.core.files.base import ContentFile
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from ninja import File, Form, Query, Router, UploadedFile
from PIL import Image

from api.actions import content_file, delete_video, delivered_seconds, expires_at, extend_video
from api.errors import ApiError, bad_request, not_found, rate_limit_headers
from api.schemas import CharacterOut, ErrorOut, RemixIn, VideoDeletedOut, VideoListOut, VideoOut
from generation.actions import (
    GenerationRefused,
    GenerationUnavailable,
    PolicyRefused,
    QuotaExceeded,
    capabilities,
    start_generation,
    start_retake,
)
from generation.forms import BROKEN_TEXT, MAX_PROMPT, MAX_SOURCE_IMAGE_BYTES
from generation.models import Generation
from generation.serving import serve_file

router = Router(tags=["videos"])

ID_PREFIX = "video_"
ID_RE = re.compile(r"video_([A-Za-z0-9]{1,32})")
# The values the `openai` package's types offer. Each maps onto this site's model by orientation;
# the response's `size` says what is actually delivered.
OPENAI_SIZES = {
    "720x1280": "portrait",
    "1024x1792": "portrait",
    "1280x720": "landscape",
    "1792x1024": "landscape",
}
OPENAI_MODELS = ("sora-2", "sora-2-pro", "sora-2-2025-10-06", "sora-2-pro-2025-10-06", "sora-2-2025-12-08")
DEFAULT_SIZE = "720x1280"
DEFAULT_SECONDS = 4
MAX_IMAGE_PIXELS = 4096 * 4096
IMAGE_FORMATS = {"JPEG", "PNG", "WEBP"}
# Categories of GenerationRefused that mean "slow down" rather than "never".
RATE_LIMIT_CATEGORIES = {"quota", "rate_limit"}
POLL_AFTER_MS = "1000"
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

ERROR_RESPONSES = {400: ErrorOut, 401: ErrorOut, 404: ErrorOut}
CREATE_RESPONSES = {200: VideoOut, **ERROR_RESPONSES, 429: ErrorOut, 503: ErrorOut}

VideoRef = Annotated[str, Form(alias="video[id]", description="The id of one of your completed videos.")]


# --- reading -------------------------------------------------------------------------------


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


# --- checking inputs -----------------------------------------------------------------------


def clean_prompt(value: str, param: str = "prompt") -> str:
    prompt = (value or "").strip()
    if not prompt:
        raise bad_request("Describe the video you want: 'prompt' is empty.", param=param)
    if "\x00" in prompt:
        raise bad_request("'prompt' can't contain NUL characters.", param=param)
    if BROKEN_TEXT in prompt:
        raise bad_request("'prompt' isn't valid text (it has bytes that aren't UTF-8).", param=param)
    if len(prompt) > MAX_PROMPT:
        raise bad_request(f"'prompt' is {len(prompt)} characters; the most is {MAX_PROMPT}.", param=param)
    return prompt


def clean_seconds(value: str | None, *, default: int | None = None, param: str = "seconds") -> int:
    """One of the model's durations, as the package's string ("4") or its default."""
    durations = capabilities().durations
    if value is None and default is not None:
        return default if default in durations else durations[0]
    allowed = [str(s) for s in durations]
    if value not in allowed:
        raise bad_request(
            f"Invalid 'seconds': {str(value)[:20]!r}. This site's model supports {', '.join(allowed)}.",
            param=param,
        )
    return int(value)


def size_choices() -> dict[str, str]:
    """Accepted `size` values and the orientation each maps to: the package's and the model's own."""
    offered = capabilities().output_sizes
    choices = {size: orientation for size, orientation in OPENAI_SIZES.items() if orientation in offered}
    choices.update({f"{w}x{h}": orientation for orientation, (w, h) in offered.items()})
    return choices


def clean_size(value: str | None) -> str:
    choices = size_choices()
    value = DEFAULT_SIZE if value is None else value
    if value not in choices:
        raise bad_request(
            f"Invalid 'size': {value[:20]!r}. Supported values are: {', '.join(choices)}.", param="size"
        )
    return choices[value]


def own_model_names() -> list[str]:
    """The site's own names for its model: its public name and the capability profile."""
    return sorted({model_name(settings.SORA_VIDEO_MODEL), settings.SORA_VIDEO_PROFILE})


def clean_model(value: str | None) -> None:
    """The site runs one model: OpenAI's names and the site's own all mean it (GET /v1/models)."""
    own = own_model_names()
    if value is not None and value not in OPENAI_MODELS and value not in own:
        allowed = ", ".join([*OPENAI_MODELS, *own])
        raise bad_request(f"Invalid 'model': {value[:40]!r}. Supported values are: {allowed}.", param="model")


def clean_reference(upload: UploadedFile) -> ContentFile:
    """The uploaded first-frame image, checked and re-encoded as PNG (metadata dropped)."""
    problem = "'input_reference' must be a JPEG, PNG or WebP image"
    if upload.size > MAX_SOURCE_IMAGE_BYTES:
        raise bad_request(
            f"{problem} of at most {MAX_SOURCE_IMAGE_BYTES // 2**20} MB.", param="input_reference"
        )
    try:
        with Image.open(upload) as image:
            if image.format not in IMAGE_FORMATS or image.width * image.height > MAX_IMAGE_PIXELS:
                raise ValueError(image.format)
            image.load()
            rgb = image.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise bad_request(f"{problem} of at most 4096x4096 pixels.", param="input_reference") from exc
    buffer = io.BytesIO()
    rgb.save(buffer, format="PNG")
    return ContentFile(buffer.getvalue(), name="source.png")


CHARACTER_PREFIXES = ("char_", "cameo_")
CHARACTER_CODE_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")  # cameo codes are URL-safe base64


def character_values(request: HttpRequest, declared: list[str] | None) -> list[str]:
    """Every id a request names as `characters`, however the client encoded the list: repeated
    `characters` fields, the `openai` package's `characters[]` / `characters[][id]` (from
    `extra_body={"characters": [...]}`), `characters[0][id]`, or one JSON array."""
    values = list(declared or [])
    for key in request.POST:
        if key.startswith("characters["):
            values.extend(request.POST.getlist(key))
    found = []
    for value in values:
        text = (value or "").strip()
        if text.startswith(("[", "{")):
            try:
                parsed = json.loads(text)
            except ValueError:
                raise bad_request("'characters' isn't a valid JSON list.", param="characters") from None
            items = parsed if isinstance(parsed, list) else [parsed]
            for item in items:
                item = item.get("id") if isinstance(item, dict) else item
                found.append(item if isinstance(item, str) else "")
        elif text:
            found.append(text)
    return found


def clean_characters(request: HttpRequest, declared: list[str] | None) -> list[str]:
    """The cameo codes behind `characters` (`char_<code>` for characters and person cameos alike),
    at most CAMEO_MAX_PER_VIDEO. Whether the caller may use each is start_generation's consent
    check, the same as on the web; an unknown id is refused exactly like one they may not use."""
    ids = list(dict.fromkeys(character_values(request, declared)))
    limit = settings.CAMEO_MAX_PER_VIDEO
    if len(ids) > limit:
        raise bad_request(
            f"A video can use at most {limit} characters; this one names {len(ids)}.", param="characters"
        )
    codes = []
    for value in ids:
        prefix = next((p for p in CHARACTER_PREFIXES if value.startswith(p)), "")
        code = value.removeprefix(prefix)
        if not CHARACTER_CODE_RE.fullmatch(code):
            raise bad_request(
                f"Invalid character id: {value[:40]!r}. Use the id of a character or cameo (char_...).",
                param="characters",
            )
        codes.append(code)
    return codes


@contextmanager
def site_rules() -> Iterator[None]:
    """The site's refusals (start_generation's) in the error shape, with the site's message:
    quotas 429 `rate_limit_exceeded`, the prompt policy 400 `moderation_blocked` (OpenAI's code),
    cameo consent and anything else refused 400 with its category as code, queue down 503."""
    try:
        yield
    except GenerationUnavailable as exc:
        raise ApiError(503, str(exc), code="service_unavailable", headers={"Retry-After": "10"}) from exc
    except GenerationRefused as exc:
        category = getattr(exc, "category", "refused")
        if isinstance(exc, QuotaExceeded) or category in RATE_LIMIT_CATEGORIES:
            retry_after = getattr(exc, "retry_after", None)
            headers = rate_limit_headers(retry_after, getattr(exc, "limit", None)) if retry_after else {}
            raise ApiError(429, str(exc), code="rate_limit_exceeded", headers=headers) from exc
        if isinstance(exc, PolicyRefused):
            raise ApiError(400, str(exc), code="moderation_blocked", param="prompt") from exc
        raise ApiError(400, str(exc), code=category) from exc


def only_id_reference(upload: UploadedFile | None) -> None:
    if upload is not None:
        raise bad_request(
            "Uploading a video isn't supported here; refer to one of your completed videos by id "
            "(the form field video[id]; with the openai package: video=openai.omit, "
            'extra_body={"video": {"id": "video_..."}}).',
            param="video",
            code="unsupported_value",
        )


# --- endpoints -----------------------------------------------------------------------------
# Paths without parameters come first: Django tries patterns in order and `/videos/{video_id}`
# would otherwise swallow `/videos/extensions`.


def character_object(cameo) -> dict:
    return {"id": f"char_{cameo.code}", "created_at": int(cameo.created.timestamp()), "name": cameo.name}


@router.post("/videos/characters", response={200: CharacterOut, **ERROR_RESPONSES})
def create_character(request: HttpRequest, name: Form[str], video: File[UploadedFile]):
    """Make a character (a cameo of a pet or object) from a clip. Calling this attests that the
    character is yours to use and is not a person; clips showing a human face are rejected when
    the clip is analysed. The character is usable once its analysis verifies it."""
    from cameos.actions.character import create_character as make_character
    from cameos.errors import CameoRefused
    from cameos.liveness import RecordingError

    try:
        cameo = make_character(request.auth, name=name, uploads=[video], attested=True)
    except (CameoRefused, RecordingError) as exc:
        raise bad_request(str(exc), param="video", code="invalid_character") from None
    return character_object(cameo)


@router.get("/videos/characters/{character_id}", response={200: CharacterOut, **ERROR_RESPONSES})
def get_character(request: HttpRequest, character_id: str):
    from cameos.models import Cameo

    code = character_id.removeprefix("char_")
    cameo = Cameo.objects.filter(owner=request.auth, kind=Cameo.Kind.CHARACTER, code=code).first()
    if cameo is None:
        raise not_found(f"No character found with id '{character_id[:80]}'.")
    return character_object(cameo)


@router.post("/videos/extensions", response=CREATE_RESPONSES)
def extend(
    request: HttpRequest,
    prompt: Form[str],
    seconds: Form[str],
    video_ref: VideoRef = None,
    video: File[UploadedFile] = None,
):
    """Continue a completed video by `seconds` (the new segment), from its last frame.

    The new video reports and delivers the source followed by the segment: its `seconds` is the total.
    """
    only_id_reference(video)
    prompt = clean_prompt(prompt)
    source = get_source(request, video_ref, param="video")
    added = clean_seconds(seconds)
    total = delivered_seconds(source) + added
    limit = capabilities().max_total_seconds
    if total > limit:
        raise bad_request(
            f"Extending a {delivered_seconds(source)} s video by {added} s makes {total} s; the most is {limit} s.",
            param="seconds",
        )
    with site_rules():
        generation = extend_video(request.auth, source, prompt=prompt, seconds=added)
    return video_object(generation)


@router.post("/videos/edits", response=CREATE_RESPONSES)
def edit(
    request: HttpRequest,
    prompt: Form[str],
    video_ref: VideoRef = None,
    video: File[UploadedFile] = None,
    start_seconds: Form[str] = None,
    end_seconds: Form[str] = None,
):
    """Make the video again from a new prompt, starting from it: same length and orientation.

    With `start_seconds` and `end_seconds` (this site's addition), a retake: only that range is
    made again, leading on from what is before it into what is after it, which both stay."""
    only_id_reference(video)
    prompt = clean_prompt(prompt)
    source = get_source(request, video_ref, param="video")
    if start_seconds is None and end_seconds is None:
        return video_object(derive(request, source, prompt))
    start, end = (
        clean_time(value, name)
        for value, name in ((start_seconds, "start_seconds"), (end_seconds, "end_seconds"))
    )
    with site_rules():
        return video_object(start_retake(request.auth, source, prompt=prompt, start=start, end=end))


def clean_time(value: str | None, param: str) -> float:
    """A retake bound: a finite number of seconds, given."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = float("nan")
    if not math.isfinite(seconds) or seconds < 0:
        raise bad_request(
            f"'{param}' must be a number of seconds of the video (both bounds are needed).", param=param
        )
    return seconds


def derive(request: HttpRequest, source: Generation, prompt: str) -> Generation:
    """A remix or edit: a new video from `prompt`, continuing from `source` (its last frame)."""
    with site_rules():
        return start_generation(
            request.auth,
            prompt=prompt,
            seconds=delivered_seconds(source),
            orientation=source.orientation,
            source=source,
        )


@router.post("/videos", response=CREATE_RESPONSES)
def create(
    request: HttpRequest,
    prompt: Form[str],
    model: Form[str] = None,
    seconds: Form[str] = None,
    size: Form[str] = None,
    input_reference: File[UploadedFile] = None,
    characters: Form[list[str]] = None,
):
    """Start a video. `seconds` and `size` take the package's values that this site's model offers
    (errors list them); `input_reference` is an image the video starts from; `characters` names up
    to two characters or cameos (`char_...`) that you may use, as on the site."""
    if any(key.startswith("input_reference[") for key in request.POST):
        raise bad_request("'input_reference' must be an uploaded image file.", param="input_reference")
    prompt = clean_prompt(prompt)
    clean_model(model)
    length = clean_seconds(seconds, default=DEFAULT_SECONDS)
    orientation = clean_size(size)
    image = clean_reference(input_reference) if input_reference is not None else None
    cameo_codes = clean_characters(request, characters)
    with site_rules():
        generation = start_generation(
            request.auth,
            prompt=prompt,
            seconds=length,
            orientation=orientation,
            source_image=image,
            cameo_codes=cameo_codes,
        )
    return video_object(generation)


@router.get("/videos", response={200: VideoListOut, **ERROR_RESPONSES})
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


@router.get("/videos/{video_id}", response={200: VideoOut, **ERROR_RESPONSES})
def retrieve(request: HttpRequest, video_id: str, response: HttpResponse):
    generation = get_video(request, video_id)
    if generation.is_active:
        # The package's poll() waits this long between requests.
        response["openai-poll-after-ms"] = POLL_AFTER_MS
    return video_object(generation)


@router.delete("/videos/{video_id}", response={200: VideoDeletedOut, **ERROR_RESPONSES})
def delete(request: HttpRequest, video_id: str):
    """Delete a video and its files; an unfinished one is stopped."""
    generation = get_video(request, video_id)
    delete_video(generation)
    return {"id": video_id, "object": "video.deleted", "deleted": True}


@router.get(
    "/videos/{video_id}/content",
    response={**ERROR_RESPONSES},
    openapi_extra={
        "responses": {
            "200": {
                "description": "The file; honours Range requests.",
                "content": {
                    "video/mp4": {"schema": {"type": "string", "format": "binary"}},
                    "image/webp": {"schema": {"type": "string", "format": "binary"}},
                    "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                },
            }
        }
    },
)
def download_content(
    request: HttpRequest,
    video_id: str,
    variant: Query[Literal["video", "thumbnail", "spritesheet"]] = "video",
):
    """The MP4 (`video`), the poster as WebP (`thumbnail`, as OpenAI's) or the sprite sheet JPEG
    (`spritesheet`)."""
    from cameos.models import Withdrawal

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


@router.post("/videos/{video_id}/remix", response=CREATE_RESPONSES)
def remix(request: HttpRequest, video_id: str, payload: RemixIn):
    """A new video from a new prompt, continuing from this one: same length and orientation."""
    prompt = clean_prompt(payload.prompt)
    source = get_source(request, video_id)
    return video_object(derive(request, source, prompt))
