"""A real browser against daphne: post a draft, see it in a follower's Following feed, like it
(the author's bell updates live over the WebSocket), comment, and remix it into a chain."""

import re

import pytest
from django.test import Client
from playwright.sync_api import expect

from feed import actions
from feed.models import Comment, Like, NotInterested, Post
from generation.models import Generation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The feed's factories, shared with this browser test.


def log_in(context, live_site: str, user) -> None:
    """Log `user` in by handing the browser a session cookie made by Django's test client."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_site}])


def test_post_follow_like_comment_and_remix(live_site, page, chromium, make_user, make_generation, rq_queue):
    alice, bob = make_user("alice"), make_user("bob")
    actions.follow(bob, alice)
    draft = make_generation(alice, prompt="A corgi surfing at sunset, waves crashing")

    # Alice posts her finished draft from its page.
    log_in(page.context, live_site, alice)
    page.goto(f"{live_site}{draft.get_absolute_url()}")
    form = page.get_by_test_id("post-form")
    form.get_by_label("Caption").fill("Corgi at sunset")
    form.get_by_label("Who can see it").select_option("public")
    form.get_by_role("button", name="Post").click()
    page.wait_for_url(re.compile(r".*/p/[\w-]+/$"))
    expect(page.get_by_test_id("caption")).to_have_text("Corgi at sunset")
    post = Post.objects.get(generation=draft)
    page.wait_for_function("document.body.dataset.socket === 'open'")
    expect(page.locator("#unread-count")).to_have_text("1")  # Bob's follow

    # Bob sees it in Following: one video per screen, muted with a visible unmute button.
    bob_context = chromium.new_context(viewport={"width": 420, "height": 860})
    bob_context.set_default_timeout(20_000)
    try:
        bob_page = bob_context.new_page()
        log_in(bob_context, live_site, bob)
        bob_page.goto(f"{live_site}/following/")
        card = bob_page.locator(f'.feed-item[data-post="{post.code}"]')
        expect(card).to_contain_text("Corgi at sunset")
        expect(card.locator("[data-unmute]")).to_be_visible()
        assert card.locator("video").evaluate("v => v.muted")

        # Like: the count updates in place (htmx), and Alice's bell goes up live.
        card.get_by_test_id("like").click()
        expect(card.get_by_test_id("like")).to_have_attribute("aria-pressed", "true")
        expect(card.locator("[data-like-count]")).to_have_text("1")
        assert Like.objects.filter(user=bob, post=post).exists()
        expect(page.locator("#unread-count")).to_have_text("2")

        # "Not interested" swaps the card for a notice (htmx); Undo brings the card back.
        card.get_by_test_id("not-interested").click()
        notice = bob_page.locator(f'[data-dismissed="{post.code}"]')
        expect(notice).to_contain_text("fewer videos like this")
        assert NotInterested.objects.filter(user=bob, post=post).exists()
        notice.get_by_test_id("undo-not-interested").click()
        expect(bob_page.locator(f'.feed-item[data-post="{post.code}"]')).to_contain_text("Corgi at sunset")
        assert not NotInterested.objects.filter(user=bob, post=post).exists()

        # Comment on the post page.
        bob_page.goto(f"{live_site}{post.get_absolute_url()}")
        bob_page.get_by_placeholder("Add a comment").fill("That wave!")
        bob_page.get_by_role("button", name="Comment", exact=True).click()
        expect(bob_page.locator(".comment-body")).to_have_text("That wave!")
        assert Comment.objects.filter(post=post, author=bob).count() == 1

        # Remix: Create opens pre-filled from the source, and the job is queued.
        bob_page.get_by_test_id("remix").click()
        bob_page.wait_for_url(re.compile(rf".*/create/\?remix={re.escape(post.code)}$"))
        expect(bob_page.locator("#id_prompt")).to_have_value("A corgi surfing at sunset, waves crashing")
        bob_page.fill("#id_prompt", "A corgi surfing at sunset, then a dolphin joins")
        bob_page.click("form#create-form button[type=submit]")
        bob_page.wait_for_url(re.compile(r".*/g/[0-9a-f]+/$"))
        remix_draft = Generation.objects.get(owner=bob)
        assert remix_draft.source_id == draft.pk

        # The worker's part, done here: the remix finishes with real media.
        Generation.objects.filter(pk=remix_draft.pk).update(
            status="succeeded",
            check_status="passed",
            video=draft.video.name,
            poster=draft.poster.name,
            sprite=draft.sprite.name,
        )
        bob_page.reload()
        expect(bob_page.locator(".remix-of")).to_contain_text("@alice")
        bob_page.get_by_test_id("post-form").get_by_label("Caption").fill("Dolphin cameo")
        bob_page.get_by_test_id("post-form").get_by_role("button", name="Post").click()
        bob_page.wait_for_url(re.compile(r".*/p/[\w-]+/$"))

        # The chain is browsable both ways.
        expect(bob_page.get_by_test_id("remix-of")).to_contain_text("@alice")
        bob_page.get_by_test_id("remix-of").get_by_role("link").first.click()
        bob_page.wait_for_url(f"{live_site}{post.get_absolute_url()}")
        bob_page.get_by_test_id("remix-tile").click()
        expect(bob_page.get_by_test_id("caption")).to_have_text("Dolphin cameo")
        assert Post.objects.get(generation=remix_draft).source_post == post
    finally:
        bob_context.close()

    # Alice's notifications list the follow, like, comment and remix; opening them clears the bell.
    page.goto(f"{live_site}/notifications/")
    expect(page.locator(".notification")).to_have_count(4)
    expect(page.locator("#unread-count")).to_have_text("")
