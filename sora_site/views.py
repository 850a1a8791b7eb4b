"""Operator pages: the Prometheus scrape and the workers' health in the admin."""

import hmac

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from sora_site import metrics


def metrics_allowed(request: HttpRequest) -> bool:
    """Staff, or a scraper presenting METRICS_TOKEN as a bearer token (compared in constant time)."""
    if request.user.is_authenticated and request.user.is_staff:
        return True
    token = settings.METRICS_TOKEN
    sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return bool(token) and hmac.compare_digest(sent.encode(), token.encode())


@never_cache
def prometheus(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        response = HttpResponse("Metrics need a staff login or the metrics token.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    from prometheus_client import CONTENT_TYPE_LATEST

    return HttpResponse(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)


@never_cache
@staff_member_required(login_url=settings.LOGIN_URL)
def workers(request: HttpRequest) -> HttpResponse:
    from django.contrib import admin

    context = {**admin.site.each_context(request), "title": "Workers", "workers": metrics.workers()}
    return render(request, "admin/workers.html", context)
