"""Starting videos: create, remix, edit (and retake) and extend. Each goes through the site's own
actions (`start_generation`, `start_retake`, `extend_video`), so quotas, moderation and cameo
consent apply as on the web."""

import math
from typing import Annotated

from django.http import HttpRequest
from ninja import File, Form, UploadedFile

from api.actions import delivered_seconds, extend_video
from api.errors import bad_request
from api.schemas import RemixIn
from api.videos.inputs import (
    clean_characters,
    clean_model,
    clean_prompt,
    clean_reference,
    clean_seconds,
    clean_size,
    only_id_reference,
    site_rules,
)
from api.videos.objects import get_source, video_object
from generation.actions import capabilities, start_generation, start_retake
from generation.models import Generation

DEFAULT_SECONDS = 4

VideoRef = Annotated[str, Form(alias="video[id]", description="The id of one of your completed videos.")]


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


def remix(request: HttpRequest, video_id: str, payload: RemixIn):
    """A new video from a new prompt, continuing from this one: same length and orientation."""
    prompt = clean_prompt(payload.prompt)
    source = get_source(request, video_id)
    return video_object(derive(request, source, prompt))
