"""Steering in plain words, "not interested", people before virality, and the wellbeing switches.

The corpus is 40 posts in four topics (tests/feed/corpus.py), one per author, a quarter of an
hour apart and round-robin by topic, so an unsteered first page holds each topic about equally.
Posts are made as rows (no video files: ranking never reads them) and embedded by the real job.
"""

from datetime import date, timedelta

import django_rq
import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils import timezone

from feed import actions, ranking, semantics
from feed.jobs import embed_post
from feed.models import FeedSettings, NotInterested, Post
from generation.models import Generation
from tests.conftest import post_of, queued_generation
from tests.feed.corpus import TOPICS

pytestmark = pytest.mark.django_db


def ago(hours: float):
    return timezone.now() - timedelta(hours=hours)


@pytest.fixture
def make_row_post(make_user):
    """make_row_post(author, caption, prompt=None, hide_prompt=False, **columns) -> embedded Post."""

    def make(author, caption, *, prompt=None, hide_prompt=False, **columns):
        generation = queued_generation(
            author,
            prompt=prompt or caption,
            status=Generation.Status.SUCCEEDED,
            check_status=Generation.Check.PASSED,
            seconds=2,
            seed=1,
        )
        post = post_of(generation, caption=caption, hide_prompt=hide_prompt, **columns)
        assert embed_post(post.pk)
        return post

    return make


@pytest.fixture
def corpus(make_user, make_row_post):
    """topic -> [post, ...]; the newest post first within each topic."""
    by_topic = {topic: [] for topic in TOPICS}
    n = 0
    for k in range(10):
        for topic, captions in TOPICS.items():
            author = make_user(f"{topic}{k}")
            by_topic[topic].append(make_row_post(author, captions[k], created=ago(0.25 * n)))
            n += 1
    return by_topic


def first_page(client) -> list[Post]:
    response = client.get(reverse("feed:home"))
    assert response.status_code == 200
    return response.context["posts"]


def share(posts, topic_posts) -> float:
    ids = {p.pk for p in topic_posts}
    return sum(p.pk in ids for p in posts) / len(posts)


def test_steering_lifts_more_sinks_less_and_clearing_restores_the_order(
    corpus, user, user_client, make_user, settings
):
    settings.FEED_PAGE_SIZE = 8
    baseline = first_page(user_client)
    baseline_order = [c.pk for c in ranking.rank(user, timezone.now())]
    base_cooking, base_pranks = share(baseline, corpus["cooking"]), share(baseline, corpus["pranks"])
    assert base_cooking > 0 and base_pranks > 0

    response = user_client.post(reverse("feed:steer"), {"steering": "more cooking, less pranks"})
    assert response.status_code == 302
    assert FeedSettings.objects.get(user=user).steering == "more cooking, less pranks"

    page = user_client.get(reverse("feed:home"))
    steered = page.context["posts"]
    assert share(steered, corpus["cooking"]) >= 3 * base_cooking
    assert share(steered, corpus["pranks"]) <= base_pranks / 2
    # The line is shown and editable, and the "why" line says what lifted a post.
    assert 'value="more cooking, less pranks"' in page.content.decode()
    cooking_ids = {p.pk for p in corpus["cooking"]}
    assert any(p.reason.startswith("Matches 'cooking'") for p in steered if p.pk in cooking_ids)
    assert "Matches &#x27;cooking&#x27;" in page.content.decode()
    # Per person: someone else's feed isn't steered.
    assert [c.pk for c in ranking.rank(make_user("other"), timezone.now())] == baseline_order

    user_client.post(reverse("feed:steer"), {"steering": "anything", "clear": "1"})
    assert FeedSettings.objects.get(user=user).steering == ""
    assert [p.pk for p in first_page(user_client)] == [p.pk for p in baseline]
    assert [c.pk for c in ranking.rank(user, timezone.now())] == baseline_order


@pytest.mark.parametrize(
    ("text", "more", "less"),
    [
        ("more cooking and animals, less pranks", ["cooking", "animals"], ["pranks"]),
        ("cooking", ["cooking"], []),
        ("fewer pranks but more sport", ["sport"], ["pranks"]),
        ("no pranks please", [], ["pranks"]),
        ("  ", [], []),
    ],
)
def test_steering_text_splits_into_more_and_less(text, more, less):
    steering = semantics.parse_steering(text)
    assert (steering.more, steering.less) == (more, less)


def test_a_too_long_steering_line_is_refused_with_a_message(user, user_client):
    response = user_client.post(reverse("feed:steer"), {"steering": "cooking " * 40}, follow=True)
    assert response.status_code == 200
    assert "under 200 characters" in response.content.decode()
    assert not FeedSettings.objects.filter(user=user).exists()


def test_not_interested_removes_the_post_lowers_near_duplicates_and_can_be_undone(
    corpus, user, user_client, make_user, make_row_post
):
    target = corpus["pranks"][0]  # "Fake spider prank on my sister"
    twin = make_row_post(make_user("twin"), "Fake spider prank on my brother", created=ago(5))
    same_author = make_row_post(target.author, "A lighthouse in the fog", created=ago(5.1))
    before = {c.pk: c.score for c in ranking.rank(user, timezone.now())}

    response = user_client.post(reverse("feed:not_interested", args=[target.code]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'data-testid="undo-not-interested"' in response.content.decode()

    after = {c.pk: c.score for c in ranking.rank(user, timezone.now())}
    assert target.pk not in after
    assert after[twin.pk] < before[twin.pk] / 5  # posts like it sink
    assert before[same_author.pk] * 0.7 < after[same_author.pk] < before[same_author.pk]  # a little
    cooking = corpus["cooking"][0]
    assert after[cooking.pk] == pytest.approx(before[cooking.pk], rel=0.01)  # others don't move
    assert target.pk not in {p.pk for p in first_page(user_client)}

    # Visible in the feed settings, and undone from there (or with the card's Undo).
    page = user_client.get(reverse("feed:feed_settings"))
    assert target.caption in page.content.decode()
    response = user_client.post(
        reverse("feed:not_interested", args=[target.code]), {"undo": "1"}, HTTP_HX_REQUEST="true"
    )
    assert f'data-post="{target.code}"' in response.content.decode()  # the card is back
    assert target.pk in {c.pk for c in ranking.rank(user, timezone.now())}


def test_feed_settings_reset_forgets_every_not_interested(corpus, user, user_client):
    for post in corpus["sport"][:3]:
        user_client.post(reverse("feed:not_interested", args=[post.code]))
    assert NotInterested.objects.filter(user=user).count() == 3
    response = user_client.post(reverse("feed:feed_settings"), {"action": "reset"}, follow=True)
    assert "Forgot 3" in response.content.decode()
    assert not NotInterested.objects.filter(user=user).exists()
    ranked = {c.pk for c in ranking.rank(user, timezone.now())}
    assert {p.pk for p in corpus["sport"][:3]} <= ranked


def test_a_hidden_prompt_never_makes_a_post_rank_or_match_a_search(
    user, user_client, make_user, make_row_post
):
    canary = "quokka kazoo zeppelin"
    hidden = make_row_post(
        make_user("secretive"), "My weekend", prompt=canary, hide_prompt=True, created=ago(1)
    )
    shown = make_row_post(make_user("open"), "My weekend too", prompt=canary, created=ago(1))
    for i in range(4):
        make_row_post(make_user(f"n{i}"), f"Sunset number {i}", created=ago(0.5 + i))
    baseline = [c.pk for c in ranking.rank(user, timezone.now())]

    actions.save_feed_settings(user, steering=f"more {canary}")
    steered = ranking.rank(user, timezone.now())
    by_pk = {c.pk: c for c in steered}
    assert "Matches" not in by_pk[hidden.pk].reason
    assert "Matches" in by_pk[shown.pk].reason  # the control: a visible prompt does steer
    # The hidden post keeps its place relative to the posts that don't match.
    unsteered = [pk for pk in baseline if pk != shown.pk]
    assert [c.pk for c in steered if c.pk != shown.pk] == unsteered

    for query in ("quokka", canary, "kazoo zeppelin"):
        response = user_client.get(reverse("feed:search"), {"q": query})
        found = {p.pk for p in response.context["posts"]}
        assert hidden.pk not in found and shown.pk in found
        assert hidden.code not in response.content.decode()


def test_posting_queues_the_embedding_on_the_cpu_queue(
    make_user, make_generation, django_capture_on_commit_callbacks
):
    queue = django_rq.get_queue(django_settings.CPU_QUEUE)
    queue.empty()
    author = make_user("poster")
    with django_capture_on_commit_callbacks(execute=True):
        post = actions.publish_post(make_generation(author), caption="Baking bread", hide_prompt=True)
    jobs = [job for job in queue.get_jobs() if job.func_name == "feed.jobs.embed_post"]
    assert [job.args for job in jobs] == [(post.pk,)]
    assert Post.objects.get(pk=post.pk).embedding is None
    queue.empty()
    embed_post(post.pk)
    stored = semantics.unpack_many([Post.objects.get(pk=post.pk).embedding])[0]
    expected = semantics.embed(["Baking bread"])[0]  # caption only: the prompt is hidden
    assert float(stored @ expected) > 0.98


# --- people before virality ---------------------------------------------------------------------


def test_people_i_know_rank_above_viral_strangers(user, make_user, make_row_post):
    friend, mutual, fave, stranger = (make_user(h) for h in ("friend", "mutual", "fave", "stranger"))
    actions.follow(user, friend)
    actions.follow(user, mutual)
    actions.follow(mutual, user)
    liked = make_row_post(fave, "An old clip", created=ago(200))
    actions.toggle_like(user, liked)
    viral = make_row_post(
        stranger, "Everyone watched this", created=ago(1), like_count=50_000, comment_count=9000
    )
    posts = {
        "friend": make_row_post(friend, "Quiet post", created=ago(1)),
        "mutual": make_row_post(mutual, "Quiet post two", created=ago(1)),
        "fave": make_row_post(fave, "Quiet post three", created=ago(1)),
    }
    ranked = ranking.rank(user, timezone.now())
    position = {c.pk: i for i, c in enumerate(ranked)}
    assert position[posts["mutual"].pk] < position[posts["friend"].pk] < position[viral.pk]
    assert position[posts["fave"].pk] < position[viral.pk]
    reasons = {c.pk: c.reason for c in ranked}
    assert reasons[posts["mutual"].pk] == "You and @{handle} follow each other"


# --- wellbeing ------------------------------------------------------------------------------------


@pytest.fixture
def small_feed(make_user, make_row_post):
    followed = make_user("followed")
    old = make_row_post(followed, "An old post by someone I follow", created=ago(30))
    for i in range(6):
        make_row_post(make_user(f"s{i}"), f"Stranger post {i}", created=ago(i * 0.5), like_count=i)
    return {"followed": followed, "old": old}


def test_a_teen_starts_non_personalised_with_a_scroll_limit(client, small_feed, settings):
    from accounts.models import User

    settings.FEED_PAGE_SIZE = 5
    settings.FEED_TEEN_SCROLL_LIMIT = 3
    today = date.today()
    teen = User.objects.create_user(
        handle="teen", password="x", email="t@example.com", birth_date=date(today.year - 15, 1, 1)
    )
    actions.follow(teen, small_feed["followed"])
    client.force_login(teen)
    response = client.get(reverse("feed:home"))
    prefs = response.context["prefs"]
    assert prefs.non_personalised and prefs.scroll_limit == 3
    posts = response.context["posts"]
    assert len(posts) == 3 and response.context["take_break"]
    assert "You've watched 3 videos. Take a break?" in response.content.decode()
    # Non-personalised: the followed author's old post isn't lifted above newer ones.
    assert small_feed["old"].pk not in {p.pk for p in posts}
    assert not any("follow" in p.reason for p in posts)
    # "Keep watching" loads the next stretch, up to the next reminder.
    more = client.get(response.context["next_url"], HTTP_HX_REQUEST="true")
    assert len(more.context["posts"]) == 3 and more.context["take_break"]


def test_an_adult_can_turn_on_non_personalised_and_a_scroll_limit(user, user_client, small_feed, settings):
    settings.FEED_PAGE_SIZE = 5
    actions.follow(user, small_feed["followed"])
    response = user_client.get(reverse("feed:home"))
    assert not response.context["prefs"].non_personalised and response.context["prefs"].scroll_limit == 0
    assert response.context["posts"][0].pk == small_feed["old"].pk  # followed: personalised
    assert not response.context["take_break"]

    response = user_client.post(
        reverse("feed:feed_settings"), {"steering": "", "non_personalised": "on", "scroll_limit": "2"}
    )
    assert response.status_code == 302
    response = user_client.get(reverse("feed:home"))
    assert response.context["prefs"].non_personalised
    assert len(response.context["posts"]) == 2 and response.context["take_break"]
    assert small_feed["old"].pk not in {p.pk for p in response.context["posts"]}


def test_feed_settings_refuse_a_bad_scroll_limit(user, user_client):
    response = user_client.post(reverse("feed:feed_settings"), {"scroll_limit": "-4"})
    assert response.status_code == 200
    assert "greater than or equal to 0" in response.content.decode()
    assert not FeedSettings.objects.filter(user=user).exists()


def test_feed_settings_and_search_pages_have_a_fixed_query_count(
    corpus, user, user_client, django_assert_num_queries
):
    for post in corpus["sport"][:4]:
        actions.mark_not_interested(user, post)
    # user (the first page after signing in; the session comes from the cache), settings, marks
    # with posts, bell
    with django_assert_num_queries(4):
        assert user_client.get(reverse("feed:feed_settings")).status_code == 200
    # post pool, word matches, post rows, people, bell; the session and user from the cache
    with django_assert_num_queries(5):
        assert user_client.get(reverse("feed:search"), {"q": "cooking"}).status_code == 200


# --- search ----------------------------------------------------------------------------------------


def test_search_finds_posts_by_meaning_and_words_and_people_by_handle_or_name(
    corpus, user, user_client, make_user
):
    make_user("chefmaria", display_name="Maria the Baker")
    blocked = make_user("cookie_blocked")
    actions.block_user(user, blocked)

    response = user_client.get(reverse("feed:search"), {"q": "cooking"})
    posts = response.context["posts"]
    cooking_ids = {p.pk for p in corpus["cooking"]}
    assert len(posts) >= 5 and all(p.pk in cooking_ids for p in posts[:5])  # by meaning
    words = user_client.get(reverse("feed:search"), {"q": "kickflip"}).context["posts"]
    assert words[0].caption == "Skateboarder lands a kickflip" and words[0].reason == "Matches “kickflip”"

    people = user_client.get(reverse("feed:search"), {"q": "baker"}).context["people"]
    assert [p.handle for p in people] == ["chefmaria"]
    people = user_client.get(reverse("feed:search"), {"q": "@cook"}).context["people"]
    assert blocked.handle not in [p.handle for p in people]
    assert [p.handle for p in people][:1] == ["cooking0"]  # handles starting with it first

    box = user_client.get(reverse("feed:search"), {"q": "penguins"}, HTTP_HX_REQUEST="true")
    assert box.status_code == 200 and "<html" not in box.content.decode()
    assert "Penguins waddling across the ice" in box.content.decode()
    assert user_client.get(reverse("feed:search"), {"q": ""}).context["posts"] == []


def test_embed_posts_command_fills_in_missing_vectors(make_user, make_row_post):
    from io import StringIO

    from django.core.management import call_command

    post = make_row_post(make_user("late"), "Baking bread at dawn")
    Post.objects.filter(pk=post.pk).update(embedding=None)
    out = StringIO()
    call_command("embed_posts", "--dry-run", stdout=out)
    assert "1 posts to embed" in out.getvalue()
    assert Post.objects.get(pk=post.pk).embedding is None
    call_command("embed_posts", stdout=out)
    assert "embedded 1 posts" in out.getvalue()
    assert len(Post.objects.get(pk=post.pk).embedding) == semantics.DIMENSIONS
