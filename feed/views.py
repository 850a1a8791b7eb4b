"""The feeds (For You, Following), steering them, feed settings, search, and the health check."""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.messages import get_messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from feed import actions, bell, paging, ranking, search
from feed.forms import FeedSettingsForm, SteeringForm
from feed.models import NotInterested
from feed.templatetags.feed_cards import TOKEN_PLACEHOLDER, RenderCache
from feed.views_posts import get_post
from sora_site.csrf import page_token
from sora_site.keyset import EPOCH, parse_cursor

CARDS_PLACEHOLDER = "@@feed-cards-placeholder@@"
# The page around a feed's cards (feed/home.html), per viewer: see `render_feed`. ~7 kB each,
# so at most 1000 (the viewers of the last moments) are kept.
frames = RenderCache(limit=1000)


def frame_key(request: HttpRequest, context: dict, unread: int) -> tuple:
    """Everything the page around a feed's cards shows (base.html, feed/home.html and what they
    include). What starts showing something else must be added here."""
    user, prefs = request.user, context.get("prefs")
    return (
        context["tab"], context.get("nav"), bool(context["posts"]), unread,
        user.pk, getattr(user, "handle", ""), str(getattr(user, "avatar", "")), user.is_staff,
        prefs and (prefs.steering, prefs.non_personalised),
    )  # fmt: skip


def render_feed(request: HttpRequest, context: dict, cached: dict | None = None) -> HttpResponse:
    """A feed page (For You, Following): its cards, and the page around them.

    The page around the cards (header, tabs, steering form, tab bar) was half of a For You
    page's rendering time (BENCHMARKS.md), yet shows only what `frame_key` holds. It is rendered
    once per key with placeholders for the cards and the CSRF token (never cached: a masked
    token reveals its session's secret), like the cards (feed.templatetags.feed_cards); the
    page's one masked token replaces every placeholder at the end. A page with flash messages
    to show is rendered in full.
    """
    user = request.user
    prefs = context.get("prefs")
    steering = prefs.steering if prefs is not None else ""
    if get_messages(request):
        context["steering_form"] = SteeringForm(initial={"steering": steering})
        return render(request, "feed/home.html", context)
    cards = ""
    if context["posts"]:
        # Rendered without the request: the cards read only these, and context processors would
        # mask a CSRF token of their own (a fresh random mask per `get_token`). The token goes
        # in once for the whole page below.
        values = {"request": request, "user": user, "SITE_NAME": settings.SITE_NAME}
        cards = render_to_string("feed/_cards.html", {**context, **values, "csrf_token": TOKEN_PLACEHOLDER})
    unread = bell.unread(user.pk, actions.unread_count, cached) if user.is_authenticated else 0
    key = frame_key(request, context, unread)
    frame = frames.get(key)
    if frame is None:
        values = {
            **context,
            "cards_html": mark_safe(CARDS_PLACEHOLDER),
            "csrf_token": TOKEN_PLACEHOLDER,
            "unread_notifications": unread,
            "steering_form": SteeringForm(initial={"steering": steering}),
        }
        frame = render_to_string("feed/home.html", values, request)
        frames.put(key, frame)
    return HttpResponse(
        frame.replace(CARDS_PLACEHOLDER, cards).replace(TOKEN_PLACEHOLDER, page_token(request))
    )


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
    # One cache read for the user, settings, ranking and bell (after the session's).
    user, cached = ranking.viewer_and_cached(request)
    prefs = ranking.settings_of(user, cached)
    size, at_break = scroll_window(offset, settings.FEED_PAGE_SIZE, prefs.scroll_limit)
    # A first page may reuse the viewer's recent ranking (and its as_of); see feed.ranking.
    as_of, entries = ranking.ranked_entries(
        user, parse_as_of(requested) if requested else None, prefs=prefs, cached=cached
    )
    posts, more = ranking.page_of(user, entries, offset, size)
    next_url = None
    if more:
        stamp = (as_of - EPOCH) // timedelta(microseconds=1)
        # This page's own path: `reverse` cost more than the rest of building the link.
        next_url = f"{request.path}?as_of={stamp}&offset={offset + size}"
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
    return render_feed(request, context, cached)


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
    size = settings.FEED_PAGE_SIZE
    # One query, compiled once per process (feed.paging): size + 1 rows tell whether more follow.
    posts = paging.following_rows(request.user, parse_cursor(request.GET.get("before", "")), size + 1)
    next_url = None
    if len(posts) > size:
        posts = posts[:size]
        next_url = f"{request.path}?before={posts[-1].cursor}"
    for post in posts:
        post.reason = f"You follow @{post.author.handle}"
    context = {"posts": posts, "next_url": next_url, "tab": "following", "nav": "feed"}
    if request.htmx:
        return render(request, "feed/_cards.html", context)
    return render_feed(request, context)


def healthz(request: HttpRequest) -> HttpResponse:
    """A trivial view (no database) for load balancers and as the benchmark's baseline."""
    return HttpResponse("ok", content_type="text/plain")
