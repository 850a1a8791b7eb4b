"""For You: which visible posts to show someone, in what order, and why.

The ranking works on a bounded candidate set rather than the whole table, so its cost doesn't
grow with the site: the newest visible posts, the most liked recent ones, and the newest recent
ones from people the viewer follows (settings `FEED_*_CANDIDATES`, `FEED_CANDIDATE_DAYS`). One
query per pool fetches a few numbers per candidate, one more counts the viewer's recent likes
and comments per author, one reads the viewer's "not interested" marks, and one fetches the
page's rows: seven queries whatever the page size (plus one for the vectors of candidates this
process hasn't seen yet, when the viewer steers or has marks; see feed.semantics.post_vectors).

Score of a candidate for a viewer (every weight is a setting, see `Weights`; README "For You"):

    recency    = 0.5 ** (age_hours / HALF_LIFE_HOURS)
    engagement = min(ENGAGEMENT·log(1 + LIKE·likes + COMMENT·comments + REMIX·remixes), ENGAGEMENT_CAP)
    affinity   = FOLLOW_BOOST·[I follow the author] + MUTUAL_BOOST·[and they follow me]
                 + (INTERACTION_BOOST + INTERACTION·log(1 + n)  if n > 0), n = my likes and
                 comments on the author's posts in the last AFFINITY_DAYS
    score      = recency · (1 + engagement) · (1 + affinity) · (SEEN_FACTOR if seen) · steering

People before virality: engagement is capped, and the smallest affinity (one interaction:
1 + 2.0 + 0.5·log 2 = 3.35; a follow: 4) is above the largest engagement factor (1 + 2.0 = 3), so
of two posts the same age, one by someone you follow, follow back or interact with always ranks
above a stranger's, however viral.

steering (feed.semantics; 1 for a non-steered, non-dismissing viewer):

    lift    = STEER_STRENGTH·max(0, best similarity to a "more" topic − STEER_FLOOR)
    sink    = STEER_STRENGTH·max(0, best similarity to a "less" topic − STEER_FLOOR)
    dismiss = DISMISS_STRENGTH·max(0, best similarity to a post marked "not interested" − DISMISS_FLOOR)
    steering = exp(lift − sink − dismiss) · DISMISS_AUTHOR_FACTOR ** (my "not interested" marks on
               the author's posts, at most 3)

Posts marked "not interested" leave the candidates. A non-personalised feed (the viewer's switch,
on by default for teens) is ranked like an anonymous visitor's: recent and popular posts, with no
follows, interactions, views or steering (only the "not interested" posts still stay out).

Pages are cut from one ranking "as of" the first page's time: posts, views and interactions
after it don't reshuffle the later pages of the same scroll session.

Ranking is the expensive part of a For You page (four queries over ~600 candidate rows, then
scoring them in Python: ~20 ms of a ~25 ms page), so the ranked list of post ids is kept in
Django's cache per viewer (one shared entry for anonymous visitors): later pages of a scroll
session page through it, and a first page within `FEED_RANKING_CACHE_SECONDS` (default 30; 0
turns the cache off) reuses it together with its `as_of`; up to `STALE_FACTOR` times as old, it
is reused once more while a background thread ranks afresh, so no request waits for a ranking
but the first of a viewer who was away for minutes. The cache only decides the order:
every page's rows are fetched through `visible_to`, so a block, a take-down or a deletion shows
at once; new posts and new follows reach a reloaded first page within that many seconds (the
feed views call `forget` after the viewer's own follow, block and publish). An entry is ~600
(pk, reason) pairs; Django's default per-process cache keeps 300 entries, so a busy site sets
CACHE_URL (Redis) to keep more viewers' rankings and share them between web processes.
"""

import heapq
import logging
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta

import numpy as np
from django import db
from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef
from django.utils import timezone

from accounts import backends
from accounts.models import Follow
from feed import bell, paging, semantics
from feed.models import Comment, FeedSettings, Like, NotInterested, Post, PostView
from sora_site.keyset import EPOCH

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Weights:
    half_life_hours: float
    engagement: float
    engagement_cap: float
    like: float
    comment: float
    remix: float
    follow_boost: float
    mutual_boost: float
    interaction_boost: float
    interaction: float
    affinity_days: int
    diversity_penalty: float
    seen_factor: float
    steer_strength: float
    steer_floor: float
    steer_match: float
    dismiss_strength: float
    dismiss_floor: float
    dismiss_author_factor: float
    recent_candidates: int
    popular_candidates: int
    followed_candidates: int
    candidate_days: int

    @classmethod
    def from_settings(cls) -> "Weights":
        """From settings FEED_<FIELD> (FEED_<FIELD>_WEIGHT for the weights below); defaults
        live in settings.py."""
        weighted = {"engagement", "like", "comment", "remix", "interaction"}
        names = {f.name: f"FEED_{f.name.upper()}{'_WEIGHT' * (f.name in weighted)}" for f in fields(cls)}
        return cls(**{name: getattr(settings, setting) for name, setting in names.items()})


@dataclass
class Candidate:
    pk: int
    author_id: int
    created: datetime
    likes: int
    comments: int
    remixes: int
    followed: bool = False
    seen: bool = False
    follows_me: bool = False
    score: float = 0.0
    # The "why am I seeing this" line, with `{handle}` for the author's handle (filled in for
    # the page's posts only, so ranking never joins users).
    reason: str = ""


@dataclass
class Taste:
    """What a viewer told the feed: their steering and their "not interested" marks."""

    steering: semantics.Steering = field(default_factory=semantics.Steering)
    personalised: bool = True
    dismissed_vectors: list[bytes] = field(default_factory=list)
    dismissed_authors: dict[int, int] = field(default_factory=dict)

    @property
    def needs_vectors(self) -> bool:
        return self.personalised and bool(self.steering or self.dismissed_vectors)


def taste_of(user, prefs: FeedSettings | None) -> Taste:
    """The viewer's steering (parsed) and their newest 100 "not interested" marks. One query
    (none for anonymous visitors)."""
    if not user.is_authenticated:
        return Taste(personalised=False)
    prefs = prefs or FeedSettings.for_user(user)
    taste = Taste(steering=semantics.parse_steering(prefs.steering), personalised=not prefs.non_personalised)
    marks = NotInterested.objects.filter(user=user.pk).order_by("-created")[:100]
    for author_id, embedding in marks.values_list("post__author_id", "post__embedding"):
        taste.dismissed_authors[author_id] = taste.dismissed_authors.get(author_id, 0) + 1
        if embedding is not None:
            taste.dismissed_vectors.append(bytes(embedding))
    return taste


def candidates(user, as_of: datetime, w: Weights, taste: Taste | None = None) -> list[Candidate]:
    """The posts worth ranking for `user`, with the numbers the score needs.

    One query per pool (newest; most liked and newest by people I follow, both within
    `FEED_CANDIDATE_DAYS`; two pools for anonymous visitors and non-personalised feeds). Each is
    a LIMITed walk down one index. Separate queries rather than one with `pk IN (...) OR pk IN
    (...)`, which PostgreSQL can only answer with a full table scan. Vectors come later, from
    `semantics.post_vectors`, only when steering or "not interested" marks need them.
    """
    taste = taste or Taste(personalised=user.is_authenticated)
    visible = Post.objects.visible_to(user).filter(created__lte=as_of)
    fields = ["pk", "author_id", "created", "like_count", "comment_count", "remix_count"]
    if user.is_authenticated:
        visible = visible.exclude(Exists(NotInterested.objects.filter(user=user.pk, post=OuterRef("pk"))))
    if taste.personalised:
        follows = Follow.objects.filter(follower=user.pk, followee=OuterRef("author"))
        followed_back = Follow.objects.filter(follower=OuterRef("author"), followee=user.pk)
        visible = visible.annotate(
            followed=Exists(follows),
            seen=Exists(PostView.objects.filter(user=user.pk, post=OuterRef("pk"), created__lt=as_of)),
            follows_me=Exists(followed_back),
        )
        fields += ["followed", "seen", "follows_me"]
    recent = visible.filter(created__gte=as_of - timedelta(days=w.candidate_days))
    pools = [
        visible.order_by("-created", "-id")[: w.recent_candidates],
        recent.order_by("-like_count", "-created")[: w.popular_candidates],
    ]
    if taste.personalised:
        # The time window matters: with it PostgreSQL walks each followee's slice of
        # feed_post_author_created_idx; without it, it scans everyone's newest posts looking for
        # followees' (111k rows, 200+ ms, at 1M posts).
        followees = Follow.objects.filter(follower=user.pk).values("followee")
        pools.append(recent.filter(author__in=followees).order_by("-created", "-id")[: w.followed_candidates])
    pool: dict[int, Candidate] = {}
    for rows in pools:
        for values in rows.values_list(*fields):
            pool.setdefault(values[0], Candidate(*values))
    return list(pool.values())


def interactions_by_author(user, as_of: datetime, w: Weights) -> dict[int, int]:
    """How often `user` liked or commented on each author's posts lately. One query."""
    if not user.is_authenticated:
        return {}
    since = as_of - timedelta(days=w.affinity_days)
    likes = (
        Like.objects.filter(user=user.pk, created__gte=since, created__lt=as_of)
        .values_list("post__author")
        .annotate(n=Count("pk"))
        .order_by()
    )
    comments = (
        Comment.objects.filter(author=user.pk, created__gte=since, created__lt=as_of)
        .values_list("post__author")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts: dict[int, int] = {}
    for author_id, n in likes.union(comments, all=True):
        counts[author_id] = counts.get(author_id, 0) + n
    return counts


def score(c: Candidate, as_of: datetime, w: Weights, interactions: dict[int, int], viewer_id) -> None:
    """Set `c.score` and `c.reason` (the "why am I seeing this" line), before steering."""
    age_hours = max(0.0, (as_of - c.created).total_seconds() / 3600)
    recency = 0.5 ** (age_hours / w.half_life_hours)
    engagement = w.engagement * math.log1p(w.like * c.likes + w.comment * c.comments + w.remix * c.remixes)
    engagement = min(engagement, w.engagement_cap)
    own = c.author_id == viewer_id
    mutual = c.followed and c.follows_me
    follow_part = (w.follow_boost if c.followed else 0.0) + (w.mutual_boost if mutual else 0.0)
    n = 0 if own else interactions.get(c.author_id, 0)
    interaction_part = w.interaction_boost + w.interaction * math.log1p(n) if n else 0.0
    c.score = recency * (1 + engagement) * (1 + follow_part + interaction_part)
    if c.seen:
        c.score *= w.seen_factor

    if own:
        c.reason = "Your video"
    elif mutual and follow_part >= interaction_part:
        c.reason = "You and @{handle} follow each other"
    elif follow_part and follow_part >= interaction_part:
        c.reason = "You follow @{handle}"
    elif interaction_part:
        c.reason = "You often like or comment on @{handle}'s videos"
    elif engagement >= 1.0:
        c.reason = f"Popular lately: {c.likes} like{'s' if c.likes != 1 else ''}"
    else:
        c.reason = "New on " + settings.SITE_NAME.replace("{", "{{").replace("}", "}}")
    if c.seen:
        c.reason += " · you've seen it"


def steer(pool: list[Candidate], taste: Taste, w: Weights) -> None:
    """Multiply each candidate's score by its steering factor (see the module docstring) and
    say "Matches 'cooking'" in the reason of those a "more" topic lifted. A few small matrix
    products over the pool's vectors: well under 1 ms for 600 candidates."""
    if not pool or not taste.personalised:
        return
    exponent = np.zeros(len(pool), dtype=np.float32)
    if taste.steering or taste.dismissed_vectors:
        vectors = semantics.quantised(semantics.post_vectors([c.pk for c in pool]))
        steering = taste.steering
        phrases = (
            semantics.quantise(semantics.embed_phrases(steering.more + steering.less)) if steering else None
        )
        lift = np.zeros(len(pool), dtype=np.float32)
        if steering.more:
            sims = semantics.similarities(vectors, phrases[: len(steering.more)])
            best = sims.argmax(axis=1)
            lift = w.steer_strength * np.maximum(sims.max(axis=1) - w.steer_floor, 0)
            exponent += lift
        if steering.less:
            sims = semantics.similarities(vectors, phrases[len(steering.more) :])
            exponent -= w.steer_strength * np.maximum(sims.max(axis=1) - w.steer_floor, 0)
        if taste.dismissed_vectors:
            sims = semantics.similarities(vectors, semantics.quantised(taste.dismissed_vectors))
            exponent -= w.dismiss_strength * np.maximum(sims.max(axis=1) - w.dismiss_floor, 0)
    factors = np.exp(exponent).tolist()
    authors = taste.dismissed_authors
    for c, factor in zip(pool, factors, strict=True):
        c.score *= factor
        if authors and c.author_id in authors:
            c.score *= w.dismiss_author_factor ** min(authors[c.author_id], 3)
    if taste.steering.more:
        for i in np.flatnonzero(lift >= w.steer_strength * w.steer_match).tolist():
            pool[i].reason = f"Matches '{taste.steering.more[best[i]]}' · {pool[i].reason}"


def diversify(ranked: list[Candidate], penalty: float) -> list[Candidate]:
    """Reorder so each author's k-th post counts penalty**k of its score. O(n log n).

    Within one author the order doesn't change, so only each author's next post competes: a
    heap of those heads, keyed by their penalised score, yields the merged order.
    """
    by_author: dict[int, list[Candidate]] = {}
    for c in ranked:  # already by score, best first
        by_author.setdefault(c.author_id, []).append(c)
    heap = [(-posts[0].score, posts[0].pk, author, 0) for author, posts in by_author.items()]
    heapq.heapify(heap)
    out = []
    while heap:
        _, _, author, k = heapq.heappop(heap)
        posts = by_author[author]
        out.append(posts[k])
        if k + 1 < len(posts):
            nxt = posts[k + 1]
            heapq.heappush(heap, (-nxt.score * penalty ** (k + 1), nxt.pk, author, k + 1))
    return out


def rank(
    user, as_of: datetime, w: Weights | None = None, prefs: FeedSettings | None = None
) -> list[Candidate]:
    """Every candidate for `user`, best first, steered by `prefs` (the viewer's FeedSettings;
    read when not given). Six queries (five for a non-personalised feed, two for anonymous
    visitors), plus one when `prefs` isn't given and one for vectors this process hasn't read."""
    w = w or Weights.from_settings()
    taste = taste_of(user, prefs)
    pool = candidates(user, as_of, w, taste)
    interactions = interactions_by_author(user, as_of, w) if taste.personalised else {}
    viewer_id = user.pk if user.is_authenticated else None
    for c in pool:
        score(c, as_of, w, interactions, viewer_id)
    steer(pool, taste, w)
    pool.sort(key=lambda c: (-c.score, -c.pk))
    return diversify(pool, w.diversity_penalty)


# (post pk, reason with `{handle}` left in): what the cache keeps of a ranked candidate.
Entry = tuple[int, str]

# How long a cached ranking stays available to the later pages of its scroll session.
SCROLL_SESSION_SECONDS = 30 * 60


def _cache_key(user) -> str:
    return _ranking_key(user.pk if user.is_authenticated else None)


def _ranking_key(user_id: int | None) -> str:
    return f"feed:for_you:{'anonymous' if user_id is None else user_id}"


def _stamp(as_of: datetime) -> int:
    return (as_of - EPOCH) // timedelta(microseconds=1)


def ranked_entries(
    user, as_of: datetime | None, prefs: FeedSettings | None = None, cached: dict | None = None
) -> tuple[datetime, list[Entry]]:
    """`user`'s For You ranking (best first) and the time it was ranked as of.

    `as_of=None` asks for a first page: a ranking of this viewer younger than
    `FEED_RANKING_CACHE_SECONDS` is reused with its own `as_of`; one younger than
    `STALE_FACTOR` times that is reused too while a background thread ranks afresh (the ~20 ms
    of ranking was the p99 of a For You page: every viewer paid it every 30 s; see
    `refresh_later`); else the feed is ranked now. A given `as_of` (a later page) reuses the
    ranking made at exactly that time (the current one or the one a refresh replaced), else
    ranks again as of then. Costs one cache read (none given `viewer_and_cached`'s answer), plus
    `rank`'s queries on a miss.
    """
    ttl = settings.FEED_RANKING_CACHE_SECONDS
    key = _cache_key(user)
    if ttl > 0:
        hit = cache.get(key) if cached is None else cached.get(key)
        if hit is not None and as_of is None:
            age = _stamp(timezone.now()) - hit[0]
            if age < ttl * 1_000_000:
                return EPOCH + timedelta(microseconds=hit[0]), hit[1]
            if age < STALE_FACTOR * ttl * 1_000_000:
                refresh_later(user, prefs, hit)
                return EPOCH + timedelta(microseconds=hit[0]), hit[1]
        if as_of is not None:
            stamp = _stamp(as_of)
            hit = hit if hit is not None and hit[0] == stamp else cache.get(key + ":previous")
            if hit is not None and hit[0] == stamp:
                return as_of, hit[1]
    as_of = as_of or timezone.now()
    entries = [(c.pk, c.reason) for c in rank(user, as_of, prefs=prefs)]
    if ttl > 0:
        cache.set(key, (_stamp(as_of), entries), max(ttl, SCROLL_SESSION_SECONDS))
    return as_of, entries


# A first page reuses a ranking up to this many times FEED_RANKING_CACHE_SECONDS old, while a
# background thread ranks afresh; older ones are ranked on the request.
STALE_FACTOR = 4
_refreshing: set[str] = set()
_refreshing_lock = threading.Lock()
_refresher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feed-ranking")


def refresh_later(user, prefs: FeedSettings | None, stale: tuple[int, list[Entry]]) -> None:
    """Rank `user`'s For You afresh in this process's ranking thread, once at a time per viewer.
    The stale ranking moves to `<key>:previous`, so the scroll session it started keeps paging
    through it. A `forget` meanwhile wins: the new ranking is only stored over the stale one."""
    key = _cache_key(user)
    with _refreshing_lock:
        if key in _refreshing:
            return
        _refreshing.add(key)
    try:
        _refresher.submit(_refresh, user, prefs, key, stale[0])
    except RuntimeError:  # the interpreter is shutting down
        with _refreshing_lock:
            _refreshing.discard(key)


def _refresh(user, prefs: FeedSettings | None, key: str, stale_stamp: int) -> None:
    try:
        as_of = timezone.now()
        entries = [(c.pk, c.reason) for c in rank(user, as_of, prefs=prefs)]
        current = cache.get(key)
        if current is not None and current[0] == stale_stamp:
            cache.set_many(
                {key: (_stamp(as_of), entries), key + ":previous": current}, SCROLL_SESSION_SECONDS
            )
    except Exception:
        log.exception("refreshing a For You ranking failed")
    finally:
        with _refreshing_lock:
            _refreshing.discard(key)
        db.connections.close_all()  # back to the pool; this thread lives on


def forget(user) -> None:
    """Drop `user`'s cached ranking and feed settings, so their next first page is ranked afresh
    (after they follow, block, post, steer or mark something "not interested")."""
    cache.delete_many([_cache_key(user), _cache_key(user) + ":previous", _settings_key(user)])


def _settings_key(user) -> str:
    return _settings_key_of(user.pk)


def _settings_key_of(user_id: int) -> str:
    return f"feed:settings:{user_id}"


def cached_keys(user_id: int | None) -> list[str]:
    """What a For You page reads from the cache: the viewer's ranking, feed settings and bell
    count (`user_id` None: an anonymous visitor's ranking). Read them in one round trip (see
    `viewer_and_cached`) and hand the answer to `ranked_entries`, `settings_of` and `bell.unread`."""
    if settings.FEED_RANKING_CACHE_SECONDS <= 0:
        return []
    if user_id is None:
        return [_ranking_key(None)]
    return [_ranking_key(user_id), _settings_key_of(user_id), bell.key(user_id)]


def viewer_and_cached(request) -> tuple:
    """The request's user and `cached_keys` of them, read with the user's own cache entry in one
    round trip (accounts.backends.viewer_and_cached)."""
    return backends.viewer_and_cached(request, cached_keys)


def settings_of(user, cached: dict | None = None) -> FeedSettings:
    """`FeedSettings.for_user`, kept in the cache like the ranking (every For You page reads
    it; `forget` drops it when the person changes it). One query on a miss, none when anonymous.
    Teen defaults follow the birth date, so the entry lives at most an hour; with the
    ranking cache off (FEED_RANKING_CACHE_SECONDS=0) this one is off too."""
    if not user.is_authenticated or settings.FEED_RANKING_CACHE_SECONDS <= 0:
        return FeedSettings.for_user(user)
    key = _settings_key(user)
    prefs = cache.get(key) if cached is None else cached.get(key)
    if prefs is None:
        prefs = FeedSettings.for_user(user)
        cache.set(key, prefs, 3600)
    return prefs


def page_of(user, entries: list[Entry], offset: int, limit: int) -> tuple[list[Post], bool]:
    """Posts `offset`..`offset+limit` of a ranking, each with `.reason` and `.liked`; and whether
    more follow. One query. The rows go through `visible_to` again, so a ranking from the cache
    never shows what the viewer may no longer see (the page is then one post short)."""
    window = entries[offset : offset + limit]
    if not window:
        return [], False
    rows = paging.page_rows(user, [pk for pk, _ in window])
    posts = []
    for pk, reason in window:
        post = rows.get(pk)
        if post is not None:
            post.reason = reason.format(handle=post.author.handle)
            posts.append(post)
    return posts, offset + limit < len(entries)


def for_you_page(user, as_of: datetime, offset: int, limit: int) -> tuple[list[Post], bool]:
    """Posts `offset`..`offset+limit` of `user`'s For You as of `as_of`, each with `.reason`,
    `.liked`. Returns (posts, more). Seven queries whatever `limit` is (three for anonymous
    visitors); one on a cache hit."""
    _, entries = ranked_entries(user, as_of)
    return page_of(user, entries, offset, limit)
