"""People: profiles, follower lists, following and blocking, and the notifications page."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Exists, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce, Lower
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.models import Block, User
from feed import actions, bell, ranking
from feed.models import Follow, Notification, Post
from generation.serving import serve_file


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


def profile(request: HttpRequest, handle: str) -> HttpResponse:
    """`/@handle`: who they are, counts, and a grid of the posts this visitor may see."""
    person = get_person(request, handle)
    size = settings.FEED_GRID_PAGE_SIZE
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
    size = settings.FEED_PEOPLE_PAGE_SIZE
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
    items = list(rows[: settings.FEED_NOTIFICATIONS_PAGE_SIZE])
    # The bell counts moderators' decisions too, so the page it opens shows the new ones first.
    notices = actions.take_other_unread(viewer)
    actions.mark_all_read(viewer)
    bell.forget(viewer.pk)
    return render(request, "feed/notifications.html", {"notifications": items, "notices": notices})
