from datetime import datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, Subquery, Value
from django.db.models.functions import Coalesce, Lower
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.models import Block, User
from cameos.models import Withdrawal
from cameos.views import withdrawn
from feed import actions, ranking, search
from feed.forms import CommentForm, FeedSettingsForm, PostForm, SteeringForm
from feed.models import EPOCH, Comment, Follow, Notification, NotInterested, Post
from generation.models import Generation
from generation.serving import serve_file
from provenance.actions import ExportFailed
from sora_site.ratelimit import ratelimit

MEDIA_VARIANTS = ("video", "poster", "sprite")


def page_size(name: str, default: int) -> int:
    return getattr(settings, name, default)


def get_post(request: HttpRequest, code: str) -> Post:
    """The post if this visitor may see it, else 404 (never 403: that would leak existence)."""
    rows = Post.objects.visible_to(request.user).for_cards().with_viewer_state(request.user)
    return get_object_or_404(rows, code=code)


def get_own_post(request: HttpRequest, code: str) -> Post:
    return get_object_or_404(Post.objects.select_related("generation"), code=code, author=request.user)


def with_handle(rows, handle: str):
    """Filter users by handle ignoring case, through the LOWER(handle) unique index."""
    return rows.alias(handle_lower=Lower("handle")).filter(handle_lower=handle.lower())


def get_person(request: HttpRequest, handle: str) -> User:
    """An active user by handle, with the counts and relationship flags a profile shows."""
    viewer = request.user
    followers = Follow.objects.filter(followee=OuterRef("pk")).order_by().values("followee")
    following = Follow.objects.filter(follower=OuterRef("pk")).order_by().values("follower")
    posts = Post.objects.visible_to(viewer).filter(author=OuterRef("pk")).order_by().values("author")
    rows = User.objects.filter(is_active=True).annotate(
        follower_count=Coalesce(Subquery(followers.annotate(n=Count("pk")).values("n")), 0),
        following_count=Coalesce(Subquery(following.annotate(n=Count("pk")).values("n")), 0),
        post_count=Coalesce(Subquery(posts.annotate(n=Count("pk")).values("n")), 0),
    )
    if viewer.is_authenticated:
        rows = rows.annotate(
            viewer_follows=Exists(Follow.objects.filter(follower=viewer.pk, followee=OuterRef("pk"))),
            viewer_blocks=Exists(Block.objects.filter(blocker=viewer.pk, blocked=OuterRef("pk"))),
            blocks_viewer=Exists(Block.objects.filter(blocker=OuterRef("pk"), blocked=viewer.pk)),
        )
    else:
        rows = rows.annotate(
            viewer_follows=Value(False), viewer_blocks=Value(False), blocks_viewer=Value(False)
        )
    return get_object_or_404(with_handle(rows, handle))


def people_visible_to(viewer) -> Q:
    """Users to list for `viewer`: everyone but those blocked either way (as a filter on `pk`)."""
    if not viewer.is_authenticated:
        return Q()
    return ~Q(pk__in=Block.objects.filter(blocker=viewer.pk).values("blocked")) & ~Q(
        pk__in=Block.objects.filter(blocked=viewer.pk).values("blocker")
    )


# --- feeds ----------------------------------------------------------------------------------


def parse_as_of(value: str) -> datetime:
    """The ranking time of a scroll session; now for the first page or a bad value."""
    now = timezone.now()
    try:
        as_of = EPOCH + timedelta(microseconds=int(value))
    except (TypeError, ValueError, OverflowError):
        return now
    return min(as_of, now)


def scroll_window(offset: int, size: int, limit: int) -> tuple[int, bool]:
    """How many posts this page shows, and whether it ends at a take-a-break card: with a
    scroll limit, a page stops at every `limit`-th video of the scroll session."""
    if limit <= 0:
        return size, False
    next_break = (offset // limit + 1) * limit
    return min(size, next_break - offset), offset + size >= next_break


def home(request: HttpRequest) -> HttpResponse:
    """For You: ranked (feed.ranking). Pages share one `as_of`, so later ones don't reshuffle."""
    requested = request.GET.get("as_of", "")
    try:
        offset = min(max(int(request.GET.get("offset", 0)), 0), 10_000)
    except ValueError:
        offset = 0
    prefs = ranking.settings_of(request.user)
    size, at_break = scroll_window(offset, page_size("FEED_PAGE_SIZE", 5), prefs.scroll_limit)
    # A first page may reuse the viewer's recent ranking (and its as_of); see feed.ranking.
    as_of, entries = ranking.ranked_entries(
        request.user, parse_as_of(requested) if requested else None, prefs=prefs
    )
    posts, more = ranking.page_of(request.user, entries, offset, size)
    next_url = None
    if more:
        stamp = (as_of - EPOCH) // timedelta(microseconds=1)
        next_url = f"{reverse('feed:home')}?as_of={stamp}&offset={offset + size}"
    context = {
        "posts": posts,
        "next_url": next_url,
        "take_break": at_break and more,
        "watched": offset + size,
        "prefs": prefs,
        "tab": "for_you",
        "nav": "feed",
    }
    if request.htmx:
        return render(request, "feed/_cards.html", context)
    context["steering_form"] = SteeringForm(initial={"steering": prefs.steering})
    return render(request, "feed/home.html", context)


@login_required
@require_POST
def steer(request: HttpRequest) -> HttpResponse:
    """Save (or, with `clear`, clear) the steering line; the next For You page uses it."""
    form = SteeringForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Keep the steering line under 200 characters.")
        return redirect("feed:home")
    text = "" if "clear" in request.POST else form.cleaned_data["steering"]
    actions.save_feed_settings(request.user, steering=text)
    messages.success(request, "Steering saved." if text else "Steering cleared.")
    return redirect("feed:home")


@login_required
@require_POST
def not_interested(request: HttpRequest, code: str) -> HttpResponse:
    """Mark a post "not interested" (`undo=1` takes it back). htmx swaps the card for a notice
    with an Undo button, and Undo swaps the card back."""
    post = get_post(request, code)
    undo = request.POST.get("undo") == "1"
    actions.mark_not_interested(request.user, post, interested=undo)
    if request.htmx:
        return render(request, "feed/_card.html" if undo else "feed/_dismissed.html", {"post": post})
    messages.success(request, "Shown again." if undo else "You'll see fewer videos like this.")
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("feed:home")


@login_required
def feed_settings(request: HttpRequest) -> HttpResponse:
    """My feed: steering, non-personalised, scroll limit, and what I marked "not interested"."""
    prefs = ranking.settings_of(request.user)
    form = FeedSettingsForm(instance=prefs)
    if request.method == "POST":
        if request.POST.get("action") == "reset":
            count = actions.reset_not_interested(request.user)
            messages.success(request, f"Forgot {count} “not interested” mark{'s' if count != 1 else ''}.")
            return redirect("feed:feed_settings")
        form = FeedSettingsForm(request.POST, instance=prefs)
        if form.is_valid():
            actions.save_feed_settings(request.user, **form.cleaned_data)
            messages.success(request, "Feed settings saved.")
            return redirect("feed:feed_settings")
    dismissed = list(
        NotInterested.objects.filter(user=request.user)
        .select_related("post__author", "post__generation")
        .order_by("-created")[:100]
    )
    context = {"form": form, "dismissed": dismissed, "prefs": prefs}
    return render(request, "feed/settings.html", context)


def search_page(request: HttpRequest) -> HttpResponse:
    """Search posts and people: the page, or (htmx) the results box under a search field."""
    query = search.clean_query(request.GET.get("q", ""))
    context = {
        "query": query,
        "posts": search.search_posts(request.user, query),
        "people": search.search_people(request.user, query),
        "nav": "search",
    }
    if request.htmx:
        return render(request, "feed/_search_results.html", context)
    return render(request, "feed/search.html", context)


@login_required
def following(request: HttpRequest) -> HttpResponse:
    """Following: posts of people I follow, newest first, keyset-paged."""
    size = page_size("FEED_PAGE_SIZE", 5)
    followees = Follow.objects.filter(follower=request.user).values("followee")
    # Still one query, in two steps: pick the page's post ids (PostgreSQL walks each followee's
    # slice of feed_post_author_created_idx and sorts the union), then join authors and
    # generations for those rows only. Joining first made it join every followee's every post
    # before sorting: 9.7 ms instead of 4.0 ms for someone following 135 people at 1M posts.
    page = (
        Post.objects.visible_to(request.user)
        .filter(author__in=followees)
        .newest_first(request.GET.get("before", ""))
        .values("pk")[: size + 1]
    )
    rows = Post.objects.filter(pk__in=page).for_feed().with_viewer_state(request.user)
    posts = list(rows.order_by("-created", "-id"))
    next_url = None
    if len(posts) > size:
        posts = posts[:size]
        next_url = f"{reverse('feed:following')}?before={posts[-1].cursor}"
    for post in posts:
        post.reason = f"You follow @{post.author.handle}"
    context = {"posts": posts, "next_url": next_url, "tab": "following", "nav": "feed"}
    if request.htmx:
        return render(request, "feed/_cards.html", context)
    return render(request, "feed/home.html", context)


def healthz(request: HttpRequest) -> HttpResponse:
    """A trivial view (no database) for load balancers and as the benchmark's baseline."""
    return HttpResponse("ok", content_type="text/plain")


# --- posts ----------------------------------------------------------------------------------


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


# --- people ---------------------------------------------------------------------------------


def profile(request: HttpRequest, handle: str) -> HttpResponse:
    """`/@handle`: who they are, counts, and a grid of the posts this visitor may see."""
    person = get_person(request, handle)
    size = page_size("FEED_GRID_PAGE_SIZE", 24)
    rows = (
        Post.objects.visible_to(request.user)
        .filter(author=person)
        .select_related("generation")
        .newest_first(request.GET.get("before", ""))
    )
    posts = list(rows[: size + 1])
    next_url = None
    if len(posts) > size:
        posts = posts[:size]
        next_url = f"{reverse('feed:profile', args=[person.handle])}?before={posts[-1].cursor}"
    nav = "profile" if request.user == person else None
    context = {"person": person, "posts": posts, "next_url": next_url, "nav": nav}
    if request.htmx:
        return render(request, "feed/_tiles.html", context)
    return render(request, "feed/profile.html", context)


def avatar(request: HttpRequest, handle: str) -> HttpResponse:
    """A person's picture, streamed from media storage to whoever may open their profile (404
    without one). Media storage has no public URL of its own (files are private objects on S3)."""
    person = get_object_or_404(User.objects.filter(is_active=True).only("avatar"), handle__iexact=handle)
    if not person.avatar:
        raise Http404()
    return serve_file(request, person.avatar, private=False)


def people(request: HttpRequest, handle: str, direction: str) -> HttpResponse:
    """Followers (`direction="followers"`) or following of a person, keyset-paged."""
    person = get_person(request, handle)
    viewer = request.user
    if direction == "followers":
        rows = Follow.objects.filter(followee=person).select_related("follower")
        other = "follower"
    else:
        rows = Follow.objects.filter(follower=person).select_related("followee")
        other = "followee"
    rows = rows.filter(**{f"{other}__is_active": True})
    visible = people_visible_to(viewer)
    if visible:
        rows = rows.filter(**{f"{other}__in": User.objects.filter(visible)})
    if viewer.is_authenticated:
        rows = rows.annotate(
            viewer_follows=Exists(Follow.objects.filter(follower=viewer.pk, followee=OuterRef(other)))
        )
    size = page_size("FEED_PEOPLE_PAGE_SIZE", 50)
    follows = list(rows.newest_first(request.GET.get("before", ""))[: size + 1])
    next_url = None
    if len(follows) > size:
        follows = follows[:size]
        next_url = f"{request.path}?before={follows[-1].cursor}"
    entries = [(getattr(f, other), getattr(f, "viewer_follows", False)) for f in follows]
    context = {"person": person, "entries": entries, "direction": direction, "next_url": next_url}
    if request.htmx:
        return render(request, "feed/_people.html", context)
    return render(request, "feed/people.html", context)


def followers(request: HttpRequest, handle: str) -> HttpResponse:
    return people(request, handle, "followers")


def following_list(request: HttpRequest, handle: str) -> HttpResponse:
    return people(request, handle, "following")


@login_required
@require_POST
def follow(request: HttpRequest, handle: str) -> HttpResponse:
    """Follow (`follow=1`) or unfollow (`follow=0`); answers the button for htmx."""
    person = get_object_or_404(with_handle(User.objects.filter(is_active=True), handle))
    error = ""
    if request.POST.get("follow", "1") == "0":
        actions.unfollow(request.user, person)
        following_now = False
    else:
        try:
            actions.follow(request.user, person)
            following_now = True
        except actions.FollowRefused as exc:
            error, following_now = str(exc), False
    ranking.forget(request.user)  # the follow boost changes the next For You
    if request.htmx:
        context = {"person": person, "following": following_now, "error": error}
        if request.POST.get("show_count"):
            # The profile's follower count changes with the button (an out-of-band swap).
            context["show_count"] = True
            context["follower_count"] = Follow.objects.filter(followee=person).count()
        return render(request, "feed/_follow.html", context)
    if error:
        messages.error(request, error)
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(person)


@login_required
@require_POST
def block(request: HttpRequest, handle: str) -> HttpResponse:
    """Block (`block=1`) or unblock (`block=0`) someone."""
    person = get_object_or_404(with_handle(User.objects.filter(is_active=True), handle))
    if request.POST.get("block", "1") == "0":
        actions.unblock(request.user, person)
        messages.success(request, f"Unblocked @{person.handle}.")
    else:
        try:
            actions.block_user(request.user, person)
        except actions.FollowRefused as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Blocked @{person.handle}. You won't see each other's videos.")
    ranking.forget(request.user)
    return redirect(person)


# --- notifications --------------------------------------------------------------------------


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    """My newest notifications; opening the page marks them read."""
    viewer = request.user
    rows = (
        Notification.objects.filter(recipient=viewer)
        .filter(Q(post__isnull=True) | Q(post__in=Post.objects.visible_to(viewer)))
        .filter(Q(actor__isnull=True) | Q(actor__in=User.objects.filter(people_visible_to(viewer))))
        .select_related("actor", "post", "comment", "generation")
        .order_by("-created", "-id")
    )
    items = list(rows[: page_size("FEED_NOTIFICATIONS_PAGE_SIZE", 50)])
    # The bell counts moderators' decisions too, so the page it opens shows the new ones first.
    notices = actions.take_other_unread(viewer)
    actions.mark_all_read(viewer)
    return render(request, "feed/notifications.html", {"notifications": items, "notices": notices})
