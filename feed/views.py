from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from accounts.models import User


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "feed/home.html", {"nav": "feed"})


def profile(request: HttpRequest, handle: str) -> HttpResponse:
    person = get_object_or_404(User, handle__iexact=handle, is_active=True)
    return render(request, "feed/profile.html", {"person": person, "nav": "profile"})


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    return render(request, "feed/notifications.html", {})
