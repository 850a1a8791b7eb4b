"""Every page a person reaches, in a real Chromium at a 390 px phone and a 1280 px desktop:
axe-core finds no serious or critical violation, and nothing scrolls sideways on the phone.

The route list is the authorization matrix's (every GET row the owner may open that answers with a
page), plus the states a page can be in (a queued, running, failed and blocked job; a pending,
rejected and verified cameo; /verify's error and report) and the anonymous pages. The world is
realistic on purpose: a 30-character handle, long unbroken captions and comments, used invites,
many comments.
"""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.actions import issue_invites
from accounts.models import Invite
from cameos.models import Cameo
from feed import actions as feed_actions
from feed.models import Post
from generation.models import Generation
from tests.reliability import conftest as reliability_fixtures
from tests.reliability.conftest import World
from tests.reliability.test_authorization import MATRIX, OK

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Fixture shared with the reliability suite: a real recording.
recording = reliability_fixtures.recording

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
# Routes that answer with files or fragments, not pages.
NOT_PAGES = re.compile(r"media|download|healthz|ledger|use_poster|cameos:status|export|challenge")
LONG_WORD = "Supercalifragilisticexpialidocious" * 3
LONG_HANDLE = "a_very_long_handle_for_tests_x"  # 30 characters, the most a handle may have

axe = Axe()
# The WCAG A/AA rules (where every serious and critical finding comes from); best-practice rules
# (landmarks, heading order) are moderate at most and would only slow each page down.
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}


def log_in(context, live_site: str, user) -> None:
    client = Client()
    client.force_login(user)
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_site}])


def realistic_world(make_user, make_generation, recording):
    world = World(make_user, make_generation, recording)
    owner = world.owner
    chatty = make_user(LONG_HANDLE, display_name="Maximilian Alexander von Longname-Smythe")
    feed_actions.follow(chatty, owner)
    post = world.post("public")
    Post.objects.filter(pk=post.pk).update(caption=f"A caption with a very long word {LONG_WORD} in it")
    for i in range(12):
        comment = feed_actions.add_comment(chatty, post, f"Comment {i}: {LONG_WORD} and more words after it")
    feed_actions.add_comment(owner, post, f"A reply with https://example.com/{LONG_WORD}", parent=comment)
    issue_invites(owner, 3)  # unused ones beside the used one
    Invite.objects.filter(pk=world.invite.pk).update(used_by=chatty, used_at=timezone.now())
    world.notification  # noqa: B018 - makes the row
    return world


def owner_pages(world) -> list[tuple[str, str]]:
    """(label, path) of every page the owner opens, from the matrix, then each page state."""
    pages, seen = [], set()
    for row in MATRIX:
        if row.method != "get" or row.api or row.expected["owner"] != OK or NOT_PAGES.search(row.route):
            continue
        if row.route in seen:  # one visit per template: the variants differ in data, not layout
            continue
        seen.add(row.route)
        if row.setup:
            row.setup(world)
        pages.append((row.id, reverse(row.route, args=row.args(world))))
    owner = world.owner
    running = Generation.objects.create(
        owner=owner, prompt="A lighthouse in a storm", seconds=2, orientation="portrait", seed=3,
        status=Generation.Status.RUNNING, stage=Generation.Stage.GENERATING, step=3, total_steps=8,
    )  # fmt: skip
    blocked = world.make_generation(owner, prompt="Something the check refused")
    Generation.objects.filter(pk=blocked.pk).update(
        check_status=Generation.Check.BLOCKED,
        check_category="nudity",
        check_reason="The video showed nudity.",
    )
    landscape = world.make_generation(owner, prompt="Wide shot of a desert", orientation="landscape")
    for label, generation in (
        ("job queued", world.queued),
        ("job running", running),
        ("job failed", world.failed),
        ("job blocked", blocked),
        ("job landscape", landscape),
    ):
        pages.append((label, generation.get_absolute_url()))
    rejected = Cameo.objects.create(
        owner=owner, kind=Cameo.Kind.PERSON, status=Cameo.Status.REJECTED,
        reasons=["We couldn't hear the numbers being read out."],
    )  # fmt: skip
    pages += [
        ("cameo active", world.cameo().get_absolute_url()),
        ("cameo rejected", rejected.get_absolute_url()),
        ("character", world.character.get_absolute_url()),
        ("remix form", f"{reverse('generation:create')}?remix={world.post('public').code}"),
        ("password change", reverse("account_change_password")),
        ("email", reverse("account_email")),
    ]
    return pages


ANONYMOUS_PAGES = [
    ("home", "/"),
    ("login", "/accounts/login/"),
    ("signup", "/accounts/signup/"),
    ("password reset", "/accounts/password/reset/"),
    ("verify", "/verify"),
]


# Controls on screen that a click would miss: another element (a flash message, a neighbour, the
# edge of a clipped feed card) sits on their centre. The sticky bars may cover scrolled content,
# but nothing in the feed card on screen, which is sized to fit between them.
COVERED_CONTROLS = """() => {
  const bars = [...document.querySelectorAll('.tabbar, .topbar')];
  const bad = [];
  for (const el of document.querySelectorAll('a[href], button, summary, input:not([type=hidden]), select, textarea')) {
    const r = el.getBoundingClientRect();
    if (r.width < 2 || r.height < 2 || !el.checkVisibility({visibilityProperty: true})) continue;
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    if (x < 0 || y < 0 || x >= innerWidth || y >= innerHeight) continue;
    const card = el.closest('.feed-item');
    if (card && card.getBoundingClientRect().bottom > innerHeight + 1) continue;  // the next card, scrolled under the bars
    const hit = document.elementFromPoint(x, y);
    if (!hit || el.contains(hit) || hit.contains(el) || hit.closest('label') === el.closest('label') && el.closest('label')) continue;
    if (!el.closest('.feed-item, .feed-tabs') && bars.some((bar) => bar.contains(hit))) continue;
    bad.push((el.textContent.trim() || el.getAttribute('aria-label') || el.tagName).slice(0, 30) + ' under ' + hit.outerHTML.slice(0, 90));
  }
  return bad.slice(0, 3);
}"""


def problems_on(page, label: str, width: int) -> list[str]:
    found = []
    results = axe.run(page, options=AXE_OPTIONS)
    for violation in results.response["violations"]:
        if violation["impact"] in ("serious", "critical"):
            targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:3]]
            found.append(f"{label} @{width}: {violation['id']} ({violation['impact']}) on {targets}")
    for covered in page.evaluate(COVERED_CONTROLS):
        found.append(f"{label} @{width}: {covered} is covered or clipped")
    if width < 500:
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        if overflow > 0:
            wide = page.evaluate(
                """() => [...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
                    .slice(0, 3).map(e => e.tagName + '.' + e.className)"""
            )
            found.append(f"{label} @{width}: scrolls sideways by {overflow}px ({wide})")
    return found


def sweep(chromium, live_site, pages, user=None, *, uploads=()) -> list[str]:
    """Check each page at both widths; `uploads` are (label, file name, bytes) sent to /verify,
    whose answer (a report or an error) is checked too."""
    found = []
    for viewport in (PHONE, DESKTOP):
        context = chromium.new_context(viewport=viewport)
        context.set_default_timeout(20_000)
        if user is not None:
            log_in(context, live_site, user)
        page = context.new_page()
        checked = set()
        for label, path in pages:
            response = page.goto(f"{live_site}{path}")
            assert response.ok, f"{label}: {path} answered {response.status}"
            if "text/html" not in response.headers.get("content-type", "") or page.url in checked:
                continue  # a file, or a redirect to a page already checked
            checked.add(page.url)
            found += problems_on(page, label, viewport["width"])
        for label, name, content in uploads:
            page.goto(f"{live_site}{reverse('provenance:verify')}")
            page.set_input_files(
                "input[type=file]", {"name": name, "mimeType": "video/mp4", "buffer": content}
            )
            page.get_by_role("button", name="Check").click()
            page.wait_for_load_state()
            found += problems_on(page, label, viewport["width"])
        context.close()
    return found


def test_every_page_is_accessible_and_fits_a_phone(
    live_site, chromium, make_user, make_generation, recording
):
    world = realistic_world(make_user, make_generation, recording)
    staff = make_user("staffer", is_staff=True)
    found = sweep(chromium, live_site, owner_pages(world), world.owner)
    public_pages = [
        *ANONYMOUS_PAGES,
        ("post", world.post("public").get_absolute_url()),
        ("profile", world.owner.get_absolute_url()),
        ("long profile", reverse("feed:profile", args=[LONG_HANDLE])),
    ]
    # /verify's two answers: a report (this clip was made here, so it names the post by its long
    # URL) and an error in words.
    clip = world.post("public").generation.video.read()
    uploads = [("verify report", "clip.mp4", clip), ("verify error", "notes.mp4", b"not a video" * 50)]
    found += sweep(chromium, live_site, public_pages, uploads=uploads)
    found += sweep(chromium, live_site, [("home as staff", "/")], staff)
    # A cameo being checked belongs to someone without a verified one (a person has one live cameo).
    pending = Cameo.objects.create(owner=world.stranger, kind=Cameo.Kind.PERSON, status=Cameo.Status.PENDING)
    found += sweep(chromium, live_site, [("cameo pending", pending.get_absolute_url())], world.stranger)
    assert found == [], "\n".join(found)
