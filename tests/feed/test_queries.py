"""Every feed, profile and list page costs a fixed number of queries, however much it shows.

Logged in, the session comes from the cache (accounts.sessions), the user is read once on the first
page after signing in and then from the cache too (User.cached), and one query is the bell's unread
count; the rest are the page's own. Each test here is such a first page.
"""

import pytest
from django.urls import reverse

from feed import actions

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[1, 8], ids=["one-each", "eight-each"])
def busy_site(request, user, make_user, make_post, settings):
    """A friend of `user` with `n` posts, each with comments, a reply and likes; `user` has
    notifications and follows, and the friend has followers."""
    settings.FEED_PAGE_SIZE = 10
    n = request.param
    friend = make_user("friend")
    actions.follow(user, friend)
    actions.follow(friend, user)
    for i in range(n):
        fan = make_user(f"fan{n}x{i}")
        actions.follow(fan, friend)
        actions.follow(user, fan)
        post = make_post(friend, caption=f"post {i}")
        mine = make_post(user, caption=f"mine {i}")
        actions.toggle_like(fan, mine)
        actions.toggle_like(user, post)
        top = actions.add_comment(fan, post, "first")
        actions.add_comment(user, post, "reply", parent=top)
        actions.add_comment(fan, mine, "nice")
    return {"friend": friend, "post": post, "n": n}


PAGES = [
    # user, feed settings, "not interested" marks, 3 candidate pools, interactions, page rows, bell
    ("feed:home", [], 9),
    ("feed:following", [], 3),  # user, page rows, bell
    ("feed:profile", ["friend"], 4),  # user, person with counts, grid, bell
    ("feed:followers", ["friend"], 4),  # user, person, list, bell
    ("feed:following_list", ["alice"], 4),
    ("feed:notifications", [], 5),  # user, list, new moderation notices, mark read, bell
]


@pytest.mark.parametrize(("name", "args", "queries"), PAGES, ids=[p[0] for p in PAGES])
def test_logged_in_pages_have_a_fixed_query_count(
    busy_site, user_client, django_assert_num_queries, name, args, queries
):
    with django_assert_num_queries(queries):
        response = user_client.get(reverse(name, args=args))
    assert response.status_code == 200


def test_post_page_has_a_fixed_query_count(busy_site, user_client, django_assert_num_queries):
    # user, post, source, remixes, comments, replies, record view, bell
    with django_assert_num_queries(8):
        response = user_client.get(busy_site["post"].get_absolute_url())
    assert len(response.context["comments"]) == 1


@pytest.mark.parametrize(
    ("name", "args", "queries"),
    [("feed:home", [], 3), ("feed:profile", ["friend"], 2), ("feed:followers", ["friend"], 2)],
)
def test_anonymous_pages_have_a_fixed_query_count(
    busy_site, client, django_assert_num_queries, name, args, queries
):
    with django_assert_num_queries(queries):
        assert client.get(reverse(name, args=args)).status_code == 200


def test_htmx_pages_skip_the_bell(busy_site, user_client, django_assert_num_queries):
    with django_assert_num_queries(8):  # the For You page minus the bell
        response = user_client.get(reverse("feed:home"), HTTP_HX_REQUEST="true")
    assert len(response.context["posts"]) == min(10, 2 * busy_site["n"])
