import json
import tempfile
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from generation.serving import serve_file
from generation.views import answers_withdrawn, get_servable_generation
from provenance.actions import ExportFailed, ensure_export, verify_video
from provenance.forms import VerifyForm
from provenance.verify import MATCH_CONFIDENCE, UnsupportedMediaError


def verify(request: HttpRequest) -> HttpResponse:
    """Public: upload a video, learn whether it carries our manifest, our mark or a known fingerprint."""
    # Bound on every POST, so one without a file is told so rather than shown a blank form.
    bound = request.method == "POST"
    form = VerifyForm(request.POST if bound else None, request.FILES if bound else None)
    report = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["video"]
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "upload"
            with open(path, "wb") as fh:
                for chunk in upload.chunks():
                    fh.write(chunk)
            try:
                report = verify_video(str(path), viewer=request.user)
            except UnsupportedMediaError as exc:
                form.add_error("video", str(exc))
    status = 400 if form.errors else 200
    # The page lists the matches its summary counts (weak ones stay in the full report).
    matches = (
        [m for m in report["fingerprint"]["matches"] if m["confidence"] >= MATCH_CONFIDENCE] if report else []
    )
    context = {
        "form": form,
        "report": report,
        "matches": matches,
        "report_json": json.dumps(report, indent=2) if report else "",
    }
    return render(request, "provenance/verify.html", context, status=status)


@login_required
@answers_withdrawn
def download(request: HttpRequest, code: str) -> HttpResponse:
    """The watermarked, signed export rendition of a draft as a download (the unmarked draft never
    leaves); the draft's own page links here."""
    generation = get_servable_generation(request, code)
    try:
        export = ensure_export(generation)
    except ExportFailed as exc:
        messages.error(request, str(exc))
        return redirect(generation)
    return serve_file(request, export.file, download_name=f"{settings.SITE_NAME}-{generation.code}.mp4")
