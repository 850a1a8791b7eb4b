"""Request and response bodies of /v1/, field for field the `openai` package's video types."""

from typing import Literal

from ninja import Field, Schema

from generation.forms import MAX_PROMPT


class ErrorDetail(Schema):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorOut(Schema):
    error: ErrorDetail


class VideoError(Schema):
    code: str
    message: str


class VideoOut(Schema):
    id: str = Field(..., examples=["video_3f2a9c1d7e8b4a6f5c0d1e2f"])
    object: Literal["video"] = "video"
    created_at: int
    completed_at: int | None = None
    expires_at: int | None = None
    model: str
    status: Literal["queued", "in_progress", "completed", "failed"]
    progress: int = Field(..., ge=0, le=100)
    prompt: str | None = None
    seconds: str = Field(..., description="Length in seconds; for extensions, the stitched total.")
    size: str = Field(..., examples=["720x1280"])
    remixed_from_video_id: str | None = None
    storyboard_mode: Literal["one_pass", "sequential"] | None = Field(
        None, description="How a storyboard was rendered: all shots in one pass, or shot by shot."
    )
    error: VideoError | None = None


class VideoListOut(Schema):
    object: Literal["list"] = "list"
    data: list[VideoOut]
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool


class VideoDeletedOut(Schema):
    id: str
    object: Literal["video.deleted"] = "video.deleted"
    deleted: bool


class RemixIn(Schema):
    prompt: str = Field(..., min_length=1, max_length=MAX_PROMPT)


class CharacterOut(Schema):
    id: str | None = None
    created_at: int
    name: str | None = None


class ModelOut(Schema):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelListOut(Schema):
    object: Literal["list"] = "list"
    data: list[ModelOut]
