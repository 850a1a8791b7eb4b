"""Feed factories: real succeeded drafts (small H.264 + AAC clips) and posts made through actions."""

from datetime import date

import pytest
from django.core.files.base import ContentFile

from accounts.models import Block
from feed import actions
from feed.management.commands.seed_demo import make_demo_clip
from feed.models import Follow, Post
from generation.models import Generation


@pytest.fixture(scope="session")
def clip_files():
    """(mp4, poster jpeg, sprite jpeg) bytes of one tiny real clip, made once per session."""
    return make_demo_clip(1)


@pytest.fixture
def make_generation(db, clip_files):
    """Factory: make_generation(owner, status="succeeded", source=None, **fields) -> Generation.

    A succeeded one has its own copies of the clip's files in storage."""

    def make(
        owner,
        *,
        status=Generation.Status.SUCCEEDED,
        prompt="A corgi surfing at sunset, waves crashing",
        **fields,
    ):
        fields.setdefault("seconds", 2)
        fields.setdefault("seed", 7)
        if status == Generation.Status.SUCCEEDED:
            fields.setdefault("check_status", Generation.Check.PASSED)
        generation = Generation.objects.create(owner=owner, prompt=prompt, status=status, **fields)
        if status == Generation.Status.SUCCEEDED:
            mp4, poster, sprite = clip_files
            generation.video.save("video.mp4", ContentFile(mp4), save=False)
            generation.poster.save("poster.jpg", ContentFile(poster), save=False)
            generation.sprite.save("sprite.jpg", ContentFile(sprite), save=False)
            generation.width, generation.height, generation.duration = 96, 160, 2.0
            generation.save()
        return generation

    return make


@pytest.fixture
def make_post(make_generation):
    """Factory: make_post(author, caption="", visibility="public", hide_prompt=False,
    remix_of=None, **columns) -> Post, published through feed.actions.publish_post.

    Extra columns (mature, hidden, created, like_count...) are written after publishing, as a
    moderator or a clock would."""

    def make(
        author, *, caption="", visibility=Post.Visibility.PUBLIC, hide_prompt=False, remix_of=None, **columns
    ):
        source = remix_of.generation if remix_of is not None else None
        generation = make_generation(
            author, source=source, prompt=columns.pop("prompt", "A corgi surfing at sunset")
        )
        post = actions.publish_post(
            generation, caption=caption, hide_prompt=hide_prompt, visibility=visibility
        )
        if columns:
            Post.objects.filter(pk=post.pk).update(**columns)
            post.refresh_from_db()
        return post

    return make


@pytest.fixture
def teen(make_user):
    today = date.today()
    return make_user("teena", birth_date=date(today.year - 15, 1, 1))


@pytest.fixture
def world(make_user):
    """An author and the people around them: a follower, a stranger, and someone the author
    blocked. Keys: author, follower, stranger, blocked."""
    people = {role: make_user(role) for role in ("author", "follower", "stranger", "blocked")}
    Follow.objects.create(follower=people["follower"], followee=people["author"])
    Block.objects.create(blocker=people["author"], blocked=people["blocked"])
    return people


@pytest.fixture
def client_as(client):
    """client_as(user_or_None) -> the test client logged in as that user (None: anonymous)."""

    def login(user):
        client.logout()
        if user is not None:
            client.force_login(user)
        return client

    return login
