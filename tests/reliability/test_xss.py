"""Web security beyond the matrix: XSS payloads in every user-written field render inert on every
page that shows them (the admin included, and in a real browser), CSRF on every state-changing
URL, secrets that can't be guessed and can't be used for anything but their one purpose, and
rate-limited login and signup.
"""

import math
import re

import pytest
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from accounts.forms import clean_handle_value
from accounts.models import ApiToken, Invite, User, handle_validator
from cameos.models import Cameo, Challenge
from feed import actions as feed_actions
from feed.models import Post
from generation.models import Generation
from moderation.actions import file_report
from tests.conftest import approve, generation_with, make_cameo, post_of
from tests.reliability.test_authorization import MATRIX

pytestmark = pytest.mark.django_db

PAYLOAD = '"><script>window.__xss=1</script><img src=x onerror=window.__xss=1>'
# For fields shorter than the payload (display name 50, character name and token name 60).
SHORT = '"><script>window.__xss=1</script>'
RAW = ("<script>window.__xss", "<img src=x onerror")
ESCAPED = "&lt;script&gt;window.__xss"


def assert_inert(body: str, where: str) -> None:
    for raw in RAW:
        assert raw not in body, f"unescaped {raw!r} on {where}"


@pytest.fixture
def xss(make_user, make_generation):
    """Everything people write, each field holding a payload.

    `author` wrote the post, comment, character and token; `owner` has a person cameo that the
    author used in a draft, reported the author's post and was notified of their comment.
    """
    author = make_user("xss_author", display_name=SHORT, bio=PAYLOAD)
    owner = make_user("cam_owner", display_name=SHORT)
    staff = make_user("root", is_staff=True, is_superuser=True)
    feed_actions.follow(author, owner)

    post = feed_actions.publish_post(
        make_generation(author, prompt=PAYLOAD), caption=PAYLOAD, visibility=Post.Visibility.PUBLIC
    )
    comment = feed_actions.add_comment(author, post, PAYLOAD)
    owners_post = post_of(make_generation(owner), caption="mine")
    feed_actions.add_comment(author, owners_post, PAYLOAD)  # notifies the owner

    character = make_cameo(author, kind=Cameo.Kind.CHARACTER, name=SHORT[:60], preferences=PAYLOAD)
    person = make_cameo(
        owner, permission=Cameo.Permission.APPROVED, preferences=PAYLOAD, restrictions=PAYLOAD
    )
    approve(person, author)
    draft = generation_with(author, [person], prompt=PAYLOAD)
    report = file_report(owner, post, "spam", PAYLOAD)
    token = ApiToken.issue(author, SHORT)[0]
    invite = Invite.objects.create(created_by=owner)
    return {
        "author": author,
        "owner": owner,
        "staff": staff,
        "post": post,
        "comment": comment,
        "character": character,
        "person": person,
        "draft": draft,
        "report": report,
        "token": token,
        "invite": invite,
    }


def test_a_handle_keeps_to_its_alphabet():
    for bad in (PAYLOAD, "<script>", 'a"b', "a b", "x" * 31):
        with pytest.raises(ValidationError):
            handle_validator(bad)
        with pytest.raises(ValidationError):
            clean_handle_value(bad)
    handle_validator("xss_author.script")  # the allowed part: letters, digits, '_' and '.'


# (viewer, url, shows a payload) for every site page where people's writing appears.
SITE_PAGES = [
    ("owner", lambda x: x["author"].get_absolute_url(), True),  # display name, bio
    ("owner", lambda x: reverse("feed:home"), True),  # card: caption, prompt, name
    ("owner", lambda x: x["post"].get_absolute_url(), True),  # caption, prompt, comments
    ("owner", lambda x: reverse("feed:notifications"), True),  # comment body, actor's name
    ("owner", lambda x: reverse("feed:followers", args=["cam_owner"]), True),  # follower's name
    ("owner", lambda x: x["person"].get_absolute_url(), True),  # preferences, the author's draft
    ("owner", lambda x: reverse("cameos:list"), False),  # the owner's cameo (no text of theirs)
    ("owner", lambda x: reverse("moderation:report", args=["post", x["post"].code]), False),
    ("owner", lambda x: reverse("moderation:report", args=["comment", x["comment"].code]), False),
    ("author", lambda x: reverse("feed:following"), False),  # the owner's plain post
    ("author", lambda x: reverse("generation:drafts"), False),  # posters only
    ("author", lambda x: x["draft"].get_absolute_url(), True),  # prompt
    ("author", lambda x: x["character"].get_absolute_url(), True),  # name, preferences
    ("author", lambda x: reverse("cameos:list"), True),  # the character and the shared cameo
    ("author", lambda x: reverse("api:tokens"), True),  # token name
    ("author", lambda x: reverse("accounts:edit_profile"), True),  # the form's values
    ("author", lambda x: reverse("generation:create"), True),  # the cameo picker's labels
    ("author", lambda x: f"{reverse('generation:create')}?remix={x['post'].code}", True),  # prefill
    ("staff", lambda x: x["post"].get_absolute_url(), True),
]


@pytest.mark.parametrize(
    "viewer, url, shown", SITE_PAGES, ids=[f"{i:02d}-{v}" for i, (v, _, _) in enumerate(SITE_PAGES)]
)
def test_site_pages_render_payloads_inert(xss, client, viewer, url, shown):
    client.force_login(xss[viewer])
    address = url(xss)
    response = client.get(address)
    assert response.status_code == 200, address
    body = response.content.decode()
    assert_inert(body, address)
    if shown:
        assert ESCAPED in body, f"{address} shows none of the payloads: the check proves nothing"


# Forms sent back with an error show what was typed: (viewer, route, args, data).
ECHOED = [
    (
        "owner",
        "moderation:report",
        lambda x: ["post", x["post"].code],
        {"reason": "nonsense", "note": PAYLOAD},
    ),
    (
        "author",
        "generation:create",
        lambda x: [],
        {"prompt": PAYLOAD, "seconds": "-1", "orientation": "portrait"},
    ),
    ("owner", "cameos:settings", lambda x: [x["person"].code], {"permission": "x", "preferences": PAYLOAD}),
    ("author", "accounts:edit_profile", lambda x: [], {"display_name": SHORT, "bio": PAYLOAD * 5}),
    ("author", "api:tokens", lambda x: [], {"name": PAYLOAD}),
    ("owner", "cameos:approve", lambda x: [x["person"].code], {"handle": SHORT}),
]


@pytest.mark.parametrize("viewer, route, args, data", ECHOED, ids=[e[1] for e in ECHOED])
def test_forms_sent_back_with_errors_render_what_was_typed_inert(xss, client, viewer, route, args, data):
    client.force_login(xss[viewer])
    response = client.post(reverse(route, args=args(xss)), data)
    assert response.status_code == 400
    body = response.content.decode()
    assert_inert(body, route)
    assert ESCAPED in body


def admin_pages(xss) -> list[str]:
    """The changelist of every registered model and the change form of its first row."""
    urls = []
    for model in admin.site._registry:
        opts = model._meta
        if not opts.managed:
            continue  # django_rq's dashboard entry: a link, not a table
        urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first.pk]))
    return urls


def test_admin_renders_payloads_inert(xss, client):
    client.force_login(xss["staff"])
    showing = []
    pages = admin_pages(xss)
    assert len(pages) > 30
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert_inert(body, url)
        if ESCAPED in body:
            showing.append(url)
    # The admin really displays what people wrote (so the check above can fail): users, posts,
    # comments, generations, cameos, tokens and the moderation case with the report's note.
    for name in ("user", "post", "comment", "generation", "cameo", "apitoken", "case"):
        assert any(f"/{name}/" in url for url in showing), f"no {name} page shows a payload"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_payloads_never_run_in_a_browser(live_site, page, xss):
    from django.test import Client

    client = Client()
    client.force_login(xss["owner"])
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_site}]
    )
    for path in (
        xss["author"].get_absolute_url(),
        xss["post"].get_absolute_url(),
        reverse("feed:notifications"),
        xss["person"].get_absolute_url(),
    ):
        page.goto(f"{live_site}{path}")
        page.wait_for_load_state("load")
        assert page.evaluate("typeof window.__xss") == "undefined", path
        # The CSP would stop an injected script; the DOM must not hold one to begin with.
        assert page.evaluate("[...document.scripts].some(s => s.text.includes('__xss'))") is False, path
        assert page.locator("img[onerror]").count() == 0, path
        assert "window.__xss=1" in page.content(), f"{path} shows none of the payloads"


# --- CSRF --------------------------------------------------------------------------------------

# Every state-changing request of the site's pages (the API authenticates by bearer token only,
# which a browser never sends by itself: see test_the_api_ignores_session_cookies).
STATE_CHANGING = sorted({(row.route, row.label) for row in MATRIX if row.method != "get" and not row.api})
ALLAUTH_POSTS = ["account_login", "account_signup", "account_logout", "account_change_password"]


@pytest.mark.parametrize(
    "route, label", STATE_CHANGING, ids=[f"{r}[{lbl}]" if lbl else r for r, lbl in STATE_CHANGING]
)
def test_every_state_changing_request_needs_a_csrf_token(world, route, label):
    row = next(r for r in MATRIX if r.route == route and r.label == label and r.method != "get")
    if row.setup:
        row.setup(world)
    url = reverse(row.route, args=row.args(world))
    data = row.data(world) if row.data else {}

    guarded = world.client("owner", csrf=True)
    response = guarded.post(url, data)

    assert response.status_code == 403, url
    assert b"CSRF" in response.content
    if row.effect is not None:
        assert not row.effect(world, world.owner), "changed without a CSRF token"


@pytest.mark.parametrize("route", ALLAUTH_POSTS)
def test_account_forms_need_a_csrf_token(user, route):
    client = Client(enforce_csrf_checks=True)
    if route in ("account_logout", "account_change_password"):
        client.force_login(user)
    response = client.post(reverse(route), {"login": "alice", "password": "pw-secret-123"})
    assert response.status_code == 403
    if route == "account_logout":
        assert "_auth_user_id" in client.session


def test_every_state_changing_route_is_in_the_csrf_list():
    posted = {route for route, _ in STATE_CHANGING}
    assert len(posted) >= 30
    # A route whose matrix rows are all GETs must not change anything on POST either.
    assert {"feed:seen", "feed:like", "cameos:upload", "moderation:download_my_data"} <= posted


def test_the_api_ignores_session_cookies(world):
    """A signed-in browser's cookies don't authenticate /v1/ (so a forged cross-site form can't
    use it): only a bearer token does."""
    client = world.client("owner")
    response = client.post("/v1/videos", {"prompt": "a cat"})
    assert response.status_code == 401
    assert not Generation.objects.filter(owner=world.owner).exists()


# --- unguessable, single-purpose secrets --------------------------------------------------------


def entropy_bits(samples: list[str]) -> float:
    """Bits of randomness of values like these: length × log2(alphabet), where the alphabet is
    the smallest standard one that covers every sample (an honest upper bound for random values)."""
    alphabets = [
        "0123456789abcdef",
        "abcdefghjkmnpqrstuvwxyz23456789",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
    ]
    joined = "".join(samples)
    alphabet = next(a for a in alphabets if set(joined) <= set(a))
    length = min(len(s) for s in samples)
    return length * math.log2(len(alphabet))


def sample(make, n=20) -> list[str]:
    values = [make() for _ in range(n)]
    assert len(set(values)) == n, "values repeat"
    return values


def raw_token(world) -> str:
    return ApiToken.issue(world.owner, "t")[1].removeprefix("sk-sora-")


SECRETS = {
    "api token": raw_token,
    "invite code": lambda w: Invite.objects.create(created_by=w.owner).code,
    "challenge nonce": lambda w: Challenge.objects.create(owner=w.owner, digits="1234", turns=["left"]).nonce,
    "draft (generation) code": lambda w: w.make_generation(w.owner).code,
    "cameo code": lambda w: make_cameo(w.owner, kind=Cameo.Kind.CHARACTER).code,
}
SHORT_CODES = {
    "post code": lambda w: post_of(w.make_generation(w.owner)).code,
    "comment code": lambda w: feed_actions.add_comment(w.owner, w.post("public"), "hi").code,
}


@pytest.mark.parametrize("name", list(SECRETS))
def test_secrets_carry_at_least_128_bits(world, name):
    values = sample(lambda: SECRETS[name](world), n=8)
    assert entropy_bits(values) >= 128, name


@pytest.mark.parametrize("name", list(SHORT_CODES))
def test_post_and_comment_codes_carry_at_least_128_bits(world, name):
    values = sample(lambda: SHORT_CODES[name](world), n=4)
    assert entropy_bits(values) >= 128, name


def test_media_urls_hold_only_unguessable_codes(world):
    """A draft's, a post's and a cameo's media URLs name them by code, never by a sequential id."""
    urls = [
        reverse("generation:media", args=[world.draft.code, "video"]),
        reverse("feed:media", args=[world.post("public").code, "video"]),
        reverse("cameos:media", args=[world.cameo().code, "reference", 0]),
        world.cameo().media.first().file.name,
    ]
    codes = [world.draft.code, world.post("public").code, world.cameo().code, world.cameo().code]
    for url, code in zip(urls, codes, strict=True):
        assert code in url
        pks = {str(world.draft.pk), str(world.post("public").pk), str(world.cameo().pk)}
        assert not pks & set(re.split(r"[/\-.]", url)), f"{url} names a row by its primary key"
    # Stored files sit outside the public media URL space: only the permission-checked views serve them.
    assert world.cameo().media.first().file.name.startswith("private/")
    assert world.draft.video.name.startswith("private/")


def test_each_secret_works_only_for_its_own_purpose(world, settings):
    """An API token isn't an invite code or a challenge; an invite code or a nonce isn't a token;
    a draft's code doesn't open a post or a cameo."""
    raw = ApiToken.issue(world.owner, "t")[1]
    invite = Invite.objects.create(created_by=world.owner)
    nonce = Challenge.objects.create(owner=world.owner, digits="1234", turns=["left"]).nonce

    for wrong in (invite.code, nonce, world.draft.code, world.owner.handle):
        response = Client().get("/v1/videos", headers={"Authorization": f"Bearer {wrong}"})
        assert response.status_code == 401, wrong
    settings.OPEN_SIGNUP = False
    signup = {
        "email": "new@example.com",
        "username": "newbie",
        "password1": "Long-pass-123!",
        "password2": "Long-pass-123!",
        "birth_date": "1990-01-01",
    }
    for wrong in (raw, raw.removeprefix("sk-sora-")[:32], nonce, world.draft.code):
        response = Client().post(reverse("account_signup"), {**signup, "invite_code": wrong})
        assert response.status_code == 200 and not User.objects.filter(handle="newbie").exists(), wrong
    owner = world.client("owner")
    for wrong in (raw[:32], invite.code):
        response = owner.post(reverse("cameos:upload"), {"challenge": wrong})
        assert response.status_code == 400
    for route, args in (("feed:post", [world.draft.code]), ("cameos:detail", [world.draft.code])):
        assert owner.get(reverse(route, args=args)).status_code == 404


# --- rate limits on login and signup -----------------------------------------------------------


def test_login_is_rate_limited_with_the_sites_own_limits(client, user, settings):
    from sora_site import settings as site_settings

    settings.ACCOUNT_RATE_LIMITS = site_settings.ACCOUNT_RATE_LIMITS  # "5/5m/key" failed per account
    statuses = []
    for _ in range(12):
        response = client.post(reverse("account_login"), {"login": "alice", "password": "wrong"})
        statuses.append(response.status_code)
    assert 429 in statuses or b"Too many failed login attempts" in response.content
    response = client.post(reverse("account_login"), {"login": "alice", "password": "pw-secret-123"})
    assert "_auth_user_id" not in client.session, "the account isn't locked for a while after a flood"


def test_signup_is_rate_limited_with_the_sites_own_limits(client, settings):
    from sora_site import settings as site_settings

    settings.ACCOUNT_RATE_LIMITS = site_settings.ACCOUNT_RATE_LIMITS  # "20/m/ip"
    statuses = [
        client.post(reverse("account_signup"), {"email": f"x{i}@example.com"}).status_code for i in range(25)
    ]
    assert statuses[:20].count(429) == 0
    assert statuses[-1] == 429
