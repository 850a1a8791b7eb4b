"""Personal API tokens (Settings > API tokens) and the API docs page's static assets."""

from pathlib import Path

import ninja
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import ApiToken
from api.forms import TokenForm

MAX_LIVE_TOKENS = 20
DOCS_ASSETS = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-init.js": "text/javascript",
}
DOCS_ASSET_DIR = Path(ninja.__file__).parent / "static" / "ninja"


def get_token(request: HttpRequest, pk: int) -> ApiToken:
    """One of the user's live tokens, else 404 (also for others' tokens: nothing leaks)."""
    return get_object_or_404(ApiToken, pk=pk, owner=request.user, revoked__isnull=True)


@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    """List live tokens; POST creates one and shows its secret once, in this response.

    The secret is rendered rather than redirected through `messages` so it is never stored, not
    even in the session; the page says to copy it now.
    """
    live = ApiToken.objects.filter(owner=request.user, revoked__isnull=True).order_by("-created")
    form = TokenForm(request.POST or None)
    created = raw = None
    status = 200
    if request.method == "POST":
        if form.is_valid() and live.count() >= MAX_LIVE_TOKENS:
            form.add_error(None, f"You have {MAX_LIVE_TOKENS} tokens. Revoke one you no longer use first.")
        if form.is_valid():
            created, raw = ApiToken.issue(request.user, form.cleaned_data["name"])
            form = TokenForm()
            status = 201
        else:
            status = 400
    context = {"tokens": list(live), "form": form, "created": created, "raw_token": raw}
    response = render(request, "api/tokens.html", context, status=status)
    if raw:
        response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def revoke_token(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_token(request, pk)
    ApiToken.objects.filter(pk=token.pk, revoked__isnull=True).update(revoked=timezone.now())
    messages.success(request, f"Token “{token.name}” revoked. Programs using it can no longer sign in.")
    return redirect("api:tokens")


def docs_asset(request: HttpRequest, name: str) -> FileResponse:
    """The Swagger UI files that ninja ships (it serves them itself only from INSTALLED_APPS)."""
    if name not in DOCS_ASSETS:
        raise Http404()
    response = FileResponse(open(DOCS_ASSET_DIR / name, "rb"), content_type=DOCS_ASSETS[name])
    response["Cache-Control"] = "public, max-age=86400"
    return response
