from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from generation import actions, hooks
from generation.forms import CreateForm, RetakeForm, ShotFormSet
from generation.models import Generation
from generation.serving import serve_file

MEDIA_VARIANTS = {
    "video": "video",
    "poster": "poster",
    "sprite": "sprite",
    "preview": "preview",
    "source": "source_image",
}


def get_generation(request: HttpRequest, code: str) -> Generation:
    """The generation if this user may see it, else 404 (never 403: that would leak existence)."""
    return get_object_or_404(Generation.objects.visible_to(request.user).select_related("owner"), code=code)


class Withdrawn(Exception):
    def __init__(self, withdrawal):
        self.withdrawal = withdrawal


def get_servable_generation(request: HttpRequest, code: str) -> Generation:
    """`get_generation` for the views that show or reuse the video itself (page, media, download,
    source of a new one): raises Withdrawn when consent for a likeness in it ended (its author gets
    the 410 page; moderators are never refused), also once the draft itself is gone."""
    withdrawal = hooks.cast().withdrawal_of_draft(code, request.user)
    if withdrawal is not None:
        raise Withdrawn(withdrawal)
    return get_generation(request, code)


def answers_withdrawn(view):
    """Turn `Withdrawn` into the plain 410 page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except Withdrawn as exc:
            return hooks.cast().withdrawn_page(request, exc.withdrawal)

    return wrapper


def resolve_source(request: HttpRequest, code: str, remix_post: str = "") -> Generation | None:
    """The generation to continue from: one of my own drafts (`?source=`) or a post I may
    remix (`?remix=`, checked by the feed's one visibility rule). 404 otherwise."""
    if remix_post:
        return hooks.remixes().source(request.user, remix_post)
    if not code:
        return None
    withdrawal = hooks.cast().withdrawal_of_draft(code, request.user)
    if withdrawal is not None:
        raise Withdrawn(withdrawal)
    source = (
        Generation.objects.visible_to(request.user)
        .filter(code=code, status=Generation.Status.SUCCEEDED)
        .first()
    )
    if source is None:
        raise Http404("No such video to remix.")
    return source


@login_required
@answers_withdrawn
def create(request: HttpRequest) -> HttpResponse:
    source_code = request.POST.get("source") or request.GET.get("source", "")
    remix_code = request.POST.get("remix") or request.GET.get("remix", "")
    source = resolve_source(request, source_code, remix_code)
    initial = {"source": source_code, "remix": remix_code}
    if source is not None:
        initial.update(prompt=source.prompt, seconds=source.seconds, orientation=source.orientation)
    form = CreateForm(request.POST or None, initial=initial, user=request.user)
    shots = ShotFormSet(request.POST or None, prefix="shots")
    if request.method == "POST" and form.is_valid():
        storyboard = None
        if form.cleaned_data["use_storyboard"]:
            if shots.is_valid():
                storyboard = shots.shots()
        if not form.cleaned_data["use_storyboard"] or storyboard:
            cameo_codes = list(form.cleaned_data["cameos"])
            if source is not None:
                # A remix or continuation shows whoever its source showed: their consent counts too.
                cameo_codes += hooks.cast().codes_for(source)
            try:
                generation = actions.start_generation(
                    request.user,
                    prompt=form.cleaned_data["prompt"].strip(),
                    seconds=form.cleaned_data["seconds"],
                    orientation=form.cleaned_data["orientation"],
                    seed=form.cleaned_data["seed"],
                    storyboard=storyboard,
                    source=source,
                    cameo_codes=cameo_codes,
                )
            except (actions.GenerationRefused, actions.GenerationUnavailable) as exc:
                form.add_error(None, str(exc))
            else:
                return redirect(generation)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "shots": shots, "source": source, "nav": "create"}
    if source is not None and remix_code:
        # The form names what is being remixed: its poster, caption and author.
        context["remix_post"] = hooks.remixes().post(remix_code)
    return render(request, "generation/create.html", context, status=status)


@login_required
@answers_withdrawn
def detail(request: HttpRequest, code: str) -> HttpResponse:
    generation = get_servable_generation(request, code)
    context = {"generation": generation, "nav": "drafts"}
    if request.htmx:
        return render(request, "generation/_job.html", context)
    return render(request, "generation/detail.html", context)


@login_required
def drafts(request: HttpRequest) -> HttpResponse:
    generations = list(Generation.objects.filter(owner=request.user).order_by("-created")[:60])
    queued = [g for g in generations if g.status == Generation.Status.QUEUED]
    if queued:
        # Positions for every queued draft from one query rather than one per row.
        ahead = list(
            Generation.objects.filter(status=Generation.Status.QUEUED)
            .order_by("created")
            .values_list("pk", flat=True)
        )
        place = {pk: i for i, pk in enumerate(ahead, start=1)}
        for g in queued:
            g.position = place.get(g.pk)
    return render(request, "generation/drafts.html", {"generations": generations, "nav": "drafts"})


@login_required
@require_POST
def cancel(request: HttpRequest, code: str) -> HttpResponse:
    generation = get_generation(request, code)
    if actions.cancel_generation(generation):
        messages.info(request, "Cancelling.")
    else:
        messages.warning(request, "That video had already finished.")
    return redirect(generation)


@login_required
@require_POST
def retry(request: HttpRequest, code: str) -> HttpResponse:
    generation = get_generation(request, code)
    try:
        new = actions.retry_generation(generation)
    except (actions.GenerationRefused, actions.GenerationUnavailable) as exc:
        messages.error(request, str(exc))
        return redirect(generation)
    return redirect(new)


@login_required
@require_POST
def retake(request: HttpRequest, code: str) -> HttpResponse:
    """Regenerate a range of one's own video (staff may see others' drafts, not retake them)."""
    generation = get_generation(request, code)
    if generation.owner_id != request.user.pk:
        raise Http404()
    form = RetakeForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(f"{form[name].label}: {' '.join(e)}" for name, e in form.errors.items())
        messages.error(request, f"Retake not started. {errors}")
        return redirect(generation)
    try:
        new = actions.start_retake(request.user, generation, **form.cleaned_data)
    except (actions.GenerationRefused, actions.GenerationUnavailable) as exc:
        messages.error(request, str(exc))
        return redirect(generation)
    return redirect(new)


@login_required
@require_POST
def delete(request: HttpRequest, code: str) -> HttpResponse:
    generation = get_generation(request, code)
    actions.delete_generation(generation)
    messages.success(request, "Draft deleted.")
    return redirect("generation:drafts")


@login_required
@answers_withdrawn
def media(request: HttpRequest, code: str, variant: str) -> HttpResponse:
    field_name = MEDIA_VARIANTS.get(variant)
    if field_name is None:
        raise Http404()
    generation = get_servable_generation(request, code)
    field = getattr(generation, field_name)
    if not field:
        raise Http404()
    return serve_file(request, field)
