"""Notifications: rows for each kind, the live push over the real Redis channel layer, the bell."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.urls import reverse

from feed import actions
from feed.models import Notification
from generation.actions import generation_finished
from generation.events import user_group

pytestmark = pytest.mark.django_db


@pytest.fixture
def inbox():
    """inbox(user) -> a function returning the next event pushed to that user's group."""
    layer = get_channel_layer()
    channels = []

    def listen(user):
        channel = async_to_sync(layer.new_channel)()
        async_to_sync(layer.group_add)(user_group(user.pk), channel)
        channels.append((user, channel))

        def receive():
            return async_to_sync(layer.receive)(channel)["event"]

        return receive

    yield listen
    for user, channel in channels:
        async_to_sync(layer.group_discard)(user_group(user.pk), channel)


def kinds(user) -> list[str]:
    return list(Notification.objects.filter(recipient=user).order_by("id").values_list("kind", flat=True))


def test_each_social_event_notifies_the_right_person(make_user, make_post):
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    post = make_post(alice)
    actions.follow(bob, alice)
    actions.toggle_like(bob, post)
    top = actions.add_comment(bob, post, "nice")
    actions.add_comment(carol, post, "agreed", parent=top)
    make_post(carol, remix_of=post)
    assert kinds(alice) == ["follow", "like", "comment", "comment", "remix"]
    assert kinds(bob) == ["reply"]
    assert kinds(carol) == []


def test_my_own_doings_and_repeat_likes_do_not_notify_me(user, make_post):
    post = make_post(user)
    actions.toggle_like(user, post)
    actions.add_comment(user, post, "self")
    assert kinds(user) == []


def test_liking_again_after_unliking_does_not_notify_twice(user, other_user, make_post):
    post = make_post(other_user)
    for _ in range(3):
        actions.toggle_like(user, post)
    assert kinds(other_user) == ["like"]


@pytest.mark.parametrize(
    ("status", "kind"), [("succeeded", "generation_succeeded"), ("failed", "generation_failed")]
)
def test_finished_generations_notify_their_owner(user, make_generation, status, kind):
    generation = make_generation(user, status=status)
    generation_finished(generation)
    notification = Notification.objects.get(recipient=user)
    assert notification.kind == kind and notification.generation == generation


def test_cancelled_generations_do_not_notify(user, make_generation):
    generation_finished(make_generation(user, status="cancelled"))
    assert not Notification.objects.exists()


def test_notification_is_pushed_with_the_unread_count_after_commit(
    user, other_user, make_post, inbox, django_capture_on_commit_callbacks
):
    post = make_post(user)
    receive = inbox(user)
    with django_capture_on_commit_callbacks(execute=True):
        actions.toggle_like(other_user, post)
    event = receive()
    assert event == {"kind": "notification", "unread": 1, "text": "@bob liked your video."}
    with django_capture_on_commit_callbacks(execute=True):
        actions.follow(other_user, user)
    assert receive()["unread"] == 2


def test_bell_shows_the_unread_count_and_the_page_marks_read(
    user, other_user, make_post, user_client, inbox, django_capture_on_commit_callbacks
):
    post = make_post(user)
    actions.toggle_like(other_user, post)
    actions.add_comment(other_user, post, "so good")
    home = user_client.get(reverse("feed:home")).content.decode()
    assert 'id="unread-count" data-count="2">2<' in home
    receive = inbox(user)
    with django_capture_on_commit_callbacks(execute=True):
        page = user_client.get(reverse("feed:notifications"))
    html = page.content.decode()
    assert "@bob liked your video." in html and "@bob commented on your video." in html and "so good" in html
    assert html.count('class="notification unread"') == 2  # shown as new this once
    assert 'data-count="0"' in html
    assert not Notification.objects.filter(read=False).exists()
    assert receive() == {"kind": "notification", "unread": 0, "text": ""}


def test_notifications_are_private(user, other_user, make_post, client_as):
    post = make_post(user)
    actions.toggle_like(other_user, post)
    assert client_as(other_user).get(reverse("feed:notifications")).context["notifications"] == []
    assert client_as(None).get(reverse("feed:notifications")).status_code == 302


def test_blocking_clears_notifications_between_us(user, other_user, make_post):
    post = make_post(user)
    actions.toggle_like(other_user, post)
    actions.block_user(user, other_user)
    assert not Notification.objects.exists()


def test_the_bell_opens_on_new_moderator_decisions(user, user_client):
    """A moderator's decision raises the bell; the page the bell opens shows it, then it's read."""
    from moderation.actions import notify
    from moderation.models import ModerationNotice

    notify(user.pk, "Thanks for your report about @bob's video “Kites”. A moderator reviewed it.")
    home = user_client.get(reverse("feed:home")).content.decode()
    assert 'id="unread-count" data-count="1">1<' in home
    page = user_client.get(reverse("feed:notifications")).content.decode()
    assert "From the moderators" in page and "video “Kites”. A moderator reviewed it." in page
    assert not ModerationNotice.objects.filter(read=False).exists()
    assert "From the moderators" not in user_client.get(reverse("feed:notifications")).content.decode()
