"""`/v1/videos`: the video endpoints of the OpenAI API, on this site's generations.

A video is one of the caller's own generations, addressed as `video_<code>`. Creating one goes
through `generation.actions.start_generation` like the web form, so quotas, moderation and cameo
consent apply unchanged. Others' videos are 404, never 403. POST bodies are multipart/form-data
(what the `openai` package sends), except remix, which is JSON.

This module is the routing table; the endpoints live by subject in `create` (create, remix,
edits, extensions), `content` (list, retrieve, delete, download) and `characters`, with the
`video` object in `objects` and input checks in `inputs`.
"""

from collections.abc import Callable

from ninja import Router

from api.schemas import CharacterOut, ErrorOut, VideoDeletedOut, VideoListOut, VideoOut
from api.videos import characters, content, create

ERROR_RESPONSES = {400: ErrorOut, 401: ErrorOut, 404: ErrorOut}
CREATE_RESPONSES = {200: VideoOut, **ERROR_RESPONSES, 429: ErrorOut, 503: ErrorOut}
CONTENT_DOCS = {
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
}

router = Router(tags=["videos"])


def route(method: str, path: str, view: Callable, **options) -> None:
    # The operation ids the schema has always published (from when this was one module).
    router.api_operation([method], path, operation_id=f"api_videos_{view.__name__}", **options)(view)


# Paths without parameters come first: Django tries patterns in order and `/videos/{video_id}`
# would otherwise swallow `/videos/extensions`.
route(
    "POST", "/videos/characters", characters.create_character, response={200: CharacterOut, **ERROR_RESPONSES}
)
route(
    "GET",
    "/videos/characters/{character_id}",
    characters.get_character,
    response={200: CharacterOut, **ERROR_RESPONSES},
)
route("POST", "/videos/extensions", create.extend, response=CREATE_RESPONSES)
route("POST", "/videos/edits", create.edit, response=CREATE_RESPONSES)
route("POST", "/videos", create.create, response=CREATE_RESPONSES)
route("GET", "/videos", content.list_videos, response={200: VideoListOut, **ERROR_RESPONSES})
route("GET", "/videos/{video_id}", content.retrieve, response={200: VideoOut, **ERROR_RESPONSES})
route("DELETE", "/videos/{video_id}", content.delete, response={200: VideoDeletedOut, **ERROR_RESPONSES})
route(
    "GET",
    "/videos/{video_id}/content",
    content.download_content,
    response={**ERROR_RESPONSES},
    openapi_extra=CONTENT_DOCS,
)
route("POST", "/videos/{video_id}/remix", create.remix, response=CREATE_RESPONSES)
