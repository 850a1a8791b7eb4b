"""The `/v1/` API: django-ninja, bearer tokens, the OpenAI error shape, docs at `/v1/docs`."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from ninja import NinjaAPI, Swagger

from api import errors
from api.auth import TokenAuth
from api.catalog import router as models_router
from api.videos import router as videos_router


class LocalSwagger(Swagger):
    """ninja's Swagger UI with the assets ninja ships, served by this site (`api:docs_asset`)
    rather than from a CDN."""

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs) -> HttpResponse:
        swagger_settings = dict(self.settings, url=self.get_openapi_url(api, kwargs))
        return render(request, "api/docs.html", {"swagger_settings": swagger_settings, "api": api})


api = NinjaAPI(
    title="Sora Site API",
    version="1",
    description=(
        "The OpenAI video API on this site: point the `openai` package at `<site>/v1` with a "
        "personal token from Settings > API tokens. Every rule of the site applies as on the web."
    ),
    urls_namespace="api:v1",
    auth=TokenAuth(),
    docs=LocalSwagger(settings={"persistAuthorization": False}),
)
errors.install(api)
api.add_router("/", videos_router)
api.add_router("/", models_router)
