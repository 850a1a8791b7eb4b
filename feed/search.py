"""Search over posts (caption and visible prompt) and people (handle and name).

Posts match by meaning and by words: the query's vector (feed.semantics) is compared with the
vectors of the newest `FEED_SEARCH_POOL` visible posts, and posts whose caption or visible prompt
contain the query's text are added wherever they are; a word match counts `TEXT_BONUS` on top of
the similarity. A hidden prompt is in neither: it isn't in the vector (Post.embedding_text) and
the word match only looks at prompts that aren't hidden. Three queries for posts (pool, word
matches, rows), one for people.
"""

from django.conf import settings
from django.db.models import Q
from django.db.models.functions import Lower

from accounts.models import Block, User
from feed import semantics
from feed.models import Post

MAX_QUERY_LENGTH = 100
TEXT_BONUS = 0.5
# Below this a post only "matches by meaning" by accident (unrelated captions score 0.0-0.15).
MIN_SIMILARITY = 0.25


def clean_query(text: str) -> str:
    return " ".join(text.split())[:MAX_QUERY_LENGTH]


def search_posts(user, query: str, limit: int = 20) -> list[Post]:
    """Posts `user` may see that match `query`, best first, each with `.liked` and `.reason`."""
    query = clean_query(query)
    if not query:
        return []
    visible = Post.objects.visible_to(user)
    pool_size = settings.FEED_SEARCH_POOL
    pool = list(visible.order_by("-created", "-id").values_list("pk", "embedding")[:pool_size])
    words = Q(caption__icontains=query) | Q(hide_prompt=False, generation__prompt__icontains=query)
    by_words = set(visible.filter(words).order_by("-created", "-id").values_list("pk", flat=True)[:limit])
    scores: dict[int, float] = dict.fromkeys(by_words, TEXT_BONUS)
    if pool:
        sims = semantics.similarities(
            semantics.quantised([e for _, e in pool]), semantics.quantise(semantics.embed([query]))
        )[:, 0]
        for (pk, _), sim in zip(pool, sims.tolist(), strict=True):
            if sim >= MIN_SIMILARITY or pk in scores:
                scores[pk] = scores.get(pk, 0.0) + sim
    best = sorted(scores, key=lambda pk: (-scores[pk], -pk))[:limit]
    if not best:
        return []
    rows = visible.filter(pk__in=best).for_feed().with_viewer_state(user).in_bulk()
    posts = []
    for pk in best:
        if pk in rows:
            post = rows[pk]
            post.reason = f"Matches “{query}”" if pk in by_words else f"About “{query}”"
            posts.append(post)
    return posts


def search_people(user, query: str, limit: int = 20) -> list[User]:
    """Active people whose handle or name contains `query` (a leading @ is ignored), handles
    that start with it first; never someone blocked either way. One query."""
    query = clean_query(query).lstrip("@")
    if not query:
        return []
    rows = User.objects.filter(is_active=True).filter(
        Q(handle__icontains=query) | Q(display_name__icontains=query)
    )
    if user.is_authenticated:
        rows = rows.exclude(pk__in=Block.objects.filter(blocker=user.pk).values("blocked")).exclude(
            pk__in=Block.objects.filter(blocked=user.pk).values("blocker")
        )
    people = list(rows.order_by(Lower("handle"))[:200])
    lowered = query.lower()
    people.sort(key=lambda u: (not u.handle.lower().startswith(lowered), u.handle.lower()))
    return people[:limit]
