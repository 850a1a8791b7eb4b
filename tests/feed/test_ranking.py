"""For You ranking: each signal moves posts the right way, pages don't repeat, weights are settings."""

from datetime import timedelta

import pytest
from django.core.cache import caches
from django.urls import reverse
from django.utils import timezone

from feed import actions, ranking
from feed.models import Post, PostView
from moderation.actions import suspend_user

pytestmark = pytest.mark.django_db


def order(user) -> list[int]:
    return [c.pk for c in ranking.rank(user, timezone.now())]


def reasons(user) -> dict[int, str]:
    """pk -> the "why am I seeing this" line, as the For You page shows it."""
    posts, _ = ranking.for_you_page(user, timezone.now(), 0, 50)
    return {p.pk: p.reason for p in posts}


def ago(hours: float):
    return timezone.now() - timedelta(hours=hours)


def test_newer_posts_rank_above_older_ones(make_user, make_post):
    viewer = make_user("viewer")
    old = make_post(make_user("a"), created=ago(48))
    new = make_post(make_user("b"), created=ago(1))
    assert order(viewer) == [new.pk, old.pk]


def test_engagement_lifts_a_post(make_user, make_post):
    viewer = make_user("viewer")
    quiet = make_post(make_user("a"), created=ago(2))
    loved = make_post(make_user("b"), created=ago(6), like_count=40, comment_count=10)
    ranked = ranking.rank(viewer, timezone.now())
    assert [c.pk for c in ranked] == [loved.pk, quiet.pk]
    assert ranked[0].reason == "Popular lately: 40 likes"


def test_people_i_follow_rank_higher(make_user, make_post):
    viewer, friend = make_user("viewer"), make_user("friend")
    stranger_post = make_post(make_user("stranger"), created=ago(1))
    friend_post = make_post(friend, created=ago(10))
    actions.follow(viewer, friend)
    ranked = ranking.rank(viewer, timezone.now())
    assert [c.pk for c in ranked] == [friend_post.pk, stranger_post.pk]
    assert reasons(viewer)[friend_post.pk] == "You follow @friend"


def test_people_i_interact_with_rank_higher(make_user, make_post):
    viewer, fave = make_user("viewer"), make_user("fave")
    for _ in range(3):
        actions.toggle_like(viewer, make_post(fave, created=ago(100)))
    other = make_post(make_user("other"), created=ago(5))
    fresh_fave = make_post(fave, created=ago(8))
    ranked = ranking.rank(viewer, timezone.now())
    assert ranked[0].pk == fresh_fave.pk and ranked[1].pk == other.pk
    assert reasons(viewer)[fresh_fave.pk] == "You often like or comment on @fave's videos"
    assert reasons(viewer)[other.pk] == "New on Sora Site"


def test_one_author_does_not_flood_the_top(make_user, make_post):
    viewer, prolific = make_user("viewer"), make_user("prolific")
    for i in range(5):
        make_post(prolific, created=ago(1 + i * 0.1))
    others = [make_post(make_user(f"o{i}"), created=ago(3)) for i in range(3)]
    top = ranking.rank(viewer, timezone.now())[:4]
    assert sum(c.author_id == prolific.pk for c in top) <= 2
    assert {o.pk for o in others} & {c.pk for c in top}


def test_seen_posts_are_pushed_down(make_user, make_post):
    viewer = make_user("viewer")
    seen = make_post(make_user("a"), created=ago(1))
    unseen = make_post(make_user("b"), created=ago(20))
    PostView.objects.create(user=viewer, post=seen, created=ago(0.5))
    ranked = ranking.rank(viewer, timezone.now())
    assert [c.pk for c in ranked] == [unseen.pk, seen.pk]
    assert ranked[1].reason.endswith("you've seen it")


def test_views_after_the_first_page_do_not_reshuffle_later_pages(make_user, make_post):
    viewer = make_user("viewer")
    posts = [make_post(make_user(f"a{i}"), created=ago(i + 1)) for i in range(6)]
    as_of = timezone.now()
    first, _ = ranking.for_you_page(viewer, as_of, 0, 3)
    for post in first:
        actions.record_view(viewer, post)
    second, more = ranking.for_you_page(viewer, as_of, 3, 3)
    assert not more
    assert {p.pk for p in first} | {p.pk for p in second} == {p.pk for p in posts}


def test_weights_are_settings(make_user, make_post, settings):
    viewer = make_user("viewer")
    seen = make_post(make_user("a"), created=ago(1))
    unseen = make_post(make_user("b"), created=ago(20))
    PostView.objects.create(user=viewer, post=seen, created=ago(0.5))
    settings.FEED_SEEN_FACTOR = 1.0
    assert [c.pk for c in ranking.rank(viewer, timezone.now())] == [seen.pk, unseen.pk]
    settings.FEED_HALF_LIFE_HOURS = 10_000
    settings.FEED_LIKE_WEIGHT = 100
    Post.objects.filter(pk=unseen.pk).update(like_count=3)
    assert [c.pk for c in ranking.rank(viewer, timezone.now())] == [unseen.pk, seen.pk]


def test_candidates_are_bounded_by_settings(make_user, make_post, settings):
    viewer = make_user("viewer")
    posts = [make_post(make_user(f"a{i}"), created=ago(i)) for i in range(6)]
    Post.objects.filter(pk=posts[-1].pk).update(like_count=5)
    settings.FEED_RECENT_CANDIDATES = 2
    settings.FEED_POPULAR_CANDIDATES = 1
    # The two newest, plus the most liked of the recent window.
    assert {c.pk for c in ranking.rank(viewer, timezone.now())} == {posts[0].pk, posts[1].pk, posts[-1].pk}


def test_for_you_page_shows_why_and_loads_more_with_htmx(user_client, make_user, make_post, settings):
    settings.FEED_PAGE_SIZE = 2
    for i in range(5):
        make_post(make_user(f"a{i}"), created=ago(i + 1))
    first = user_client.get(reverse("feed:home"))
    html = first.content.decode()
    assert html.count('data-testid="why"') == 2
    assert 'hx-trigger="revealed"' in html and 'hx-get="/?as_of=' in html
    next_url = first.context["next_url"]
    second = user_client.get(next_url, HTTP_HX_REQUEST="true")
    assert second.templates[0].name == "feed/_cards.html"
    assert b"<html" not in second.content
    codes = [p.code for p in first.context["posts"]] + [p.code for p in second.context["posts"]]
    assert len(set(codes)) == 4


def test_bad_paging_parameters_fall_back_to_the_first_page(client, make_user, make_post):
    make_post(make_user("a"))
    for query in ("?offset=abc", "?as_of=zzz", "?offset=-5", "?as_of=99999999999999999999999"):
        response = client.get(reverse("feed:home") + query)
        assert response.status_code == 200 and len(response.context["posts"]) == 1
    assert client.get(reverse("feed:profile", args=["a"]) + "?before=nope").status_code == 200


def test_seen_endpoint_records_a_view_once(user, user_client, make_user, make_post):
    post = make_post(make_user("a"))
    url = reverse("feed:seen", args=[post.code])
    assert user_client.post(url).status_code == 204
    assert user_client.post(url).status_code == 204
    assert PostView.objects.filter(user=user, post=post).count() == 1


def test_following_feed_is_newest_first_and_pages_by_cursor(
    user, user_client, make_user, make_post, settings
):
    settings.FEED_PAGE_SIZE = 2
    friend = make_user("friend")
    actions.follow(user, friend)
    posts = [make_post(friend, created=ago(i)) for i in range(5)]
    make_post(make_user("stranger"))
    seen = []
    url = reverse("feed:following")
    while url:
        response = user_client.get(url, HTTP_HX_REQUEST="true")
        seen += [p.pk for p in response.context["posts"]]
        url = response.context["next_url"]
    assert seen == [p.pk for p in posts]


def test_following_is_each_viewers_own_and_honours_a_block_between_pages(
    make_user, make_post, client_as, settings
):
    """Following's query is compiled once per process (feed.paging): the next viewer still sees
    their own follows and likes, and a block made mid-scroll hides the blocker's later page."""
    from accounts.models import Block

    settings.FEED_PAGE_SIZE = 1
    alice, bob, carol, dan = (make_user(h) for h in ("alice", "bob", "carol", "dan"))
    actions.follow(alice, carol)
    actions.follow(bob, dan)
    carols = [make_post(carol, created=ago(i + 1)) for i in range(2)]
    dans = make_post(dan, created=ago(1))
    actions.toggle_like(bob, dans, like=True)
    first = client_as(alice).get(reverse("feed:following"))
    assert [p.pk for p in first.context["posts"]] == [carols[0].pk]
    bobs = client_as(bob).get(reverse("feed:following")).context["posts"]
    assert [(p.pk, p.liked) for p in bobs] == [(dans.pk, True)]
    Block.objects.create(blocker=carol, blocked=alice)
    later = client_as(alice).get(first.context["next_url"], HTTP_HX_REQUEST="true")
    assert later.context["posts"] == []


@pytest.fixture
def ranking_cache(settings, monkeypatch):
    """For You with its ranking cache on, as in production (the test settings turn it off); the
    cache starts empty (tests/conftest.py clears it around every test). The bell's few-second
    cache is stretched so a slow machine can't expire it mid-test."""
    from feed import bell

    settings.FEED_RANKING_CACHE_SECONDS = 30
    monkeypatch.setattr(bell, "BELL_CACHE_SECONDS", 300)


def feed_codes(response) -> list[str]:
    return [p.code for p in response.context["posts"]]


def test_a_reloaded_for_you_reuses_its_ranking_for_a_while(
    ranking_cache, user, user_client, make_user, make_post, django_assert_num_queries
):
    first = make_post(make_user("a"), created=ago(1))
    shown = feed_codes(user_client.get(reverse("feed:home")))
    later = make_post(make_user("b"))
    # Page rows: no ranking, the bell was counted a moment ago (feed.bell), and the session and
    # user come from the cache (accounts.sessions, User.cached).
    with django_assert_num_queries(1):
        again = user_client.get(reverse("feed:home"))
    assert feed_codes(again) == shown == [first.code]
    ranking.forget(user)
    assert feed_codes(user_client.get(reverse("feed:home"))) == [later.code, first.code]


def test_later_pages_page_through_the_cached_ranking(
    ranking_cache, user_client, make_user, make_post, settings, django_assert_num_queries
):
    settings.FEED_PAGE_SIZE = 2
    posts = [make_post(make_user(f"a{i}"), created=ago(i + 1)) for i in range(4)]
    first = user_client.get(reverse("feed:home"))
    with django_assert_num_queries(1):  # page rows (the session and user from the cache)
        second = user_client.get(first.context["next_url"], HTTP_HX_REQUEST="true")
    assert feed_codes(first) + feed_codes(second) == [p.code for p in posts]


def cache_reads(monkeypatch) -> list[str]:
    """Calls to the cache's `get` and `get_many` from here on (not the `get`s a `get_many` makes
    inside a cache that has no native one, as locmem)."""
    backend, reads, depth = type(caches["default"]), [], [0]

    def counting(name, original):
        def counted(self, *args, **kwargs):
            if not depth[0]:
                reads.append(name)
            depth[0] += 1
            try:
                return original(self, *args, **kwargs)
            finally:
                depth[0] -= 1

        return counted

    for name in ("get", "get_many"):
        monkeypatch.setattr(backend, name, counting(name, getattr(backend, name)))
    return reads


def test_a_cached_for_you_page_reads_the_cache_twice(
    ranking_cache, user, user_client, make_user, make_post, monkeypatch
):
    """The session, then the person with their ranking, feed settings and bell in one read."""
    post = make_post(make_user("a"), created=ago(1))
    user_client.get(reverse("feed:home"))
    reads = cache_reads(monkeypatch)
    response = user_client.get(reverse("feed:home"))
    assert response.context["user"] == user and feed_codes(response) == [post.code]
    assert reads == ["get", "get_many"]


def test_a_session_no_longer_signed_in_never_gets_its_person_s_cached_for_you(
    ranking_cache, user, user_client, make_user, make_post
):
    """The person's ranking is read with their row before the row says whether they may still be
    signed in: a suspended person's cookie gets the anonymous For You, not their ranking."""
    make_post(make_user("friend"), created=ago(1))
    user_client.post(reverse("feed:follow", args=["friend"]))
    assert "You follow @friend" in user_client.get(reverse("feed:home")).content.decode()
    suspend_user(user, make_user("mod", is_staff=True), "spam")
    response = user_client.get(reverse("feed:home"))
    assert not response.context["user"].is_authenticated
    assert "You follow @friend" not in response.content.decode()


def test_a_cached_ranking_never_shows_what_the_viewer_may_no_longer_see(
    ranking_cache, user, user_client, make_user, make_post
):
    rude, removed = make_user("rude"), make_post(make_user("c"), created=ago(2))
    rude_post = make_post(rude, created=ago(1))
    assert feed_codes(user_client.get(reverse("feed:home"))) == [rude_post.code, removed.code]
    actions.block_user(rude, user)
    Post.objects.filter(pk=removed.pk).update(hidden=True)
    assert feed_codes(user_client.get(reverse("feed:home"))) == []


def test_following_someone_reranks_for_you_at_once(ranking_cache, user, user_client, make_user, make_post):
    friend = make_user("friend")
    public = make_post(make_user("z"), created=ago(1))
    private = make_post(friend, created=ago(2), visibility=Post.Visibility.FOLLOWERS)
    assert feed_codes(user_client.get(reverse("feed:home"))) == [public.code]
    user_client.post(reverse("feed:follow", args=["friend"]))
    assert feed_codes(user_client.get(reverse("feed:home"))) == [private.code, public.code]


def test_a_stale_ranking_is_shown_once_while_a_fresh_one_is_made(
    ranking_cache, user, user_client, make_user, make_post, settings, monkeypatch, django_assert_num_queries
):
    """Past FEED_RANKING_CACHE_SECONDS a first page still comes from the cache (no ranking on
    the request) and the ranking is redone beside it: the next first page has the new post, and
    the scroll session the stale page started keeps its order."""
    from django.core.cache import cache

    settings.FEED_PAGE_SIZE = 1
    jobs = []
    monkeypatch.setattr(ranking._refresher, "submit", lambda fn, *args: jobs.append((fn, args)))
    monkeypatch.setattr(ranking.db.connections, "close_all", lambda: None)  # the test's own
    older, oldest = make_post(make_user("a"), created=ago(2)), make_post(make_user("c"), created=ago(3))
    first = user_client.get(reverse("feed:home"))
    key = ranking._cache_key(user)
    stamp, entries = cache.get(key)
    cache.set(key, (stamp - 31_000_000, entries))  # ranked 31 s ago
    newer = make_post(make_user("b"), created=ago(1))
    with django_assert_num_queries(1):  # page rows: no ranking
        stale = user_client.get(reverse("feed:home"))
    assert feed_codes(stale) == feed_codes(first) == [older.code] and len(jobs) == 1
    fn, args = jobs.pop()
    fn(*args)
    assert feed_codes(user_client.get(reverse("feed:home"))) == [newer.code]
    with django_assert_num_queries(1):  # the stale page's session pages through its own ranking
        page = user_client.get(stale.context["next_url"], HTTP_HX_REQUEST="true")
    assert feed_codes(page) == [oldest.code]
    cache.set(key, (stamp - ranking.STALE_FACTOR * 31_000_000, entries))  # too old to show
    assert feed_codes(user_client.get(reverse("feed:home"))) == [newer.code] and not jobs
