"""seed_demo: realistic, consistent demo data, fast, reproducible, and a dry run that writes nothing."""

import io

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db.models import Count

from accounts.models import User
from feed.models import Comment, Follow, Like, Post
from generation.models import Generation

pytestmark = pytest.mark.django_db


def test_seed_demo_fills_a_consistent_database():
    out = io.StringIO()
    call_command("seed_demo", "--users", "12", "--posts", "60", "--seed", "3", stdout=out)
    assert "Created 12 users" in out.getvalue()
    assert User.objects.count() == 12 and Post.objects.count() == 60
    assert Generation.objects.filter(status="succeeded").count() == 60
    assert Follow.objects.exists() and Like.objects.exists()
    # Denormalised counters match the rows.
    for post in Post.objects.annotate(
        n_likes=Count("likes", distinct=True), n_comments=Count("comments", distinct=True)
    ):
        assert post.like_count == post.n_likes and post.comment_count == post.n_comments
    for post in Post.objects.filter(remix_count__gt=0):
        assert post.remixes.count() == post.remix_count
    assert not Comment.objects.filter(parent__parent__isnull=False).exists()  # replies one level deep
    # A few real clips are shared by every post, and they exist in storage.
    names = set(Generation.objects.values_list("video", flat=True))
    assert 1 <= len(names) <= 4 and all(default_storage.exists(n) for n in names)


def test_seed_demo_is_reproducible_with_a_seed():
    for _ in range(2):
        call_command("seed_demo", "--users", "5", "--posts", "10", "--seed", "9", stdout=io.StringIO())
    rows = list(
        Post.objects.order_by("id").values_list("caption", "visibility", "like_count", "generation__prompt")
    )
    assert rows[:10] == rows[10:]


def test_seed_demo_dry_run_writes_nothing():
    out = io.StringIO()
    call_command("seed_demo", "--users", "5", "--posts", "10", "--dry-run", stdout=out)
    assert "Would create 5 users" in out.getvalue()
    assert not User.objects.exists() and not Post.objects.exists()


def test_seed_demo_refuses_nonsense():
    with pytest.raises(CommandError):
        call_command("seed_demo", "--users", "1")


def test_demo_accounts_can_log_in(client):
    call_command("seed_demo", "--users", "3", "--posts", "3", "--seed", "1", stdout=io.StringIO())
    handle = User.objects.first().handle
    assert client.login(handle=handle, password="demo-password-1")
