"""`/v1/models`: the model names this site answers to, so clients can discover them
(`client.models.list()`, `client.models.retrieve(name)` of the `openai` package).

The site runs one video model. OpenAI's Sora names are aliases of it (a program written for the
Sora API keeps its `model=` argument); the site's own names are the model's public name and the
capability profile.
"""

from django.http import HttpRequest
from ninja import Router

from api.errors import ApiError
from api.schemas import ErrorOut, ModelListOut, ModelOut
from api.videos.inputs import OPENAI_MODELS, own_model_names

router = Router(tags=["models"])

OWNER = "sorasite"
# When OpenAI released each dated Sora name (the undated ones point at the first release).
SORA_RELEASED = {
    "sora-2": 1759708800,
    "sora-2-pro": 1759708800,
    "sora-2-2025-10-06": 1759708800,
    "sora-2-pro-2025-10-06": 1759708800,
    "sora-2-2025-12-08": 1765152000,
}


def model_objects() -> list[dict]:
    objects = [
        {"id": name, "object": "model", "created": SORA_RELEASED.get(name, 0), "owned_by": OWNER}
        for name in OPENAI_MODELS
    ]
    objects += [
        {"id": name, "object": "model", "created": 0, "owned_by": OWNER} for name in own_model_names()
    ]
    return objects


@router.get("/models", response={200: ModelListOut, 401: ErrorOut})
def list_models(request: HttpRequest):
    """The names `model` accepts in `POST /v1/videos`; all of them mean this site's model."""
    return {"object": "list", "data": model_objects()}


@router.get("/models/{path:model}", response={200: ModelOut, 401: ErrorOut, 404: ErrorOut})
def retrieve_model(request: HttpRequest, model: str):
    for item in model_objects():
        if item["id"] == model:
            return item
    raise ApiError(
        404,
        f"The model '{model[:80]}' does not exist. GET /v1/models lists them.",
        param="model",
        code="model_not_found",
    )
