"""Checking what a caller sends to the video endpoints: each `clean_*` returns the typed value or
raises a 400 in the API's error shape naming the parameter; `site_rules` turns the site's own
refusals into the same shape."""

import io
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.files.base import ContentFile
from django.http import HttpRequest
from ninja import UploadedFile
from PIL import Image

from api.errors import ApiError, bad_request, rate_limit_headers
from api.videos.objects import model_name
from generation.actions import (
    GenerationRefused,
    GenerationUnavailable,
    PolicyRefused,
    QuotaExceeded,
    capabilities,
)
from generation.forms import BROKEN_TEXT, MAX_PROMPT, MAX_SOURCE_IMAGE_BYTES

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
MAX_IMAGE_PIXELS = 4096 * 4096
IMAGE_FORMATS = {"JPEG", "PNG", "WEBP"}
# Categories of GenerationRefused that mean "slow down" rather than "never".
RATE_LIMIT_CATEGORIES = {"quota", "rate_limit"}


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
