"""Reporting, moderation notices, and the person's own data: download it, delete the account."""

import tempfile

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from moderation import actions, targets, userdata
from moderation.forms import DeleteAccountForm, ReportForm
from moderation.models import ModerationNotice
from sora_site.ratelimit import ratelimit


def safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return fallback


@login_required
@ratelimit("report")
def report(request: HttpRequest, kind: str, code: str) -> HttpResponse:
    """Report a post, comment, profile or cameo the person can see (404 for anything else).

    htmx requests get the form fragment in place of the Report link, then a thank-you fragment.
    """
    target = targets.find_reportable(request.user, kind, code)
    page = target.get_absolute_url() if hasattr(target, "get_absolute_url") else "/"
    form = ReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.file_report(request.user, target, form.cleaned_data["reason"], form.cleaned_data["note"])
        except actions.ReportRefused as exc:
            form.add_error(None, str(exc))
        else:
            thanks = "Thanks for your report. A moderator will look at it, and you'll hear what came of it."
            if request.htmx:
                return render(request, "moderation/_report_done.html", {"message": thanks})
            messages.success(request, thanks)
            return redirect(safe_next(request, page))
    context = {
        "form": form,
        "target": target,
        "kind": kind,
        "code": code,
        "described": targets.describe_for_people(target),
        "next": safe_next(request, page),
    }
    if request.htmx:
        # 200 even with errors: htmx swaps only 2xx answers, and the form must show them.
        return render(request, "moderation/_report_form.html", context)
    return render(request, "moderation/report.html", context, status=400 if form.errors else 200)


@login_required
def notices(request: HttpRequest) -> HttpResponse:
    """The person's moderation notices, newest first; opening the page marks them read."""
    rows = list(ModerationNotice.objects.filter(recipient=request.user).order_by("-created", "-id")[:100])
    actions.mark_notices_read(request.user)
    return render(request, "moderation/notices.html", {"notices": rows})


@login_required
def my_data(request: HttpRequest) -> HttpResponse:
    return render(request, "moderation/my_data.html")


@login_required
@require_POST
@ratelimit("export", methods=("POST",))
def download_my_data(request: HttpRequest) -> HttpResponse:
    """The zip of everything the site holds about the person (as `export_user` makes it)."""
    archive = tempfile.TemporaryFile()
    userdata.write_export(request.user, archive)
    archive.seek(0)
    name = f"{request.user.handle}-data-{timezone.now():%Y%m%d}.zip"
    return FileResponse(archive, as_attachment=True, filename=name, content_type="application/zip")


@login_required
def delete_account(request: HttpRequest) -> HttpResponse:
    """Erase the account and everything in it, after the password and the typed handle."""
    form = DeleteAccountForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = request.user
        logout(request)
        actions.delete_own_account(user)
        messages.success(request, "Your account and everything in it have been deleted.")
        return redirect("/")
    status = 400 if form.errors else 200
    return render(request, "moderation/delete_account.html", {"form": form}, status=status)
