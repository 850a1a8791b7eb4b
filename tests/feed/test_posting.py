"""Posting drafts, unposting, deleting, and the remix chain."""

import html

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from feed import actions
from feed.models import Notification, Post
from generation.models import Generation

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return html.unescape(response.content.decode())


def test_owner_posts_a_finished_draft_from_its_page(user, user_client, make_generation):
    generation = make_generation(user)
    page = user_client.get(generation.get_absolute_url())
    assert b'data-testid="post-form"' in page.content
    response = user_client.post(
        reverse("feed:publish", args=[generation.code]),
        {"caption": "  my first  ", "hide_prompt": "on", "visibility": "followers"},
    )
    post = Post.objects.get()
    assert response.status_code == 302 and response["Location"] == post.get_absolute_url()
    assert (post.author, post.generation, post.caption, post.hide_prompt, post.visibility) == (
        user, generation, "my first", True, "followers",
    )  # fmt: skip
    assert b'data-testid="view-post"' in user_client.get(generation.get_absolute_url()).content


@pytest.mark.parametrize("status", ["queued", "running", "failed", "cancelled"])
def test_unfinished_drafts_cannot_be_posted(user, user_client, make_generation, status):
    generation = make_generation(user, status=status)
    response = user_client.post(
        reverse("feed:publish", args=[generation.code]), {"visibility": "public"}, follow=True
    )
    assert "Only finished videos can be posted." in text(response)
    assert not Post.objects.exists()


def test_a_draft_is_posted_once(user, user_client, make_generation):
    generation = make_generation(user)
    actions.publish_post(generation)
    response = user_client.post(
        reverse("feed:publish", args=[generation.code]), {"visibility": "public"}, follow=True
    )
    assert "already posted" in text(response)
    assert Post.objects.count() == 1


def test_bad_visibility_is_refused_without_writing(user, user_client, make_generation):
    generation = make_generation(user)
    response = user_client.post(
        reverse("feed:publish", args=[generation.code]), {"visibility": "everyone"}, follow=True
    )
    assert response.status_code == 200 and not Post.objects.exists()


def test_unposting_keeps_the_draft_and_its_files(user, user_client, make_post):
    post = make_post(user)
    video = post.generation.video.name
    response = user_client.post(reverse("feed:unpost", args=[post.code]))
    assert response.status_code == 302
    assert not Post.objects.exists()
    assert Generation.objects.filter(pk=post.generation_id).exists()
    assert default_storage.exists(video)


def test_deleting_a_post_removes_its_media_from_storage(user, user_client, make_post):
    post = make_post(user)
    g = post.generation
    names = [g.video.name, g.poster.name, g.sprite.name]
    assert all(default_storage.exists(n) for n in names)
    response = user_client.post(reverse("feed:delete", args=[post.code]))
    assert response.status_code == 302
    assert not Post.objects.exists() and not Generation.objects.filter(pk=g.pk).exists()
    assert not any(default_storage.exists(n) for n in names)
    assert user_client.get(reverse("feed:media", args=[post.code, "video"])).status_code == 404


def test_deleting_keeps_files_other_generations_share(user, make_post):
    post = make_post(user)
    other = make_post(user)
    Generation.objects.filter(pk=other.generation_id).update(video=post.generation.video.name)
    actions.delete_post(post)
    assert default_storage.exists(post.generation.video.name)


def test_remix_links_both_ways_and_counts(make_user, make_post, client_as):
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    original = make_post(alice, caption="original")
    remix = make_post(bob, caption="remix one", remix_of=original)
    remix_of_remix = make_post(carol, caption="remix two", remix_of=remix)
    assert remix.source_post == original and remix_of_remix.source_post == remix
    original.refresh_from_db()
    remix.refresh_from_db()
    assert original.remix_count == 1 and remix.remix_count == 1

    client = client_as(carol)
    middle = client.get(remix.get_absolute_url())
    assert middle.context["source"] == original
    assert middle.context["remixes"] == [remix_of_remix]
    assert client.get(original.get_absolute_url()).context["remixes"] == [remix]
    assert Notification.objects.filter(recipient=alice, kind="remix", actor=bob).exists()
    assert Notification.objects.filter(recipient=bob, kind="remix", actor=carol).exists()


def test_remix_page_hides_a_source_i_cannot_see(make_user, make_post, client_as):
    alice, bob = make_user("alice"), make_user("bob")
    original = make_post(alice)
    remix = make_post(bob, remix_of=original)
    Post.objects.filter(pk=original.pk).update(visibility="only_me")
    assert client_as(make_user("carol")).get(remix.get_absolute_url()).context["source"] is None


def test_unposting_a_remix_lowers_the_source_count(make_user, make_post):
    alice, bob = make_user("alice"), make_user("bob")
    original = make_post(alice)
    remix = make_post(bob, remix_of=original)
    actions.unpost(remix)
    original.refresh_from_db()
    assert original.remix_count == 0


def test_remix_draft_page_shows_its_source(make_user, make_post, make_generation, client_as):
    alice, bob = make_user("alice"), make_user("bob")
    original = make_post(alice)
    draft = make_generation(bob, source=original.generation)
    page = client_as(bob).get(draft.get_absolute_url()).content.decode()
    assert "Remix of" in page and original.get_absolute_url() in page


def test_post_page_has_open_graph_tags_and_a_copy_link(user, make_post, client_as):
    post = make_post(user, caption="Sunset corgi")
    html = client_as(None).get(post.get_absolute_url()).content.decode()
    assert '<meta property="og:title" content="Sunset corgi">' in html
    assert f'<meta property="og:image" content="http://testserver/p/{post.code}/media/poster">' in html
    assert f'<meta property="og:video" content="http://testserver/p/{post.code}/media/video">' in html
    assert f'data-copy="http://testserver/p/{post.code}/"' in html


def test_media_answers_range_requests(user, make_post, client_as):
    post = make_post(user)
    response = client_as(None).get(reverse("feed:media", args=[post.code, "video"]), HTTP_RANGE="bytes=0-99")
    assert response.status_code == 206
    assert len(b"".join(response.streaming_content)) == 100


def test_unknown_media_variant_is_404(user, make_post, client_as):
    post = make_post(user)
    assert client_as(user).get(reverse("feed:media", args=[post.code, "preview"])).status_code == 404


def test_post_codes_are_unguessable(user, make_post):
    codes = {make_post(user).code for _ in range(3)}
    assert len(codes) == 3 and all(len(c) >= 12 for c in codes)
