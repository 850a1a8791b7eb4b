from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.models import User
from cameos import ledger
from cameos.actions import recording
from cameos.actions.character import create_character
from cameos.actions.consent import usable_cameos_for_picker
from cameos.actions.controls import (
    approve_user,
    block_user_of,
    delete_cameo,
    remove_approval,
    remove_video,
    update_cameo_settings,
)
from cameos.actions.uses import mark_uses_seen
from cameos.actions.voice import set_voice_use, submit_voice_passage
from cameos.errors import CameoRefused
from cameos.forms import (
    ApprovalForm,
    CameoSettingsForm,
    CharacterForm,
    DeleteCameoForm,
    RecordingForm,
    VoiceForm,
)
from cameos.liveness import RecordingError, RecordingTooLarge
from cameos.liveness.passages import passage_for
from cameos.models import Cameo, CameoMedia, CameoUse, Challenge, LedgerEntry
from generation.serving import serve_file

LEDGER_ON_PAGE = 20
USES_ON_PAGE = 100


def get_cameo(request: HttpRequest, code: str, *, manage: bool = False) -> Cameo:
    """One of the user's own cameos; staff may also look at (not manage) anyone's. 404 otherwise,
    never 403: that would tell a stranger the cameo exists."""
    rows = Cameo.objects.select_related("owner")
    if manage or not request.user.is_staff:
        rows = rows.filter(owner=request.user)
    return get_object_or_404(rows, code=code)


def get_use(request: HttpRequest, code: str, *, manage: bool = False) -> CameoUse:
    """A use of one of the user's own cameos (staff may look at anyone's). 404 otherwise."""
    rows = CameoUse.objects.select_related("cameo__owner", "user", "generation")
    if manage or not request.user.is_staff:
        rows = rows.filter(cameo__owner=request.user)
    return get_object_or_404(rows, code=code)


def wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@login_required
def cameo_list(request: HttpRequest) -> HttpResponse:
    mine = list(
        Cameo.objects.filter(owner=request.user)
        .select_related("owner")
        .annotate(unseen=Count("uses", filter=Q(uses__seen=False)))
        .order_by("-created")
    )
    person = next(
        (c for c in mine if c.kind == Cameo.Kind.PERSON and c.status in recording.LIVE_PERSON_STATUSES), None
    )
    live_characters = (Cameo.Status.DELETED, Cameo.Status.REJECTED)
    context = {
        "person": person,
        "characters": [c for c in mine if c.kind == Cameo.Kind.CHARACTER and c.status not in live_characters],
        "attempts": [
            c for c in mine if c != person and (c.kind == Cameo.Kind.PERSON or c.status in live_characters)
        ],
        "shared": [c for c in usable_cameos_for_picker(request.user) if c.owner_id != request.user.pk],
        "nav": "cameos",
    }
    return render(request, "cameos/list.html", context)


@login_required
def record(request: HttpRequest) -> HttpResponse:
    """The recorder: a challenge, a countdown, a timer, the upload and the live verdict. Without
    JavaScript, `?challenge=` shows an issued challenge beside a plain upload form."""
    current = recording.person_cameo_of(request.user)
    if current is not None and current.is_active:
        messages.info(request, "You already have a verified cameo. Delete it first to record a new one.")
        return redirect(current)
    challenge = None
    nonce = request.GET.get("challenge", "")
    if nonce:
        challenge = Challenge.objects.filter(nonce=nonce, owner=request.user, used__isnull=True).first()
    return render(request, "cameos/record.html", _record_context(challenge, RecordingForm()))


def _record_context(challenge: Challenge | None, form: RecordingForm, error: str = "") -> dict:
    return {
        "challenge": challenge,
        "form": form,
        "error": error,
        "record_seconds": settings.CAMEO_RECORD_SECONDS,
        "countdown_seconds": settings.CAMEO_COUNTDOWN_SECONDS,
        "min_seconds": settings.CAMEO_MIN_SECONDS,
        "max_bytes": settings.CAMEO_MAX_UPLOAD_BYTES,
        "nav": "cameos",
    }


@login_required
@require_POST
def challenge(request: HttpRequest) -> HttpResponse:
    try:
        issued = recording.issue_challenge(request.user)
    except CameoRefused as exc:
        if wants_json(request):
            return JsonResponse({"error": str(exc)}, status=409)
        messages.error(request, str(exc))
        return redirect("cameos:list")
    if wants_json(request):
        return JsonResponse(issued.as_dict(), status=201)
    return redirect(f"{reverse('cameos:record')}?challenge={issued.nonce}")


@login_required
@require_POST
def upload(request: HttpRequest) -> HttpResponse:
    """Receive a recording made for a challenge. 202 with the cameo's state (or a redirect to
    its page without JavaScript); a clear 4xx with nothing stored when the upload is refused."""
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    # Refused before Django reads (and spools to disk) a body far beyond the limit.
    if length > settings.CAMEO_MAX_UPLOAD_BYTES + 1_000_000:
        return _upload_refused(
            request, None, RecordingForm(), "The file is too large. Please record a shorter clip.", 413
        )
    form = RecordingForm(request.POST, request.FILES)
    nonce = request.POST.get("challenge", "")
    pending = Challenge.objects.filter(nonce=nonce, owner=request.user, used__isnull=True).first()
    if not form.is_valid():
        return _upload_refused(request, pending, form, "Please choose a recording to upload.", 400)
    try:
        cameo = recording.submit_recording(
            request.user, form.cleaned_data["challenge"], form.cleaned_data["recording"]
        )
    except (CameoRefused, RecordingError) as exc:
        status = 413 if isinstance(exc, RecordingTooLarge) else 400
        return _upload_refused(request, pending, form, str(exc), status)
    if wants_json(request):
        return JsonResponse(cameo.event(), status=202)
    messages.success(request, "Recording received: checking it now.")
    return redirect(cameo)


def _upload_refused(request, challenge, form, error: str, status: int) -> HttpResponse:
    if wants_json(request):
        return JsonResponse({"error": error}, status=status)
    return render(request, "cameos/record.html", _record_context(challenge, form, error), status=status)


@login_required
def character(request: HttpRequest) -> HttpResponse:
    bound = request.method == "POST"
    form = CharacterForm(request.POST if bound else None, request.FILES if bound else None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                cameo = create_character(
                    request.user,
                    name=form.cleaned_data["name"],
                    uploads=form.cleaned_data["files"],
                    attested=form.cleaned_data["attest"],
                )
            except (CameoRefused, RecordingError) as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, "Files received: checking them now.")
                return redirect(cameo)
    return render(request, "cameos/character.html", {"form": form, "nav": "cameos"}, status=status)


def _detail_context(request: HttpRequest, cameo: Cameo, **forms) -> dict:
    is_owner = cameo.owner_id == request.user.pk
    uses = list(
        CameoUse.objects.filter(cameo=cameo)
        .select_related("user", "generation")
        .order_by("-created", "-id")[:USES_ON_PAGE]
    )
    for use in uses:
        use.has_thumb = bool(use.generation and (use.generation.poster or use.generation.preview))
    entries = list(LedgerEntry.objects.filter(cameo=cameo).order_by("-seq")[:LEDGER_ON_PAGE])
    chain_ok, first_bad = ledger.verify_chain(cameo)
    media = list(CameoMedia.objects.filter(cameo=cameo).select_related("cameo"))
    return {
        "cameo": cameo,
        "is_owner": is_owner,
        "references": [m for m in media if m.role == CameoMedia.Role.REFERENCE],
        "originals": [m for m in media if m.role in (CameoMedia.Role.RECORDING, CameoMedia.Role.SOURCE)],
        "voice": next((m for m in media if m.role == CameoMedia.Role.VOICE), None),
        "voice_speech": next(
            (m for m in media if m.role == CameoMedia.Role.PASSAGE and m.position == 1), None
        ),
        "passage": cameo.voice_passage or passage_for(cameo.code, cameo.voice_checks.get("attempt", 0)),
        "voice_form": forms.get("voice_form") or VoiceForm(),
        "voice_min_seconds": settings.CAMEO_VOICE_MIN_SECONDS,
        "voice_max_seconds": settings.CAMEO_VOICE_MAX_SECONDS,
        "approvals": list(cameo.approvals.select_related("user")),
        "uses": uses,
        "entries": entries,
        "chain_ok": chain_ok,
        "first_bad": first_bad,
        "settings_form": forms.get("settings_form") or CameoSettingsForm(instance=cameo),
        "approval_form": forms.get("approval_form") or ApprovalForm(),
        "nav": "cameos",
    }


@login_required
def detail(request: HttpRequest, code: str) -> HttpResponse:
    """The "My cameo" page: state, media, who may use it, every use (other people's drafts
    included) and the ledger. With htmx, only the state fragment."""
    cameo = get_cameo(request, code)
    if request.htmx:
        return render(request, "cameos/_status.html", {"cameo": cameo})
    if cameo.owner_id == request.user.pk:
        mark_uses_seen(cameo)
    return render(request, "cameos/detail.html", _detail_context(request, cameo))


@login_required
@require_POST
def voice_upload(request: HttpRequest, code: str) -> HttpResponse:
    """Receive the owner's reading of their passage: 202 (JSON) or a redirect to the cameo page while
    it's checked; a clear 4xx with nothing stored when it is refused."""
    cameo = get_cameo(request, code, manage=True)
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > settings.CAMEO_VOICE_MAX_UPLOAD_BYTES + 1_000_000:
        return _voice_refused(
            request, cameo, VoiceForm(), "The file is too large. Please record a shorter reading.", 413
        )
    form = VoiceForm(request.POST, request.FILES)
    if not form.is_valid():
        return _voice_refused(
            request, cameo, form, "Please choose a recording of the passage to upload.", 400
        )
    try:
        submit_voice_passage(cameo, form.cleaned_data["recording"], actor=request.user)
    except (CameoRefused, RecordingError) as exc:
        status = 413 if isinstance(exc, RecordingTooLarge) else 400
        return _voice_refused(request, cameo, form, str(exc), status)
    if wants_json(request):
        return JsonResponse(cameo.event(), status=202)
    messages.success(request, "Reading received: checking it now.")
    return redirect(f"{cameo.get_absolute_url()}#voice")


def _voice_refused(request, cameo: Cameo, form, error: str, status: int) -> HttpResponse:
    if wants_json(request):
        return JsonResponse({"error": error}, status=status)
    form.add_error(None, error)
    return render(
        request, "cameos/detail.html", _detail_context(request, cameo, voice_form=form), status=status
    )


@login_required
@require_POST
def voice_use(request: HttpRequest, code: str) -> HttpResponse:
    """The owner's switch: may videos of this cameo speak in their voice."""
    cameo = get_cameo(request, code, manage=True)
    on = request.POST.get("use") == "on"
    try:
        changed = set_voice_use(cameo, on, actor=request.user)
    except CameoRefused as exc:
        messages.error(request, str(exc))
        return redirect(f"{cameo.get_absolute_url()}#voice")
    if changed:
        messages.success(
            request,
            "Videos of your cameo will speak in your voice."
            if on
            else "Your voice won't be used in new videos.",
        )
    return redirect(f"{cameo.get_absolute_url()}#voice")


@login_required
def status(request: HttpRequest, code: str) -> JsonResponse:
    """The verdict as the live event carries it, for pages that missed the event."""
    return JsonResponse(get_cameo(request, code).event())


@login_required
@require_POST
def update_settings(request: HttpRequest, code: str) -> HttpResponse:
    cameo = get_cameo(request, code, manage=True)
    if cameo.status == Cameo.Status.DELETED:
        raise Http404()
    form = CameoSettingsForm(request.POST, instance=Cameo.objects.select_related("owner").get(pk=cameo.pk))
    if form.is_valid():
        try:
            changed = update_cameo_settings(cameo, actor=request.user, **form.cleaned_data)
        except CameoRefused as exc:
            form.add_error(exc.field, str(exc))
        else:
            messages.success(request, "Saved." if changed else "Nothing changed.")
            return redirect(cameo)
    return render(
        request, "cameos/detail.html", _detail_context(request, cameo, settings_form=form), status=400
    )


@login_required
@require_POST
def approve(request: HttpRequest, code: str) -> HttpResponse:
    cameo = get_cameo(request, code, manage=True)
    if cameo.status == Cameo.Status.DELETED:
        raise Http404()
    form = ApprovalForm(request.POST)
    if form.is_valid():
        try:
            approval = approve_user(cameo, form.cleaned_data["handle"], actor=request.user)
        except CameoRefused as exc:
            form.add_error("handle", str(exc))
        else:
            messages.success(
                request,
                f"@{approval.user.handle} may use this cameo when its setting allows approved people.",
            )
            return redirect(cameo)
    return render(
        request, "cameos/detail.html", _detail_context(request, cameo, approval_form=form), status=400
    )


@login_required
@require_POST
def unapprove(request: HttpRequest, code: str, handle: str) -> HttpResponse:
    cameo = get_cameo(request, code, manage=True)
    user = get_object_or_404(User, handle__iexact=handle)
    if remove_approval(cameo, user, actor=request.user):
        messages.success(request, f"@{user.handle} is no longer approved.")
    return redirect(cameo)


@login_required
def delete(request: HttpRequest, code: str) -> HttpResponse:
    cameo = get_cameo(request, code, manage=True)
    if cameo.status == Cameo.Status.DELETED:
        return redirect(cameo)
    form = DeleteCameoForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        delete_cameo(cameo, actor=request.user, keep_videos=form.cleaned_data["keep_videos"])
        messages.success(request, "Cameo deleted: its recording, images and voice are erased.")
        return redirect("cameos:list")
    return render(request, "cameos/delete.html", {"cameo": cameo, "form": form, "nav": "cameos"})


@login_required
def ledger_export(request: HttpRequest, code: str) -> JsonResponse:
    cameo = get_cameo(request, code)
    response = JsonResponse(
        ledger.export_ledger(cameo), json_dumps_params={"indent": 2, "ensure_ascii": False}
    )
    response["Content-Disposition"] = f'attachment; filename="cameo-{cameo.code}-ledger.json"'
    return response


@login_required
def face(request: HttpRequest, code: str) -> HttpResponse:
    """The first reference image, for the Create form's picker: shown to whoever may put the
    cameo in a video (they will see that face in it anyway), 404 to everyone else."""
    cameo = get_object_or_404(Cameo.objects.usable_by(request.user), code=code)
    item = get_object_or_404(CameoMedia, cameo=cameo, role=CameoMedia.Role.REFERENCE, position=0)
    return serve_file(request, item.file)


@login_required
def media(request: HttpRequest, code: str, role: str, position: int) -> HttpResponse:
    cameo = get_cameo(request, code)
    item = get_object_or_404(CameoMedia, cameo=cameo, role=role, position=position)
    return serve_file(request, item.file)


@login_required
def use_poster(request: HttpRequest, code: str) -> HttpResponse:
    """The thumbnail of a video that used my cameo, whoever made it (their draft included)."""
    use = get_use(request, code)
    generation = use.generation
    field = (generation.poster or generation.preview) if generation is not None else None
    if not field:
        raise Http404()
    return serve_file(request, field)


@login_required
@require_POST
def remove_use(request: HttpRequest, code: str) -> HttpResponse:
    use = get_use(request, code, manage=True)
    try:
        remove_video(use, actor=request.user)
    except CameoRefused as exc:
        messages.info(request, str(exc))
    else:
        messages.success(request, f"Deleted @{use.user.handle}'s video that used your cameo.")
    return redirect(use.cameo)


@login_required
@require_POST
def block(request: HttpRequest, code: str) -> HttpResponse:
    use = get_use(request, code, manage=True)
    try:
        block_user_of(use, actor=request.user)
    except CameoRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"@{use.user.handle} is blocked and can't use your cameos.")
    return redirect(use.cameo)


def withdrawn(request: HttpRequest, withdrawal) -> HttpResponse:
    """The plain 410 page of a draft or post taken down because consent for a likeness in it
    ended: it says who withdrew consent and when, and shows nothing of the video."""
    return render(request, "cameos/withdrawn.html", {"withdrawal": withdrawal}, status=410)
