"""Follows, blocks, likes and comments: the happy paths and the bad input."""

import html

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts.models import Block
from feed import actions
from feed.models import Comment, Follow, Like, Post

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return html.unescape(response.content.decode())


# --- follows and blocks ---------------------------------------------------------------------


def test_follow_and_unfollow_from_the_profile(user, other_user, user_client):
    url = reverse("feed:follow", args=[other_user.handle])
    response = user_client.post(url, {"follow": "1"}, HTTP_HX_REQUEST="true")
    assert b"Following" in response.content
    assert Follow.objects.filter(follower=user, followee=other_user).exists()
    user_client.post(url, {"follow": "1"})  # twice: still one row
    assert Follow.objects.count() == 1
    page = user_client.get(other_user.get_absolute_url())
    assert page.context["person"].follower_count == 1 and page.context["person"].viewer_follows
    user_client.post(url, {"follow": "0"})
    assert not Follow.objects.exists()


def test_following_yourself_is_refused_with_a_message(user, user_client):
    response = user_client.post(reverse("feed:follow", args=[user.handle]), {"follow": "1"}, follow=True)
    assert "You can't follow yourself." in text(response)
    assert not Follow.objects.exists()


def test_the_database_refuses_self_follows_and_duplicates(user, other_user):
    with pytest.raises(IntegrityError), transaction.atomic():
        Follow.objects.create(follower=user, followee=user)
    Follow.objects.create(follower=user, followee=other_user)
    with pytest.raises(IntegrityError), transaction.atomic():
        Follow.objects.create(follower=user, followee=other_user)


def test_blocked_people_cannot_follow(user, other_user, client_as):
    actions.block_user(user, other_user)
    response = client_as(other_user).post(reverse("feed:follow", args=[user.handle]), follow=True)
    assert "can't follow this account" in text(response)
    assert not Follow.objects.exists()


def test_blocking_ends_follows_both_ways(user, other_user, user_client):
    actions.follow(user, other_user)
    actions.follow(other_user, user)
    response = user_client.post(reverse("feed:block", args=[other_user.handle]), {"block": "1"}, follow=True)
    assert "Blocked @bob" in text(response)
    assert Block.objects.filter(blocker=user, blocked=other_user).exists()
    assert not Follow.objects.exists()
    user_client.post(reverse("feed:block", args=[other_user.handle]), {"block": "0"})
    assert not Block.objects.exists()


def test_blocking_yourself_is_refused(user, user_client):
    response = user_client.post(reverse("feed:block", args=[user.handle]), follow=True)
    assert "can't block yourself" in text(response)
    assert not Block.objects.exists()


def test_follower_and_following_lists(make_user, client_as):
    star, fan, other = make_user("star"), make_user("fan"), make_user("other")
    actions.follow(fan, star)
    actions.follow(other, star)
    actions.follow(star, fan)
    actions.block_user(other, fan)  # fan and other block each other out of their lists
    response = client_as(fan).get(reverse("feed:followers", args=["star"]))
    assert [p.handle for p, _ in response.context["entries"]] == ["fan"]
    response = client_as(None).get(reverse("feed:followers", args=["star"]))
    assert {p.handle for p, _ in response.context["entries"]} == {"fan", "other"}
    response = client_as(star).get(reverse("feed:following_list", args=["star"]))
    assert [(p.handle, following) for p, following in response.context["entries"]] == [("fan", True)]


def test_unknown_profile_is_404(client):
    assert client.get("/@nobody-here").status_code == 404


# --- likes ----------------------------------------------------------------------------------


def test_like_is_an_idempotent_toggle_with_a_live_count(user, other_user, make_post, client_as):
    post = make_post(other_user)
    client = client_as(user)
    url = reverse("feed:like", args=[post.code])
    response = client.post(url, {"like": "1"}, HTTP_HX_REQUEST="true")
    assert (
        b'aria-pressed="true"' in response.content and b"<span data-like-count>1</span>" in response.content
    )
    client.post(url, {"like": "1"}, HTTP_HX_REQUEST="true")  # liking twice changes nothing
    assert Like.objects.count() == 1 and Post.objects.get().like_count == 1
    response = client.post(url, HTTP_HX_REQUEST="true")  # no value: flip
    assert b"<span data-like-count>0</span>" in response.content
    assert not Like.objects.exists() and Post.objects.get().like_count == 0
    client.post(url, {"like": "0"})  # unliking twice changes nothing
    assert Post.objects.get().like_count == 0


def test_the_database_allows_one_like_per_person(user, make_post):
    post = make_post(user)
    Like.objects.create(user=user, post=post)
    with pytest.raises(IntegrityError), transaction.atomic():
        Like.objects.create(user=user, post=post)


def test_liking_a_post_you_cannot_see_is_404(world, make_post, client_as):
    post = make_post(world["author"], visibility="only_me")
    response = client_as(world["follower"]).post(reverse("feed:like", args=[post.code]))
    assert response.status_code == 404 and not Like.objects.exists()


def test_anonymous_like_goes_to_login(make_post, user, client):
    post = make_post(user)
    response = client.post(reverse("feed:like", args=[post.code]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- comments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "Write something first."),
        ("   ", "Write something first."),
        ("x" * 501, "at most 500 characters"),
    ],
)
def test_bad_comments_get_a_message_and_write_nothing(user, make_post, user_client, body, message):
    post = make_post(user)
    response = user_client.post(reverse("feed:comment", args=[post.code]), {"body": body}, follow=True)
    assert response.status_code == 200 and message in text(response)
    assert not Comment.objects.exists() and Post.objects.get().comment_count == 0


def test_a_500_character_comment_is_fine(user, make_post, user_client):
    post = make_post(user)
    user_client.post(reverse("feed:comment", args=[post.code]), {"body": "y" * 500})
    assert Comment.objects.get().body == "y" * 500


def test_the_action_refuses_bad_comments_too(user, make_post):
    post = make_post(user)
    for body in ("", " ", "z" * 501):
        with pytest.raises(actions.CommentRefused):
            actions.add_comment(user, post, body)
    assert not Comment.objects.exists()


def test_replies_stay_one_level_deep(make_user, make_post, client_as):
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    post = make_post(alice)
    top = actions.add_comment(bob, post, "first!")
    reply = actions.add_comment(carol, post, "reply", parent=top)
    deeper = actions.add_comment(alice, post, "reply to reply", parent=reply)
    assert reply.parent == top and deeper.parent == top
    assert Post.objects.get().comment_count == 3
    comments = client_as(carol).get(post.get_absolute_url()).context["comments"]
    assert [c.body for c in comments] == ["first!"]
    assert [r.body for r in comments[0].visible_replies] == ["reply", "reply to reply"]


def test_reply_through_the_form(user, other_user, make_post, client_as):
    post = make_post(user)
    top = actions.add_comment(user, post, "what do you think?")
    client_as(other_user).post(
        reverse("feed:comment", args=[post.code]), {"body": "love it", "parent": top.code}
    )
    assert Comment.objects.get(body="love it").parent == top


def test_reply_to_a_comment_on_another_post_is_refused(user, make_post, user_client):
    post, other = make_post(user), make_post(user)
    top = actions.add_comment(user, other, "elsewhere")
    response = user_client.post(
        reverse("feed:comment", args=[post.code]), {"body": "hi", "parent": top.code}, follow=True
    )
    assert "That comment is gone." in text(response)
    assert Comment.objects.count() == 1


def test_blocked_people_cannot_comment_on_my_posts(world, make_post):
    post = make_post(world["author"])
    with pytest.raises(actions.CommentRefused):
        actions.add_comment(world["blocked"], post, "let me in")
    assert not Comment.objects.exists()


def test_post_author_and_comment_author_can_delete_a_comment(make_user, make_post, client_as):
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    post = make_post(alice)
    by_bob = actions.add_comment(bob, post, "bob says")
    actions.add_comment(carol, post, "reply", parent=by_bob)
    by_carol = actions.add_comment(carol, post, "carol says")
    url = reverse("feed:delete_comment", args=[post.code, by_carol.code])
    assert client_as(bob).post(url).status_code == 404  # a stranger to that comment
    assert client_as(carol).post(url).status_code == 302  # its author
    url = reverse("feed:delete_comment", args=[post.code, by_bob.code])
    assert client_as(alice).post(url).status_code == 302  # the post's author, replies go too
    assert not Comment.objects.exists()
    assert Post.objects.get().comment_count == 0


def test_delete_buttons_show_only_to_who_may_delete(make_user, make_post, client_as):
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    post = make_post(alice)
    actions.add_comment(bob, post, "bob says")
    assert client_as(carol).get(post.get_absolute_url()).content.count(b'/delete"') == 0
    assert client_as(bob).get(post.get_absolute_url()).content.count(b"comments/") >= 1
    comments = client_as(alice).get(post.get_absolute_url()).context["comments"]
    assert comments[0].can_delete
