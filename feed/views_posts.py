"""Post pages and what a viewer does to a post: watch, like, comment, publish, take down."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from cameos.models import Withdrawal
from cameos.views import withdrawn
from feed import actions, ranking
from feed.forms import CommentForm, PostForm
from feed.models import Comment, Post
from generation.models import Generation
from generation.serving import serve_file
from provenance.actions import ExportFailed
from sora_site.ratelimit import ratelimit

MEDIA_VARIANTS = ("video", "poster", "sprite")


def get_post(request: HttpRequest, code: str) -> Post:
    """The post if this visitor may see it, else 404 (never 403: that would leak existence)."""
    rows = Post.objects.visible_to(request.user).for_cards().with_viewer_state(request.user)
    return get_object_or_404(rows, code=code)


def get_own_post(request: HttpRequest, code: str) -> Post:
    return get_object_or_404(Post.objects.select_related("generation"), code=code, author=request.user)


def post_detail(request: HttpRequest, code: str) -> HttpResponse:
    try:
        post = get_post(request, code)
    except Http404:
        # A post taken down because consent for a likeness ended says so (410), not "not found".
        if (withdrawal := Withdrawal.objects.of_post(code, request.user)) is not None:
            return withdrawn(request, withdrawal)
        raise
    viewer = request.user
    visible = Post.objects.visible_to(viewer)
    # Always one query, so the page's query count doesn't depend on whether it is a remix.
    source = visible.filter(pk=post.source_post_id or 0).select_related("author").first()
    remixes = list(visible.filter(source_post=post).select_related("author").order_by("-created")[:24])
    replies = Comment.objects.visible_to(viewer).select_related("author")
    comments = list(
        Comment.objects.visible_to(viewer)
        .filter(post=post, parent=None)
        .select_related("author")
        .prefetch_related(Prefetch("replies", queryset=replies, to_attr="visible_replies"))[:200]
    )
    for comment in comments:
        for c in [comment, *comment.visible_replies]:
            c.can_delete = viewer.is_authenticated and (
                viewer.is_staff or viewer.pk in (c.author_id, post.author_id)
            )
    actions.record_view(viewer, post)
    context = {
        "post": post,
        "source": source,
        "remixes": remixes,
        "comments": comments,
        "comment_form": CommentForm(),
        "share_url": request.build_absolute_uri(post.get_absolute_url()),
        "poster_url": request.build_absolute_uri(post.media_url("poster")),
        "video_url": request.build_absolute_uri(post.media_url("video")),
        "is_author": viewer.is_authenticated and viewer.pk == post.author_id,
    }
    return render(request, "feed/post.html", context)


def media(request: HttpRequest, code: str, variant: str) -> HttpResponse:
    """Video, poster and sprite of a post, to whoever may see the post (Range requests work)."""
    if variant not in MEDIA_VARIANTS:
        raise Http404()
    post = Post.objects.visible_to(request.user).select_related("generation").filter(code=code).first()
    if post is None:
        if (withdrawal := Withdrawal.objects.of_post(code, request.user)) is not None:
            return withdrawn(request, withdrawal)
        raise Http404()
    try:
        field = actions.post_video_file(post) if variant == "video" else getattr(post.generation, variant)
    except ExportFailed:
        raise Http404() from None
    if not field:
        raise Http404()
    return serve_file(request, field)


@require_POST
def seen(request: HttpRequest, code: str) -> HttpResponse:
    """feed.js reports a post that started playing; For You pushes seen posts down."""
    if request.user.is_authenticated:
        post = get_object_or_404(Post.objects.visible_to(request.user), code=code)
        actions.record_view(request.user, post)
    return HttpResponse(status=204)


@login_required
@require_POST
def like(request: HttpRequest, code: str) -> HttpResponse:
    """Set (`like=1`/`0`) or flip (no value) my like; answers the button for htmx."""
    post = get_post(request, code)
    wanted = {"1": True, "0": False}.get(request.POST.get("like", ""))
    post.liked, post.like_count = actions.toggle_like(request.user, post, wanted)
    if request.htmx:
        return render(request, "feed/_like.html", {"post": post})
    return redirect(post)


@login_required
@require_POST
@ratelimit("comment")
def comment(request: HttpRequest, code: str) -> HttpResponse:
    post = get_post(request, code)
    form = CommentForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(f"{post.get_absolute_url()}#comments")
    parent = None
    if form.cleaned_data["parent"]:
        parent = Comment.objects.filter(post=post, code=form.cleaned_data["parent"]).first()
        if parent is None:
            messages.error(request, "That comment is gone.")
            return redirect(f"{post.get_absolute_url()}#comments")
    try:
        new = actions.add_comment(request.user, post, form.cleaned_data["body"], parent=parent)
    except actions.CommentRefused as exc:
        messages.error(request, str(exc))
        return redirect(f"{post.get_absolute_url()}#comments")
    return redirect(new.get_absolute_url())


@login_required
@require_POST
def delete_comment(request: HttpRequest, code: str, comment_code: str) -> HttpResponse:
    post = get_post(request, code)
    target = get_object_or_404(Comment.objects.select_related("post"), post=post, code=comment_code)
    try:
        actions.delete_comment(request.user, target)
    except actions.CommentRefused:
        raise Http404() from None
    messages.success(request, "Comment deleted.")
    return redirect(f"{post.get_absolute_url()}#comments")


@login_required
@require_POST
def publish(request: HttpRequest, code: str) -> HttpResponse:
    """Post one of my finished drafts."""
    generation = get_object_or_404(Generation.objects.filter(owner=request.user), code=code)
    form = PostForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Check the caption and who can see the post.")
        return redirect(generation)
    try:
        post = actions.publish_post(generation, **form.cleaned_data)
    except actions.PostRefused as exc:
        messages.error(request, str(exc))
        return redirect(generation)
    ranking.forget(request.user)  # the author's next For You shows the new post
    messages.success(request, "Posted.")
    return redirect(post)


@login_required
@require_POST
def unpost(request: HttpRequest, code: str) -> HttpResponse:
    post = get_own_post(request, code)
    actions.unpost(post)
    messages.success(request, "Post removed. The video is still in your drafts.")
    return redirect(post.generation)


@login_required
@require_POST
def delete(request: HttpRequest, code: str) -> HttpResponse:
    post = get_own_post(request, code)
    actions.delete_post(post)
    messages.success(request, "Post and video deleted.")
    return redirect("feed:profile", request.user.handle)
