"""`{% feed_card post %}`: a feed card, rendered once and then reused from a per-process cache.

Rendering five cards was the largest cost of a For You page with its ranking cached (BENCHMARKS.md).
A card shows nothing that a viewer's session alone decides except the CSRF token of its forms, so
its HTML is cached under everything it shows (the post's code, texts, counts, the viewer's like
and reason line, whether they are signed in, the site's address) with a placeholder for the token,
which is put in per request. A card that starts showing something else that varies by viewer
must add it to `card_key`. The token itself is never cached: a masked token reveals its
session's secret. Whatever changes what a card shows changes its key, so no entry is ever stale;
unused ones fall out of the LRU.
"""

import threading
from collections import OrderedDict

from django import template
from django.conf import settings
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

register = template.Library()

TOKEN_PLACEHOLDER = "@@csrf-token-placeholder@@"


class RenderCache:
    """A per-process LRU of rendered HTML, at most `FEED_CARD_CACHE_SIZE` entries (0: off) or
    `limit` if that is smaller. Entries are keyed by everything they show, so none is ever
    stale; thread-safe."""

    def __init__(self, limit: int | None = None) -> None:
        self.entries: OrderedDict[tuple, str] = OrderedDict()
        self.lock = threading.Lock()
        self.limit = limit

    def get(self, key: tuple) -> str | None:
        with self.lock:
            html = self.entries.get(key)
            if html is not None:
                self.entries.move_to_end(key)
        return html

    def put(self, key: tuple, html: str) -> None:
        size = settings.FEED_CARD_CACHE_SIZE
        if self.limit is not None:
            size = min(size, self.limit)
        if not size:
            return
        with self.lock:
            self.entries[key] = html
            while len(self.entries) > size:
                self.entries.popitem(last=False)


cards = RenderCache()


def origin_of(request) -> tuple[str, str]:
    """The scheme and host a card's share link shows, once per request (`get_host` checks
    ALLOWED_HOSTS on every call, and a page has several cards)."""
    origin = getattr(request, "_feed_card_origin", None)
    if origin is None:
        origin = request._feed_card_origin = (request.scheme, request.get_host())
    return origin


def card_key(post, user, request) -> tuple:
    author, generation = post.author, post.generation
    return (
        post.code, post.caption, post.hide_prompt, post.visibility, generation.prompt[:200], generation.orientation,
        post.like_count, post.comment_count, getattr(post, "liked", False), getattr(post, "reason", ""),
        author.handle, str(author.avatar), user.is_authenticated, *origin_of(request),
    )  # fmt: skip


@register.simple_tag(takes_context=True)
def feed_card(context, post) -> str:
    request, user = context["request"], context["user"]
    key = card_key(post, user, request)
    html = cards.get(key)
    if html is None:
        # The page's whole context (site name and other context-processor values a card may
        # show), with the token replaced by the placeholder.
        values = {**context.flatten(), "post": post, "csrf_token": TOKEN_PLACEHOLDER}
        html = render_to_string("feed/_card.html", values)
        cards.put(key, html)
    return mark_safe(html.replace(TOKEN_PLACEHOLDER, str(context.get("csrf_token", ""))))
