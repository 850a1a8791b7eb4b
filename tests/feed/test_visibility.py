"""The one visibility rule, checked everywhere a post shows up, for every kind of viewer."""

import pytest
from django.urls import reverse

from feed import actions
from feed.models import Comment, Notification, Post

pytestmark = pytest.mark.django_db

ROLES = ["author", "follower", "stranger", "blocked", "anonymous"]
# What each viewer may see of the author's posts, by visibility.
SEES = {
    "author": {"public", "followers", "only_me"},
    "follower": {"public", "followers"},
    "stranger": {"public"},
    "blocked": set(),
    "anonymous": {"public"},
}


@pytest.fixture
def posts(world, make_post):
    author = world["author"]
    return {v: make_post(author, caption=f"{v} post", visibility=v) for v in Post.Visibility.values}


def viewer(world, role):
    return None if role == "anonymous" else world[role]


@pytest.mark.parametrize("role", ROLES)
def test_visible_to_follows_the_audience_table(world, posts, role):
    from django.contrib.auth.models import AnonymousUser

    user = viewer(world, role) or AnonymousUser()
    visible = set(Post.objects.visible_to(user).values_list("visibility", flat=True))
    assert visible == SEES[role]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("visibility", Post.Visibility.values)
def test_post_page_and_media_answer_404_unless_visible(world, posts, client_as, role, visibility):
    client = client_as(viewer(world, role))
    post = posts[visibility]
    expected = 200 if visibility in SEES[role] else 404
    assert client.get(post.get_absolute_url()).status_code == expected
    for variant in ("video", "poster", "sprite"):
        response = client.get(reverse("feed:media", args=[post.code, variant]))
        assert response.status_code == expected, variant
        if expected == 200:
            assert b"".join(response.streaming_content)


@pytest.mark.parametrize("role", ROLES)
def test_profile_grid_lists_only_visible_posts(world, posts, client_as, role):
    response = client_as(viewer(world, role)).get(world["author"].get_absolute_url())
    assert response.status_code == 200
    shown = {p.visibility for p in response.context["posts"]}
    assert shown == SEES[role]
    assert response.context["person"].post_count == len(SEES[role])


@pytest.mark.parametrize("role", ROLES)
def test_for_you_lists_only_visible_posts(world, posts, client_as, role):
    response = client_as(viewer(world, role)).get(reverse("feed:home"))
    assert {p.visibility for p in response.context["posts"]} == SEES[role]


@pytest.mark.parametrize("role", ["author", "follower", "stranger", "blocked"])
def test_following_feed_lists_visible_posts_of_followed_people(world, posts, client_as, role):
    response = client_as(world[role]).get(reverse("feed:following"))
    # Only the follower follows the author; nobody follows themselves.
    expected = SEES["follower"] if role == "follower" else set()
    assert {p.visibility for p in response.context["posts"]} == expected


def test_following_feed_asks_anonymous_visitors_to_log_in(client, posts):
    response = client.get(reverse("feed:following"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("visibility", Post.Visibility.values)
def test_commenting_needs_a_visible_post(world, posts, client_as, role, visibility):
    post = posts[visibility]
    response = client_as(viewer(world, role)).post(
        reverse("feed:comment", args=[post.code]), {"body": "nice"}
    )
    written = Comment.objects.filter(post=post).exists()
    if role == "anonymous":
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
        assert not written
    elif visibility in SEES[role]:
        assert response.status_code == 302 and written
    else:
        assert response.status_code == 404 and not written


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("visibility", Post.Visibility.values)
def test_remix_needs_a_visible_public_post(world, posts, client_as, role, visibility):
    post = posts[visibility]
    response = client_as(viewer(world, role)).get(f"{reverse('generation:create')}?remix={post.code}")
    if role == "anonymous":
        assert response.status_code == 302
    elif visibility == "public" and visibility in SEES[role]:
        assert response.status_code == 200
        assert response.context["form"].initial["prompt"] == post.generation.prompt
    else:
        assert response.status_code == 404


def test_remix_prefill_leaves_out_a_hidden_prompt(world, make_post, client_as):
    post = make_post(world["author"], hide_prompt=True, prompt="secret sauce")
    response = client_as(world["stranger"]).get(f"{reverse('generation:create')}?remix={post.code}")
    assert response.status_code == 200
    assert response.context["form"].initial["prompt"] == ""
    assert b"secret sauce" not in response.content


def test_hidden_prompt_is_not_on_the_post_page_or_in_feeds(world, make_post, client_as):
    make_post(world["author"], hide_prompt=True, prompt="secret sauce", caption="guess")
    client = client_as(world["stranger"])
    assert b"secret sauce" not in client.get(reverse("feed:home")).content
    post = Post.objects.get()
    page = client.get(post.get_absolute_url()).content
    assert b"guess" in page and b"secret sauce" not in page


def test_teens_never_see_mature_posts(make_user, teen, make_post, client_as):
    author = make_user("maker")
    mature = make_post(author, caption="intense", mature=True)
    assert not Post.objects.visible_to(teen).filter(pk=mature.pk).exists()
    assert client_as(teen).get(mature.get_absolute_url()).status_code == 404
    assert client_as(teen).get(reverse("feed:home")).context["posts"] == []
    assert client_as(None).get(mature.get_absolute_url()).status_code == 404
    adult = make_user("grownup")
    assert client_as(adult).get(mature.get_absolute_url()).status_code == 200


def test_hidden_posts_are_seen_by_staff_only(world, staff_user, make_post, client_as):
    post = make_post(world["author"], hidden=True)
    assert client_as(world["author"]).get(post.get_absolute_url()).status_code == 404
    assert client_as(world["follower"]).get(post.get_absolute_url()).status_code == 404
    assert client_as(staff_user).get(post.get_absolute_url()).status_code == 200


def test_comments_by_blocked_people_disappear_for_the_blocker(world, make_post, client_as):
    post = make_post(world["stranger"])
    actions.add_comment(world["blocked"], post, "from the blocked one")
    actions.add_comment(world["follower"], post, "from a friend")
    page = client_as(world["author"]).get(post.get_absolute_url()).content.decode()
    assert "from a friend" in page and "from the blocked one" not in page


def test_notifications_about_posts_i_can_no_longer_see_are_not_listed(world, make_post, client_as):
    post = make_post(world["author"], caption="mine")
    actions.toggle_like(world["follower"], post)
    Post.objects.filter(pk=post.pk).update(hidden=True)
    response = client_as(world["author"]).get(reverse("feed:notifications"))
    assert list(response.context["notifications"]) == []
    assert Notification.objects.filter(recipient=world["author"]).count() == 1


def test_blocked_people_cannot_notify_me(world, make_post):
    post = make_post(world["blocked"])
    actions.follow(world["stranger"], world["blocked"])
    assert (
        actions.notify(world["author"].pk, Notification.Kind.LIKE, actor=world["blocked"], post=post) is None
    )
    assert not Notification.objects.filter(recipient=world["author"]).exists()


@pytest.mark.parametrize("role", ["follower", "stranger", "blocked", "anonymous"])
def test_only_the_author_can_unpost_or_delete(world, make_post, client_as, role):
    post = make_post(world["author"])
    client = client_as(viewer(world, role))
    for name in ("feed:unpost", "feed:delete"):
        response = client.post(reverse(name, args=[post.code]))
        assert response.status_code in (302, 404)
        if response.status_code == 302:
            assert "/accounts/login/" in response["Location"]
    assert Post.objects.filter(pk=post.pk).exists()


@pytest.mark.parametrize("role", ["follower", "stranger", "blocked", "anonymous"])
def test_nobody_else_can_post_my_draft(world, make_generation, client_as, role):
    generation = make_generation(world["author"])
    response = client_as(viewer(world, role)).post(
        reverse("feed:publish", args=[generation.code]), {"visibility": "public"}
    )
    assert response.status_code in (302, 404)
    assert not Post.objects.exists()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("visibility", Post.Visibility.values)
def test_liking_needs_a_visible_post(world, posts, client_as, role, visibility):
    post = posts[visibility]
    response = client_as(viewer(world, role)).post(reverse("feed:like", args=[post.code]), {"like": "1"})
    liked = Post.objects.get(pk=post.pk).like_count == 1
    if role == "anonymous":
        assert response.status_code == 302 and "/accounts/login/" in response["Location"] and not liked
    elif visibility in SEES[role]:
        assert response.status_code == 302 and liked
    else:
        assert response.status_code == 404 and not liked


@pytest.mark.parametrize("role", ["follower", "stranger", "blocked"])
def test_the_author_is_notified_only_by_people_who_can_see_the_post(world, posts, role):
    for post in posts.values():
        try:
            actions.add_comment(world[role], post, "hello")
        except actions.CommentRefused:
            pass
    notified = Notification.objects.filter(recipient=world["author"], kind="comment")
    assert {n.post.visibility for n in notified} == SEES[role] - {"only_me"}
