"""Characters (cameos of pets and objects) through the video API: `char_<code>`."""

from django.http import HttpRequest
from ninja import File, Form, UploadedFile

from api.errors import bad_request, not_found
from cameos.actions.character import create_character as create_cameo_character
from cameos.errors import CameoRefused
from cameos.liveness import RecordingError
from cameos.models import Cameo


def character_object(cameo: Cameo) -> dict:
    return {"id": f"char_{cameo.code}", "created_at": int(cameo.created.timestamp()), "name": cameo.name}


def create_character(request: HttpRequest, name: Form[str], video: File[UploadedFile]) -> dict:
    """Make a character (a cameo of a pet or object) from a clip. Calling this attests that the
    character is yours to use and is not a person; clips showing a human face are rejected when
    the clip is analysed. The character is usable once its analysis verifies it."""
    try:
        cameo = create_cameo_character(request.auth, name=name, uploads=[video], attested=True)
    except (CameoRefused, RecordingError) as exc:
        raise bad_request(str(exc), param="video", code="invalid_character") from None
    return character_object(cameo)


def get_character(request: HttpRequest, character_id: str) -> dict:
    code = character_id.removeprefix("char_")
    cameo = Cameo.objects.filter(owner=request.auth, kind=Cameo.Kind.CHARACTER, code=code).first()
    if cameo is None:
        raise not_found(f"No character found with id '{character_id[:80]}'.")
    return character_object(cameo)
