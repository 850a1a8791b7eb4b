"""Moderation fixtures: stand-in cameos, a moderator who is in the Moderators group (not a
superuser) (drafts, posts and a clean cache per test come from tests/conftest.py)."""

from dataclasses import dataclass, field

import pytest
from django.contrib.auth.models import Group


@pytest.fixture
def moderator(make_user):
    """Staff (the admin needs it) in the Moderators group, without superuser powers."""
    person = make_user("mod", is_staff=True)
    person.groups.add(Group.objects.get(name="Moderators"))
    return person


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
