"""Moderation fixtures: posts and comments made through feed's actions, stand-in cameos, a
moderator who is in the Moderators group (not a superuser), and a clean cache per test."""

from dataclasses import dataclass, field
from datetime import date

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.files.base import ContentFile

from feed import actions as feed_actions
from feed.models import Post
from generation.models import Generation


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters and the cached policy rules don't leak between tests."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def teen(make_user):
    today = date.today()
    return make_user("teena", birth_date=date(today.year - 15, 1, 1))


@pytest.fixture
def moderator(make_user):
    """Staff (the admin needs it) in the Moderators group, without superuser powers."""
    person = make_user("mod", is_staff=True)
    person.groups.add(Group.objects.get(name="Moderators"))
    return person


@pytest.fixture(scope="session")
def small_clip(tmp_path_factory) -> bytes:
    """A real 1 s H.264/AAC clip: posting exports it (watermark, tracking mark, C2PA)."""
    import numpy as np

    from generation import media

    frames = np.zeros((24, 160, 96, 3), np.uint8)
    frames[..., 0] = np.linspace(0, 255, 24, dtype=np.uint8)[:, None, None]
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    media.write_mp4(path, frames, 24, np.zeros((2, 24000), np.float32), 24000)
    return path.read_bytes()


@pytest.fixture
def make_generation(db, small_clip):
    """Factory: make_generation(owner, status="succeeded", **fields) -> Generation with a small
    real clip and a stand-in poster in storage (succeeded ones)."""

    def make(owner, *, status=Generation.Status.SUCCEEDED, prompt="a corgi surfing at sunset", **fields):
        fields.setdefault("seconds", 2)
        fields.setdefault("seed", 7)
        generation = Generation.objects.create(owner=owner, prompt=prompt, status=status, **fields)
        if status == Generation.Status.SUCCEEDED:
            generation.video.save("video.mp4", ContentFile(small_clip), save=False)
            generation.poster.save("poster.jpg", ContentFile(b"jpeg bytes"), save=False)
            if hasattr(generation, "check_status"):
                generation.check_status = "passed"
            generation.save()
        return generation

    return make


@pytest.fixture
def make_post(make_generation):
    """Factory: make_post(author, caption="", remix_of=None, **columns) -> Post (feed.actions)."""

    def make(author, *, caption="", remix_of=None, prompt="a corgi surfing at sunset", **columns):
        source = remix_of.generation if remix_of is not None else None
        generation = make_generation(author, source=source, prompt=prompt)
        post = feed_actions.publish_post(generation, caption=caption)
        if columns:
            Post.objects.filter(pk=post.pk).update(**columns)
            post.refresh_from_db()
        return post

    return make


@dataclass
class StandInCameo:
    """What moderation reads of a cameo (owner, restrictions, kind) until cameos.Cameo lands."""

    owner: object
    restrictions: str = ""
    kind: str = "person"
    code: str = "cameo1"
    extra: dict = field(default_factory=dict)

    @property
    def owner_id(self) -> int:
        return self.owner.pk


@pytest.fixture
def cameo_of():
    """Factory: cameo_of(owner, restrictions="", kind="person") -> a stand-in cameo."""

    def make(owner, restrictions: str = "", kind: str = "person") -> StandInCameo:
        return StandInCameo(owner=owner, restrictions=restrictions, kind=kind)

    return make
