"""Feed fixtures: the people around an author and a client that logs in as any of them (drafts and
posts come from tests/conftest.py)."""

import pytest

from accounts.models import Block
from feed.models import Follow


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
