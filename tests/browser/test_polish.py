"""The everyday details in a real Chromium: the account menu by keyboard, focus you can see, the
live follower count, confirming before a draft is deleted, the remix and storyboard forms, cameos
picked by face, and the key forms with JavaScript switched off."""

import re

import pytest
from django.test import Client
from playwright.sync_api import expect

from feed.models import Comment, Follow, Post
from generation.models import Generation
from tests.conftest import approve, make_cameo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The feed's factories: real tiny clips as finished drafts.


def signed_in(chromium, live_site, user, **options):
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, **options)
    context.set_default_timeout(20_000)
    if user is not None:
        client = Client()
        client.force_login(user)
        cookie = client.cookies["sessionid"].value
        context.add_cookies([{"name": "sessionid", "value": cookie, "url": live_site}])
    return context, context.new_page()


def focused_outline(page) -> str:
    return page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement); return s.outlineStyle + ' ' + s.outlineWidth; }"
    )


def test_menu_focus_follow_delete_remix_storyboard_and_picker(
    live_site, chromium, make_user, make_generation
):
    ana, bo = make_user("ana"), make_user("bo", is_staff=True)
    draft = make_generation(ana, prompt="A corgi surfing at sunset")
    post = Post.objects.create(author=bo, generation=make_generation(bo), caption="Kites over hills")
    cameo = make_cameo(bo, permission="approved")
    approve(cameo, ana)
    context, page = signed_in(chromium, live_site, ana)

    # The account menu: reached by keyboard from the top of the page, opened with Enter, focus
    # visible all the way; no Admin link for a non-staff person.
    page.goto(f"{live_site}/")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to content")
    for _ in range(3):  # brand, bell, then the menu
        page.keyboard.press("Tab")
        assert focused_outline(page).startswith("solid"), page.evaluate("document.activeElement.outerHTML")
    expect(page.locator(":focus")).to_have_attribute("aria-label", "Account menu")
    page.keyboard.press("Enter")
    menu = page.get_by_test_id("account-menu")
    for name in ("Profile", "Settings", "Invites", "API tokens", "My data"):
        expect(menu.get_by_role("link", name=re.compile(name))).to_be_visible()
    expect(menu.get_by_role("button", name="Log out")).to_be_visible()
    expect(menu.get_by_role("link", name="Admin")).to_have_count(0)

    # Follow on a profile: the count changes with the button, no reload.
    page.goto(f"{live_site}{bo.get_absolute_url()}")
    expect(page.get_by_test_id("follower-count")).to_have_text("0")
    expect(page.locator("#follower-count-label")).to_have_text("0 followers")
    page.get_by_test_id("follow").click()
    expect(page.get_by_test_id("follow")).to_have_text("Following")
    expect(page.locator("#follower-count-label")).to_have_text("1 follower")
    assert Follow.objects.filter(follower=ana, followee=bo).exists()

    # A job being made, on a desktop: the portrait preview leaves its stage text and bar on screen.
    running = Generation.objects.create(
        owner=ana, prompt="A lighthouse in a storm", seconds=2, orientation="portrait", seed=3,
        status=Generation.Status.RUNNING, stage=Generation.Stage.GENERATING, step=3, total_steps=8,
    )  # fmt: skip
    page.goto(f"{live_site}{running.get_absolute_url()}")
    for part in (page.locator("[data-stage]"), page.get_by_role("progressbar")):
        expect(part).to_be_in_viewport(ratio=1)
    expect(page.locator("[data-stage]")).to_have_text("Generating: step 3 of 8")

    # Delete draft asks first.
    page.goto(f"{live_site}{draft.get_absolute_url()}")
    box = page.get_by_test_id("delete-draft")
    expect(box.get_by_role("button", name="Yes, delete draft")).to_be_hidden()
    box.locator("summary").click()
    expect(box).to_contain_text("can't be undone")
    box.get_by_role("button", name="Yes, delete draft").click()
    page.wait_for_url(re.compile(r".*/drafts/$"))
    assert not Generation.objects.filter(pk=draft.pk).exists()

    # The remix form shows what is remixed; the picker shows faces with names.
    page.goto(f"{live_site}/create/?remix={post.code}")
    source = page.get_by_test_id("remix-source")
    expect(source).to_contain_text("Kites over hills")
    expect(source).to_contain_text("@bo")
    face = page.locator("#cameo-picker img.face").first
    expect(face).to_be_visible()
    # The picture loads (not a broken image); it may still be arriving when the form is shown.
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=face.element_handle(), timeout=15000
    )
    expect(page.locator("#cameo-picker")).to_contain_text("@bo")

    # Storyboard mode hides the single prompt and duration, which don't apply to it.
    page.goto(f"{live_site}/create/")
    expect(page.locator("#prompt-field")).to_be_visible()
    page.get_by_label("Storyboard (several shots)").check()
    expect(page.locator("#prompt-field")).to_be_hidden()
    expect(page.locator("#seconds-field")).to_be_hidden()
    expect(page.locator("li.shot")).to_have_count(2)
    context.close()

    # Staff see Admin in their menu.
    context, page = signed_in(chromium, live_site, bo)
    page.goto(f"{live_site}/drafts/")
    page.get_by_label("Account menu").click()
    expect(page.get_by_test_id("account-menu").get_by_role("link", name="Admin")).to_be_visible()
    context.close()


def test_key_forms_work_with_javascript_off(live_site, chromium, make_user, make_generation):
    ana, bo = make_user("ana"), make_user("bo")
    post = Post.objects.create(
        author=bo, generation=make_generation(bo), caption="Kites", visibility="public"
    )
    draft = make_generation(ana, prompt="A lighthouse in a storm")
    context, page = signed_in(chromium, live_site, None, java_script_enabled=False)

    # Log in through the real form.
    page.goto(f"{live_site}/accounts/login/")
    page.fill("input[name=login]", "ana")
    page.fill("input[name=password]", "pw-secret-123")
    page.click("form button[type=submit]")
    page.wait_for_url(f"{live_site}/")
    # The "signed in" flash shows without hiding the feed's tabs: a click on Following lands.
    expect(page.locator(".messages")).to_contain_text("signed in")
    tab = page.get_by_role("navigation", name="Feeds").get_by_role("link", name="Following")
    assert tab.evaluate(
        "a => { const r = a.getBoundingClientRect(); return document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === a; }"
    )
    tabs_bottom = tab.bounding_box()["y"] + tab.bounding_box()["height"]
    assert page.locator(".messages").bounding_box()["y"] >= tabs_bottom  # and the tabs don't hide it

    # Follow, comment, open the account menu: plain forms and <details>, no script needed.
    page.goto(f"{live_site}{bo.get_absolute_url()}")
    page.get_by_test_id("follow").click()
    expect(page.get_by_test_id("follower-count")).to_have_text("1")
    page.goto(f"{live_site}{post.get_absolute_url()}")
    page.get_by_placeholder("Add a comment").fill("Lovely kites")
    page.get_by_role("button", name="Comment", exact=True).click()
    expect(page.locator(".comment-body")).to_have_text("Lovely kites")
    assert Comment.objects.filter(post=post, author=ana).exists()

    # Post a draft, then delete another after confirming.
    page.goto(f"{live_site}{draft.get_absolute_url()}")
    form = page.get_by_test_id("post-form")
    form.get_by_label("Caption").fill("Storm light")
    form.get_by_role("button", name="Post").click()
    page.wait_for_url(re.compile(r".*/p/[\w-]+/$"))
    assert Post.objects.get(generation=draft).caption == "Storm light"
    other = make_generation(ana, prompt="Second draft")
    page.goto(f"{live_site}{other.get_absolute_url()}")
    page.get_by_test_id("delete-draft").locator("summary").click()
    page.get_by_role("button", name="Yes, delete draft").click()
    page.wait_for_url(re.compile(r".*/drafts/$"))
    assert not Generation.objects.filter(pk=other.pk).exists()

    page.get_by_label("Account menu").click()
    page.get_by_role("button", name="Log out").click()
    expect(page.locator(".auth-links").get_by_role("link", name="Log in")).to_be_visible()
    context.close()
