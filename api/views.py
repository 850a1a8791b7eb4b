"""Personal API tokens and webhook endpoints (Settings > API tokens), and the API docs page's
static assets."""

from pathlib import Path

import ninja
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import ApiToken
from api.forms import TokenForm, WebhookEndpointForm
from api.models import WebhookDelivery, WebhookEndpoint
from api.webhooks import EndpointRefused, UnsafeURL, add_endpoint, send_test_event
from sora_site.ratelimit import ratelimit

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
    return render_tokens_page(request, context, status=status, secret_shown=bool(raw))


def render_tokens_page(
    request: HttpRequest, context: dict, *, status: int = 200, secret_shown: bool = False, **webhooks
) -> HttpResponse:
    """The tokens page with its webhooks section (`api/_webhooks.html`); `webhooks` overrides
    that section's context (its form with errors, a new endpoint whose secret is shown once)."""
    if "tokens" not in context:
        live = ApiToken.objects.filter(owner=request.user, revoked__isnull=True).order_by("-created")
        context = {"tokens": list(live), "form": TokenForm(), **context}
    context.update(webhook_section(request.user, **webhooks))
    response = render(request, "api/tokens.html", context, status=status)
    if secret_shown:
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


# --- webhooks ------------------------------------------------------------------------------

DELIVERIES_SHOWN = 10


def webhook_section(user, *, webhook_form: WebhookEndpointForm | None = None, new_endpoint=None) -> dict:
    """The webhooks section's context: the user's endpoints, each with its latest deliveries.

    Two queries (endpoints, then their deliveries), however many endpoints there are; the log is
    cut to DELIVERIES_SHOWN per endpoint in Python (a user has at most WEBHOOK_MAX_ENDPOINTS).
    """
    recent = WebhookDelivery.objects.order_by("-created", "-pk").defer("body")
    endpoints = list(
        WebhookEndpoint.objects.filter(owner=user)
        .order_by("created", "pk")
        .prefetch_related(Prefetch("deliveries", queryset=recent, to_attr="log"))
    )
    for endpoint in endpoints:
        endpoint.log = endpoint.log[:DELIVERIES_SHOWN]
    return {
        "endpoints": endpoints,
        "webhook_form": webhook_form or WebhookEndpointForm(),
        "new_endpoint": new_endpoint,
    }


def get_endpoint(request: HttpRequest, pk: int) -> WebhookEndpoint:
    """One of the user's webhook endpoints, else 404 (also for others': nothing leaks)."""
    return get_object_or_404(WebhookEndpoint, pk=pk, owner=request.user)


@login_required
@require_POST
@ratelimit("webhook")
def add_webhook(request: HttpRequest) -> HttpResponse:
    """Add an endpoint; the page shows its signing secret once, in this response (never stored
    in the session or messages, like a new token)."""
    form = WebhookEndpointForm(request.POST)
    endpoint = None
    if form.is_valid():
        try:
            endpoint = add_endpoint(request.user, form.cleaned_data["url"], form.cleaned_data["event_types"])
        except (UnsafeURL, EndpointRefused) as exc:
            form.add_error(None, str(exc))
    if endpoint is None:
        return render_tokens_page(request, {}, status=400, webhook_form=form)
    return render_tokens_page(request, {}, status=201, secret_shown=True, new_endpoint=endpoint)


@login_required
@require_POST
def remove_webhook(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_endpoint(request, pk)
    endpoint.delete()
    messages.success(request, f"Webhook endpoint {endpoint.url} removed. It gets no more events.")
    return redirect("api:tokens")


@login_required
@require_POST
@ratelimit("webhook")
def test_webhook(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_endpoint(request, pk)
    send_test_event(endpoint)
    messages.success(
        request, f"A test video.completed event is on its way to {endpoint.url}. Reload to see how it went."
    )
    return redirect("api:tokens")
